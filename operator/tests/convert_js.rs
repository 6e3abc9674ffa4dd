//! `readyroll convert` on JavaScript ecosystem files, evaluated by node.
//! These tests need `node` on PATH and fail without it: CI installs it.

mod common;

use std::process::Command;

use common::{app, convert_err, convert_ok, run};
use readyroll::crd::{ExecMode, Instances};

#[test]
fn a_commonjs_ecosystem_is_evaluated_like_pm2_does() {
    let (apps, stderr) = convert_ok(&["ecosystem.config.js", "--image", "x:1"]);
    let names: Vec<_> = apps
        .iter()
        .filter_map(|a| a.metadata.name.as_deref())
        .collect();
    assert_eq!(names, ["web", "admin"]);
    let web = &app(&apps, "web").spec;
    assert_eq!(web.instances, Some(Instances::Count(2)));
    assert_eq!(web.exec_mode, Some(ExecMode::Cluster));
    assert_eq!(web.wait_ready, Some(true));
    assert_eq!(web.listen_timeout, Some(10_000));
    assert_eq!(web.kill_timeout, Some(3_000));
    // `interpreter: undefined` is simply not set, as for PM2.
    assert_eq!(app(&apps, "admin").spec.interpreter, None);
    // What the file printed is passed on, on stderr, not mixed into the Apps.
    assert!(stderr.contains("loading the ecosystem file"), "{stderr}");
}

#[test]
fn an_es_module_ecosystem_is_evaluated_too() {
    let (apps, _) = convert_ok(&["ecosystem.config.mjs", "--image", "x:1"]);
    let esm = &app(&apps, "esm").spec;
    assert_eq!(esm.instances, Some(Instances::PerCpu));
    assert_eq!(esm.kill_timeout, Some(2_000));
}

#[test]
fn the_files_own_errors_are_reported_in_nodes_words() {
    let stderr = convert_err(&["syntax-error.config.js", "--image", "x:1"]);
    assert!(
        stderr.starts_with("error: syntax-error.config.js: node could not load the file"),
        "{stderr}"
    );
    assert!(stderr.contains("syntax-error.config.js:2"), "{stderr}");
    assert!(stderr.contains("SyntaxError: Unexpected token"), "{stderr}");

    let stderr = convert_err(&["throws.config.js", "--image", "x:1"]);
    assert!(
        stderr.contains("Error: DATABASE_URL is not set"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("node:internal/"),
        "node's own stack frames are noise:\n{stderr}"
    );
}

#[test]
fn wrong_values_in_javascript_name_the_option() {
    let stderr = convert_err(&["wrong-types.config.cjs", "--image", "x:1"]);
    assert_eq!(
        stderr.lines().next(),
        Some(
            r#"error: wrong-types.config.cjs: apps[0].kill_timeout: expected milliseconds, got "soon""#
        )
    );
}

#[test]
fn without_node_the_error_says_what_to_do() {
    let run = run(Command::new(env!("CARGO_BIN_EXE_readyroll"))
        .args(["convert", "ecosystem.config.js", "--image", "x:1"])
        .env("PATH", "/nonexistent"));
    assert!(!run.success);
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.contains("`node` was not found on PATH"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("> ecosystem.json"), "{}", run.stderr);
}
