//! `readyroll convert` on YAML ecosystem files.

mod common;

use common::{app, convert_err, convert_ok, scratch_file};
use readyroll::crd::{ExecMode, Instances, MemorySize};

#[test]
fn a_yaml_ecosystem_converts_with_its_profile() {
    let (apps, stderr) =
        convert_ok(&["ecosystem.yaml", "--image", "shop:2", "--env", "production"]);
    assert_eq!(apps.len(), 2);
    // append_env_to_name: PM2 names the app web-production under --env production.
    let web = &app(&apps, "web-production").spec;
    assert_eq!(web.instances, Some(Instances::Count(4)));
    assert_eq!(web.exec_mode, Some(ExecMode::Cluster));
    assert_eq!(web.wait_ready, Some(true));
    assert_eq!(web.listen_timeout, Some(10_000));
    assert_eq!(web.kill_timeout, Some(5_000));
    assert_eq!(
        web.max_memory_restart,
        Some(MemorySize::parse("512M").unwrap())
    );
    assert_eq!(web.env["PORT"], "3000");
    assert_eq!(web.profile.as_deref(), Some("production"));
    let worker = &app(&apps, "worker").spec;
    assert_eq!(worker.args, ["--concurrency", "2"]);
    assert_eq!(worker.min_uptime, Some(60_000));
    assert_eq!(worker.cron_restart.as_deref(), Some("0 4 * * *"));
    assert_eq!(worker.profile, None);
    assert!(
        stderr.contains("ecosystem.yaml:17:5: apps[0] (web-production): ignored option 'merge_logs': containers log to stdout"),
        "{stderr}"
    );
}

#[test]
fn wrong_yaml_values_are_positioned() {
    let stderr = convert_err(&["wrong-types.yaml", "--image", "x:1"]);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines,
        [
            r#"error: wrong-types.yaml:4:19: apps[0].kill_timeout: expected milliseconds, got "soon""#,
            r#"error: wrong-types.yaml:5:16: apps[0].instances: expected a count or "max", got a list"#,
            "error: wrong-types.yaml: 2 problems; no App written",
        ]
    );
}

#[test]
fn a_yaml_syntax_error_is_positioned() {
    let stderr = convert_err(&["syntax-error.yaml", "--image", "x:1"]);
    assert!(
        stderr.starts_with("error: syntax-error.yaml:4:14: YAML: "),
        "{stderr}"
    );
}

#[test]
fn json_and_yaml_of_one_app_give_the_same_app() {
    let yaml = scratch_file(
        "done-when.yml",
        "apps:\n  - name: app-name\n    script: server\n    exec_mode: cluster\n    instances: 0\n    \
         wait_ready: true\n    listen_timeout: 10000\n    kill_timeout: 5000\n",
    );
    let (from_yaml, _) = convert_ok(&[&yaml, "--image", "x:1"]);
    let (from_json, _) = convert_ok(&["done-when.json", "--image", "x:1"]);
    assert_eq!(from_yaml.len(), 1);
    assert_eq!(from_yaml[0].metadata, from_json[0].metadata);
    assert_eq!(from_yaml[0].spec, from_json[0].spec);
}

#[test]
fn yaml_strings_are_not_numbers() {
    // A quoted "5000" is a string PM2 parses as a number; "yes" stays a string.
    let file = scratch_file(
        "strings.yaml",
        "name: web\nscript: a.js\nkill_timeout: \"5000\"\nwait_ready: yes\n",
    );
    let stderr = convert_err(&[&file, "--image", "x:1"]);
    assert!(
        stderr.contains(":4:13: wait_ready: expected true or false, got \"yes\""),
        "{stderr}"
    );
}
