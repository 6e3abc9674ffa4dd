//! Shared by the convert_* tests: run the real `readyroll` binary on a
//! fixture and read back what it printed.
// Each test file uses its own subset of these helpers.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

use readyroll::convert::is_dns_label;
use readyroll::crd::{App, Instances, MemorySize, MAX_DURATION_MS, MAX_INSTANCES};
use serde::Deserialize;

pub struct Run {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// `readyroll ARGS` run inside the fixtures directory, so file names in
/// messages are the bare fixture names.
pub fn readyroll(args: &[&str]) -> Run {
    run(Command::new(env!("CARGO_BIN_EXE_readyroll")).args(args))
}

pub fn run(command: &mut Command) -> Run {
    let output = command
        .current_dir(fixtures())
        .output()
        .expect("the readyroll binary runs");
    Run {
        success: output.status.success(),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

/// Runs a conversion that must succeed and returns the Apps it printed,
/// each checked against the CRD's rules.
pub fn convert_ok(args: &[&str]) -> (Vec<App>, String) {
    let mut full = vec!["convert"];
    full.extend_from_slice(args);
    let run = readyroll(&full);
    assert!(run.success, "readyroll {full:?} failed:\n{}", run.stderr);
    let apps = parse_apps(&run.stdout);
    apps.iter().for_each(assert_valid_for_crd);
    (apps, run.stderr)
}

/// Runs a conversion that must fail: nothing on stdout, problems on stderr.
pub fn convert_err(args: &[&str]) -> String {
    let mut full = vec!["convert"];
    full.extend_from_slice(args);
    let run = readyroll(&full);
    assert!(
        !run.success,
        "readyroll {full:?} should fail:\n{}",
        run.stdout
    );
    assert_eq!(
        run.stdout, "",
        "nothing may be printed on stdout when a file has errors"
    );
    run.stderr
}

/// The YAML documents of `readyroll convert`, read as the operator will.
pub fn parse_apps(yaml: &str) -> Vec<App> {
    serde_yaml::Deserializer::from_str(yaml)
        .map(|doc| App::deserialize(doc).expect("every document is an App"))
        .collect()
}

/// The raw YAML documents, for asserting on what exactly is written.
pub fn parse_docs(yaml: &str) -> Vec<serde_yaml::Value> {
    serde_yaml::Deserializer::from_str(yaml)
        .map(|doc| serde_yaml::Value::deserialize(doc).expect("valid YAML"))
        .collect()
}

/// The CRD's schema and CEL rules that can be checked without an API server.
pub fn assert_valid_for_crd(app: &App) {
    let name = app.metadata.name.as_deref().expect("metadata.name");
    assert!(is_dns_label(name), "metadata.name {name:?}");
    let spec = &app.spec;
    assert!(!spec.image.trim().is_empty(), "{name}: image");
    if let Some(script) = &spec.script {
        assert!(!script.is_empty(), "{name}: script");
    }
    if let Some(i) = spec.instances {
        assert!(i.as_pm2().abs() <= MAX_INSTANCES, "{name}: instances {i}");
        assert_eq!(Instances::from_pm2(i64::from(i.as_pm2())), Ok(i));
    }
    for ms in [spec.listen_timeout, spec.kill_timeout, spec.min_uptime]
        .into_iter()
        .flatten()
    {
        assert!((0..=MAX_DURATION_MS).contains(&ms), "{name}: {ms}");
    }
    if let Some(n) = spec.max_restarts {
        assert!((0..=1_000_000).contains(&n), "{name}: maxRestarts {n}");
    }
    if let Some(m) = &spec.max_memory_restart {
        assert_eq!(
            MemorySize::parse(&m.to_string()).as_ref(),
            Ok(m),
            "{name}: maxMemoryRestart"
        );
    }
    if let Some(cron) = &spec.cron_restart {
        assert!(!cron.trim().is_empty(), "{name}: cronRestart");
    }
    if let Some(port) = spec.port {
        assert!((1..=65535).contains(&port), "{name}: port {port}");
    }
    if let Some(profile) = &spec.profile {
        assert!(
            spec.env_profiles.contains_key(profile),
            "{name}: profile {profile}"
        );
    }
}

pub fn app<'a>(apps: &'a [App], name: &str) -> &'a App {
    apps.iter()
        .find(|a| a.metadata.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no App named {name}"))
}

/// Writes an ecosystem file for one test under Cargo's scratch directory
/// and returns its absolute path.
pub fn scratch_file(name: &str, content: &str) -> String {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("convert");
    std::fs::create_dir_all(&dir).expect("scratch directory");
    let path = dir.join(name);
    std::fs::write(&path, content).expect("scratch file written");
    path.to_string_lossy().into_owned()
}
