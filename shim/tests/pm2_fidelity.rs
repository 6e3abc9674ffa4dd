//! PM2's behaviours the shim carries into the pod, through the real binary
//! and Node: script resolution, treekill, the instance index and
//! max_memory_restart.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use common::*;
use nix::sys::signal::Signal;
use readyroll_shim_contract::{MEMORY_RESTART_EXIT_CODE, MEMORY_RESTART_PREFIX};

const SECOND: Duration = Duration::from_secs(1);

fn copy_fixture(to: &Path, mode: u32) {
    fs::copy(app_js(), to).expect("copy the fixture");
    fs::set_permissions(to, fs::Permissions::from_mode(mode)).expect("chmod");
}

fn path_with(dir: &Path) -> String {
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

#[test]
fn a_js_file_named_server_without_extension_runs_with_node() {
    // PM2's canonical example: "script": "server".
    let builder = ShimBuilder::new("script-server");
    let dir = builder.dir().to_path_buf();
    copy_fixture(&dir.join("server"), 0o644);
    let shim = builder
        .flag(&format!("--cwd={}", dir.display()))
        .flag("--script=server")
        .flag("--wait-ready")
        .env("READY_AFTER_MS", "0")
        .no_command()
        .spawn();
    shim.wait_started();
    let started = shim.started_line().unwrap_or_default();
    assert!(started.contains("ipc=true"), "{started}");
    shim.wait_for_ready_status(200, 5 * SECOND).expect("ready");
    assert!(
        shim.wait_for_stderr(&format!("node {}/server", dir.display()), 5 * SECOND),
        "{}",
        shim.stderr()
    );
}

#[test]
fn a_bare_command_found_on_path_runs_with_node() {
    // Like `"script": "npm"`, which PM2 runs as `node /usr/bin/npm`.
    let builder = ShimBuilder::new("script-path");
    let bin = builder.dir().join("bin");
    fs::create_dir_all(&bin).expect("mkdir");
    copy_fixture(&bin.join("my-app"), 0o755);
    let mut shim = builder
        .flag("--script=my-app")
        .env("PATH", &path_with(&bin))
        .no_command()
        .spawn();
    shim.wait_started();
    assert!(
        shim.wait_for_stderr(&format!("node {}/my-app", bin.display()), 5 * SECOND),
        "started with node: {}",
        shim.stderr()
    );
    shim.signal(Signal::SIGTERM);
    assert_eq!(shell_code(shim.wait_exit(5 * SECOND)), 0);
}

#[test]
fn a_missing_script_fails_naming_every_path_tried() {
    let builder = ShimBuilder::new("script-missing");
    let dir = builder.dir().to_path_buf();
    let mut shim = builder
        .flag(&format!("--cwd={}", dir.display()))
        .flag("--script=nowhere")
        .env("PATH", "/nonexistent-a:/nonexistent-b")
        .no_command()
        .spawn();
    assert_eq!(shell_code(shim.wait_exit(5 * SECOND)), 127);
    // stderr is collected by a thread that may lag behind the exit.
    assert!(shim.wait_for_stderr("not found", 5 * SECOND));
    let text = shim.stderr();
    for tried in [
        format!("{}/nowhere", dir.display()),
        "/nonexistent-a/nowhere".to_string(),
        "/nonexistent-b/nowhere".to_string(),
    ] {
        assert!(text.contains(&tried), "{tried} not named: {text}");
    }
}

#[test]
fn shell_scripts_run_with_bash_or_directly_with_interpreter_none() {
    for (name, interpreter) in [("run.sh", None), ("run-none", Some("none"))] {
        let builder = ShimBuilder::new(&format!("script-{name}"));
        let dir = builder.dir().to_path_buf();
        let script = dir.join(name);
        // Under bash, $BASH_VERSION is set; run directly, /bin/sh decides.
        fs::write(
            &script,
            "#!/bin/sh\necho \"$0 ${BASH_VERSION:+bash}\" > \"$MARKER\"\n",
        )
        .expect("write");
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).expect("chmod");
        let mut builder = builder
            .flag(&format!("--cwd={}", dir.display()))
            .flag(&format!("--script={name}"))
            .no_command();
        if let Some(i) = interpreter {
            builder = builder.flag(&format!("--interpreter={i}"));
        }
        let mut shim = builder.spawn();
        assert_eq!(shell_code(shim.wait_exit(5 * SECOND)), 0, "{name}");
        let line = shim.marker_lines().join("");
        if interpreter.is_none() {
            assert!(line.ends_with(" bash"), "{name} under bash: {line}");
        }
        assert!(line.contains(name), "{line}");
    }
}

#[test]
fn without_treekill_only_the_main_process_gets_the_stop_signal() {
    let mut shim = ShimBuilder::new("no-treekill")
        .env("SPAWN_CHILDREN", "1")
        .env("ON_SIGINT", "exit:0:1000")
        .flag("--no-treekill")
        .flag("--kill-timeout-ms=5000")
        .spawn();
    let children = wait_for(10 * SECOND, || {
        let pids = shim.child_pids();
        (pids.len() == 2).then_some(pids)
    })
    .expect("children reported");
    shim.wait_started();
    shim.signal(Signal::SIGTERM);
    assert!(shim.wait_for_marker("SIGINT", 5 * SECOND));
    std::thread::sleep(SECOND / 2);
    for &pid in &children {
        assert!(
            matches!(proc_state(pid), Some((s, _)) if s != 'Z'),
            "child {pid} was signalled though treekill is off"
        );
    }
    assert_eq!(shell_code(shim.wait_exit(5 * SECOND)), 0);
    // Nothing outlives the app, whatever treekill says.
    for pid in children {
        assert_eq!(proc_state(pid), None, "child {pid} outlived the app");
    }
}

#[test]
fn the_instance_index_and_increment_var_reach_the_app() {
    let builder = ShimBuilder::new("instance");
    let file = builder.dir().join("instance");
    fs::write(&file, "2").expect("write");
    let shim = builder
        .flag(&format!("--instance-file={}", file.display()))
        .flag("--increment-var=PORT")
        .env("PORT", "3000")
        .env("REPORT_ENV", "NODE_APP_INSTANCE,PORT")
        .spawn();
    shim.wait_started();
    let lines = shim.marker_lines();
    assert!(
        lines.contains(&"env NODE_APP_INSTANCE=2".to_string()),
        "{lines:?}"
    );
    assert!(lines.contains(&"env PORT=3002".to_string()), "{lines:?}");
}

#[test]
fn an_instance_file_written_late_is_waited_for() {
    let builder = ShimBuilder::new("instance-late");
    let file = builder.dir().join("instance");
    fs::write(&file, "").expect("write");
    let writer = {
        let file = file.clone();
        std::thread::spawn(move || {
            std::thread::sleep(SECOND / 2);
            fs::write(&file, "1\n").expect("write");
        })
    };
    let shim = builder
        .flag(&format!("--instance-file={}", file.display()))
        .flag("--instance-var=INSTANCE_ID")
        .env("REPORT_ENV", "INSTANCE_ID,NODE_APP_INSTANCE")
        .spawn();
    // The probe answers while the shim waits: alive, not ready.
    let answered = wait_for(SECOND / 3, || {
        (http_get(shim.probe_port, "/live").map(|r| r.0) == Some(200)).then_some(())
    });
    assert!(answered.is_some(), "no probe answer during the wait");
    assert_eq!(ready_status(shim.probe_port), Some(503));
    assert!(shim.started_line().is_none(), "the app waits for its index");
    shim.wait_started();
    writer.join().expect("writer");
    let lines = shim.marker_lines();
    assert!(
        lines.contains(&"env INSTANCE_ID=1".to_string()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"env NODE_APP_INSTANCE unset".to_string()),
        "{lines:?}"
    );
}

#[test]
fn without_an_instance_file_the_app_starts_after_the_wait_with_a_warning() {
    let builder = ShimBuilder::new("instance-missing");
    let file = builder.dir().join("absent");
    let shim = builder
        .flag(&format!("--instance-file={}", file.display()))
        .flag("--listen-timeout-ms=300")
        .env("REPORT_ENV", "NODE_APP_INSTANCE")
        .spawn();
    shim.wait_started();
    assert!(shim
        .marker_lines()
        .contains(&"env NODE_APP_INSTANCE unset".to_string()));
    assert!(shim.wait_for_stderr("warning: no instance index after 300 ms", 5 * SECOND));
}

#[test]
fn above_max_memory_the_app_is_drained_stopped_and_the_exit_documented() {
    let builder = ShimBuilder::new("memory-restart");
    let log = builder.dir().join("termination-log");
    let mut shim = builder
        .env("ALLOC_MB", "120")
        .env("ON_SIGINT", "exit:0:0")
        .flag(&format!("--max-memory-bytes={}", 100 << 20))
        .flag("--memory-interval-ms=100")
        .flag("--drain-ms=600")
        .flag(&format!("--termination-log={}", log.display()))
        .spawn();
    shim.wait_started();
    // Readiness goes off first, and the app is not told to stop yet.
    let off = shim
        .wait_for_ready_status(503, 10 * SECOND)
        .expect("/ready turns 503");
    assert_eq!(
        http_get(shim.probe_port, "/ready").map(|r| r.1),
        Some("stopping\n".to_string())
    );
    assert!(
        !shim.marker_lines().contains(&"SIGINT".to_string()),
        "drain first"
    );
    assert!(
        shim.wait_for_marker("SIGINT", 5 * SECOND),
        "then the stop signal"
    );
    let drained = off.elapsed();
    assert_eq!(
        shell_code(shim.wait_exit(5 * SECOND)),
        MEMORY_RESTART_EXIT_CODE
    );
    eprintln!("memory restart: stop signal {drained:?} after /ready turned 503");
    let message = fs::read_to_string(&log).expect("termination message written");
    let first = message.lines().next().unwrap_or_default();
    assert!(first.starts_with(MEMORY_RESTART_PREFIX), "{message}");
    assert!(
        first.contains(&format!("threshold_bytes={}", 100 << 20)),
        "{first}"
    );
}

#[test]
fn below_max_memory_nothing_happens() {
    let builder = ShimBuilder::new("memory-below");
    let log = builder.dir().join("termination-log");
    let shim = builder
        .flag(&format!("--max-memory-bytes={}", 4u64 << 30))
        .flag("--memory-interval-ms=50")
        .flag(&format!("--termination-log={}", log.display()))
        .spawn();
    shim.wait_started();
    std::thread::sleep(SECOND / 2);
    assert_eq!(ready_status(shim.probe_port), Some(200));
    assert!(!log.exists());
}
