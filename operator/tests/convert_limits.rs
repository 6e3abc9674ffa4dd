//! `readyroll convert` on hostile input: bounded work, clear errors, and
//! nothing the operator would refuse later.

mod common;

use std::time::{Duration, Instant};

use common::{convert_err, convert_ok, readyroll, scratch_file};

#[test]
fn deeply_nested_yaml_is_an_error_not_a_crash() {
    // 14 KB: 7,000 nested block sequences.
    let file = scratch_file("deep.yaml", &("- ".repeat(7000) + "x\n"));
    let run = readyroll(&["convert", &file, "--image", "x:1"]);
    assert!(!run.success);
    assert!(
        run.stderr
            .contains(":1:129: YAML: nested more than 64 levels deep here"),
        "{}",
        run.stderr
    );
    let file = scratch_file("deep-flow.yaml", &("[".repeat(7000) + &"]".repeat(7000)));
    let stderr = convert_err(&[&file, "--image", "x:1"]);
    assert!(stderr.starts_with("error: "), "{stderr}");
}

#[test]
fn deeply_nested_json_is_an_error_with_its_position() {
    let file = scratch_file("deep.json", &("[".repeat(7000) + &"]".repeat(7000)));
    let stderr = convert_err(&[&file, "--image", "x:1"]);
    assert!(
        stderr.contains(":1:65: nested more than 64 levels deep here"),
        "{stderr}"
    );
}

#[test]
fn huge_unknown_keys_cost_little_and_are_not_echoed_whole() {
    let key = "k".repeat(1 << 20);
    let apps: Vec<String> = (0..5)
        .map(|i| format!(r#"{{"name": "a{i}", "script": "a.js", "{key}{i}": 1}}"#))
        .collect();
    let file = scratch_file("huge-keys.json", &format!("[{}]", apps.join(",")));
    let started = Instant::now();
    let (apps, stderr) = convert_ok(&[&file, "--image", "x:1"]);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(apps.len(), 5);
    assert_eq!(stderr.lines().count(), 5, "one warning per key");
    assert!(stderr.len() < 5_000, "keys are cut in messages");
    assert!(
        stderr.contains("(1048577 characters)"),
        "{}",
        &stderr[..300]
    );
}

#[test]
fn env_names_the_operator_refuses_are_refused_by_convert() {
    let file = scratch_file(
        "env-names.json",
        r#"{"apps": [{"name": "web", "script": "a.js",
            "env": {"MY VAR": "1", "1X": "2", "$(id)": "3", "GOOD_1": "4"},
            "env_production": {"also bad": "5"}}]}"#,
    );
    let stderr = convert_err(&[&file, "--image", "x:1"]);
    for bad in [
        r#"apps[0] (web): env: "MY VAR" is not a valid environment variable name"#,
        r#"apps[0] (web): env: "1X" is not a valid environment variable name"#,
        r#"apps[0] (web): env: "$(id)" is not a valid environment variable name"#,
        r#"apps[0] (web): env_production: "also bad" is not a valid environment variable name"#,
    ] {
        assert!(stderr.contains(bad), "missing {bad:?} in:\n{stderr}");
    }
    assert!(!stderr.contains("GOOD_1"), "{stderr}");
}
