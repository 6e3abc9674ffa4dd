//! `readyroll convert` on JSON ecosystem files: the PM2 contract carried
//! over exactly, positioned errors, the shapes PM2 accepts.

mod common;

use common::{app, convert_err, convert_ok, parse_docs, readyroll, scratch_file};
use readyroll::crd::{ExecMode, Instances};

#[test]
fn the_pm2_zero_downtime_example_converts_one_to_one() {
    let (apps, stderr) = convert_ok(&["done-when.json", "--image", "registry.example.com/app:1"]);
    assert_eq!(stderr, "", "a plain PM2 app converts without remarks");
    assert_eq!(apps.len(), 1);
    let spec = &app(&apps, "app-name").spec;
    assert_eq!(spec.image, "registry.example.com/app:1");
    assert_eq!(spec.script.as_deref(), Some("server"));
    assert_eq!(spec.exec_mode, Some(ExecMode::Cluster));
    assert_eq!(spec.instances, Some(Instances::PerCpu));
    assert_eq!(spec.wait_ready, Some(true));
    assert_eq!(spec.listen_timeout, Some(10_000));
    assert_eq!(spec.kill_timeout, Some(5_000));

    // And the YAML carries PM2's own numbers, not a translation of them.
    let run = readyroll(&[
        "convert",
        "done-when.json",
        "--image",
        "registry.example.com/app:1",
    ]);
    let docs = parse_docs(&run.stdout);
    let yaml_spec = &docs[0]["spec"];
    assert_eq!(yaml_spec["instances"], serde_yaml::Value::from(0));
    assert_eq!(yaml_spec["waitReady"], serde_yaml::Value::from(true));
    assert_eq!(yaml_spec["listenTimeout"], serde_yaml::Value::from(10_000));
    assert_eq!(yaml_spec["killTimeout"], serde_yaml::Value::from(5_000));
    assert_eq!(yaml_spec["execMode"], serde_yaml::Value::from("cluster"));
    assert_eq!(
        docs[0]["apiVersion"],
        serde_yaml::Value::from("readyroll.dev/v1alpha1")
    );
    assert_eq!(docs[0]["kind"], serde_yaml::Value::from("App"));
}

#[test]
fn a_json_syntax_error_names_its_line_and_column() {
    let stderr = convert_err(&["syntax-error.json", "--image", "x"]);
    let first = stderr.lines().next().unwrap_or_default();
    // Line 6, column 7: the quote of "instances" where a comma was missing.
    assert!(
        first.starts_with("error: syntax-error.json:6:7: expected ',' or '}', got '\"'"),
        "{first}"
    );
    assert!(
        first.contains("SyntaxError"),
        "node's verdict is added: {first}"
    );
}

#[test]
fn wrong_values_are_reported_at_their_position_and_nothing_is_printed() {
    let stderr = convert_err(&["wrong-types.json", "--image", "x"]);
    let lines: Vec<&str> = stderr.lines().collect();
    for expected in [
        r#"error: wrong-types.json:6:20: apps[0].instances: expected a count or "max", got true"#,
        r#"error: wrong-types.json:7:23: apps[0].kill_timeout: expected milliseconds, got "soon""#,
        r#"error: wrong-types.json:14:25: apps[1].listen_timeout: -1 is out of range: expected 0 to 86400000 (milliseconds)"#,
        r#"error: wrong-types.json:16:21: apps[1].wait_ready: expected true or false, got "yes""#,
        r#"error: wrong-types.json:17:30: apps[1] (worker-1): env: "A=B" is not a valid environment variable name (letters, digits, '_', '-' and '.', not starting with a digit; the operator refuses any other)"#,
        "error: wrong-types.json: 8 problems; no App written",
    ] {
        assert!(
            lines.contains(&expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
    for (prefix, detail) in [
        (
            "warning: wrong-types.json:10:15: apps[1].name: \"Worker_1\" becomes \"worker-1\"",
            "a Kubernetes name must use lowercase letters",
        ),
        (
            "error: wrong-types.json:12:29: apps[1].max_memory_restart: \"300MB\"",
            "e.g. \"300M\"",
        ),
        (
            "error: wrong-types.json:13:21: apps[1].min_uptime: ",
            "\"10d\"",
        ),
        (
            "error: wrong-types.json:15:20: apps[1].exec_mode: ",
            "\"cluster-mode\"",
        ),
    ] {
        let line = lines.iter().find(|l| l.starts_with(prefix));
        assert!(
            line.is_some_and(|l| l.contains(detail)),
            "no line {prefix:?} mentioning {detail:?} in:\n{stderr}"
        );
    }
}

#[test]
fn every_app_of_the_file_becomes_an_app_document() {
    let (apps, _) = convert_ok(&["all-options.json", "--image", "base:1"]);
    let names: Vec<_> = apps
        .iter()
        .filter_map(|a| a.metadata.name.as_deref())
        .collect();
    assert_eq!(names, ["api", "worker"]);
}

#[test]
fn pm2_file_shapes_are_all_accepted() {
    // A list of apps; the second one is named after its script, as PM2 does.
    let (apps, _) = convert_ok(&["app-list.json", "--image", "x:1"]);
    let names: Vec<_> = apps
        .iter()
        .filter_map(|a| a.metadata.name.as_deref())
        .collect();
    assert_eq!(names, ["one", "two"]);
    // One app object on its own.
    let (apps, _) = convert_ok(&["single-app.json", "--image", "x:1"]);
    assert_eq!(apps.len(), 1);
    assert_eq!(app(&apps, "solo").spec.instances, Some(Instances::Count(2)));
    // `apps` holding one object instead of a list, and PM2's older `pm2` key.
    for text in [
        r#"{"apps": {"name": "lone", "script": "a.js"}}"#,
        r#"{"pm2": [{"name": "lone", "script": "a.js"}]}"#,
    ] {
        let file = scratch_file("shape.json", text);
        let (apps, _) = convert_ok(&[&file, "--image", "x:1"]);
        assert_eq!(app(&apps, "lone").spec.script.as_deref(), Some("a.js"));
    }
}

#[test]
fn namespace_and_image_come_from_the_command_line() {
    let (apps, _) = convert_ok(&["done-when.json", "--image", "x:1", "--namespace", "shop"]);
    assert_eq!(apps[0].metadata.namespace.as_deref(), Some("shop"));
    let (apps, _) = convert_ok(&["done-when.json", "--image", "x:1"]);
    assert_eq!(apps[0].metadata.namespace, None);

    let stderr = convert_err(&["done-when.json", "--image", "x:1", "-n", "Shop"]);
    assert!(
        stderr.contains("--namespace \"Shop\" is not a valid namespace"),
        "{stderr}"
    );
    let stderr = convert_err(&["done-when.json", "--image", " "]);
    assert!(stderr.contains("--image must not be empty"), "{stderr}");
}

#[test]
fn an_app_without_an_image_is_an_error_naming_it() {
    let stderr = convert_err(&["app-list.json"]);
    assert!(
        stderr.contains("error: app-list.json:2:3: [0] (one): no container image: pass --image IMAGE, or add \"image\": \"...\" to this app"),
        "{stderr}"
    );
    assert!(
        stderr.contains("error: app-list.json:3:3: [1] (two): no container image"),
        "{stderr}"
    );
    assert!(stderr.contains("2 problems"), "{stderr}");
}

#[test]
fn an_apps_own_image_key_wins_over_the_flag() {
    let (apps, _) = convert_ok(&["all-options.json", "--image", "base:1"]);
    assert_eq!(app(&apps, "api").spec.image, "registry.example.com/api:3");
    assert_eq!(app(&apps, "worker").spec.image, "base:1");
    // With every app carrying its own image, --image is not needed.
    let file = scratch_file(
        "own-image.json",
        r#"[{"name": "a", "script": "a.js", "image": "a:1"}]"#,
    );
    let (apps, _) = convert_ok(&[&file]);
    assert_eq!(apps[0].spec.image, "a:1");
}

#[test]
fn env_selects_a_pm2_profile() {
    let (apps, stderr) = convert_ok(&[
        "all-options.json",
        "--image",
        "base:1",
        "--env",
        "production",
    ]);
    let api = &app(&apps, "api").spec;
    assert_eq!(api.profile.as_deref(), Some("production"));
    assert_eq!(api.env_profiles["production"]["NODE_ENV"], "production");
    assert_eq!(app(&apps, "worker").spec.profile, None);
    assert!(
        stderr.contains(
            "warning: all-options.json:31:5: apps[1] (worker): has no env_production; its env is used as is"
        ),
        "{stderr}"
    );
    // Without --env, no profile is selected but the blocks are kept.
    let (apps, _) = convert_ok(&["all-options.json", "--image", "base:1"]);
    assert_eq!(app(&apps, "api").spec.profile, None);
    assert!(app(&apps, "api")
        .spec
        .env_profiles
        .contains_key("production"));
    // A profile no app defines is reported, and PM2 goes on: so does convert.
    let (apps, stderr) = convert_ok(&["all-options.json", "--image", "base:1", "--env", "staging"]);
    assert_eq!(apps.len(), 2);
    assert!(
        stderr.contains("warning: all-options.json: --env staging: no app defines env_staging"),
        "{stderr}"
    );
}

#[test]
fn two_apps_with_one_name_are_numbered() {
    let file = scratch_file(
        "same-name.json",
        "[\n  {\"name\": \"web\", \"script\": \"a.js\"},\n  {\"name\": \"Web\", \"script\": \"b.js\"}\n]\n",
    );
    let (apps, stderr) = convert_ok(&[&file, "--image", "x:1"]);
    assert_eq!(app(&apps, "web").spec.script.as_deref(), Some("a.js"));
    assert_eq!(app(&apps, "web-2").spec.script.as_deref(), Some("b.js"));
    assert!(
        stderr.contains(":3:12: [1].name: \"web\" is already the name of another app; this one becomes \"web-2\""),
        "{stderr}"
    );
}

#[test]
fn unsupported_files_and_missing_files_are_clear_errors() {
    let run = readyroll(&["convert", "ecosystem.toml", "--image", "x"]);
    assert!(!run.success);
    assert!(
        run.stderr.contains("ecosystem.toml: unsupported file type"),
        "{}",
        run.stderr
    );
    let run = readyroll(&["convert", "missing.json", "--image", "x"]);
    assert!(!run.success);
    assert!(
        run.stderr.contains("cannot read missing.json"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "");
}
