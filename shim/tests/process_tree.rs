//! Nothing outlives the app, and orphans are reaped, as PID 1 and otherwise.

mod common;

use std::time::Duration;

use common::*;
use nix::sys::signal::Signal;

const SECOND: Duration = Duration::from_secs(1);

fn reported_children(shim: &Shim) -> Vec<i32> {
    wait_for(10 * SECOND, || {
        let pids = shim.child_pids();
        (pids.len() == 2).then_some(pids)
    })
    .unwrap_or_else(|| {
        panic!(
            "app did not report its children; stderr:\n{}",
            shim.stderr()
        )
    })
}

#[test]
fn children_die_with_the_app_on_stop() {
    let mut shim = ShimBuilder::new("children-stop")
        .env("SPAWN_CHILDREN", "1")
        .spawn();
    let children = reported_children(&shim);
    shim.wait_started();
    for &pid in &children {
        assert!(
            matches!(proc_state(pid), Some((s, _)) if s != 'Z'),
            "child {pid} should run"
        );
    }
    // The app exits on SIGINT without touching its children.
    shim.signal(Signal::SIGTERM);
    assert_eq!(shell_code(shim.wait_exit(5 * SECOND)), 0);
    for pid in children {
        assert_eq!(proc_state(pid), None, "child {pid} outlived the app");
    }
}

#[test]
fn children_die_when_the_app_exits_on_its_own() {
    let mut shim = ShimBuilder::new("children-exit")
        .env("SPAWN_CHILDREN", "1")
        .env("EXIT_AFTER_MS", "500")
        .env("EXIT_CODE", "6")
        .spawn();
    let children = reported_children(&shim);
    assert_eq!(shell_code(shim.wait_exit(10 * SECOND)), 6);
    for pid in children {
        assert_eq!(proc_state(pid), None, "child {pid} outlived the app");
    }
}

/// The app leaves an orphaned `sleep 1`; it must be re-parented to the shim
/// (PID 1 or subreaper) and reaped when it exits, never left a zombie.
fn assert_orphan_reaped(shim: &Shim, shim_pid: i32) {
    assert!(
        shim.wait_for_marker("orphaned", 10 * SECOND),
        "stderr:\n{}",
        shim.stderr()
    );
    let orphan = wait_for(5 * SECOND, || {
        children_of(shim_pid)
            .into_iter()
            .find(|(_, _, name)| name == "sleep")
    });
    let (orphan_pid, _, _) = orphan.expect("the orphan was re-parented to the shim");
    let gone = wait_for(5 * SECOND, || {
        proc_state(orphan_pid).is_none().then_some(())
    });
    assert!(
        gone.is_some(),
        "orphan {orphan_pid} not reaped: {:?}",
        proc_state(orphan_pid)
    );
    let zombies: Vec<_> = children_of(shim_pid)
        .into_iter()
        .filter(|c| c.1 == 'Z')
        .collect();
    assert!(
        zombies.is_empty(),
        "zombies left under the shim: {zombies:?}"
    );
}

#[test]
fn orphans_are_reaped_when_the_shim_is_pid_1() {
    let mut shim = ShimBuilder::new("pid1")
        .wrapped_in(&["unshare", "--pid", "--fork", "--kill-child"])
        .env("ORPHAN", "1")
        .spawn();
    // unshare forks the shim into the new PID namespace: it is unshare's child.
    let unshare_pid = shim.pid().as_raw();
    // A new PID namespace needs root (or CAP_SYS_ADMIN).
    let shim_pid = wait_for(5 * SECOND, || children_of(unshare_pid).first().map(|c| c.0))
        .unwrap_or_else(|| panic!("shim did not start under unshare:\n{}", shim.stderr()));
    assert!(
        shim.wait_for_marker("orphaned", 10 * SECOND),
        "stderr:\n{}",
        shim.stderr()
    );
    shim.wait_started();
    let started = shim.started_line().unwrap_or_default();
    assert!(
        started.contains(" ppid=1 "),
        "the shim is not PID 1: {started}"
    );

    assert_orphan_reaped(&shim, shim_pid);

    nix::sys::signal::kill(nix::unistd::Pid::from_raw(shim_pid), Signal::SIGTERM).expect("SIGTERM");
    assert_eq!(shell_code(shim.wait_exit(5 * SECOND)), 0);
}

#[test]
fn orphans_are_reaped_when_the_shim_is_not_pid_1() {
    let mut shim = ShimBuilder::new("subreaper").env("ORPHAN", "1").spawn();
    let shim_pid = shim.pid().as_raw();
    assert_orphan_reaped(&shim, shim_pid);
    shim.signal(Signal::SIGTERM);
    assert_eq!(shell_code(shim.wait_exit(5 * SECOND)), 0);
}

#[test]
fn the_stop_signal_reaches_the_apps_children_too() {
    // PM2's default `treekill` signals every process of the app. The app takes
    // its time to exit; its `sleep` children die from SIGINT meanwhile.
    let mut shim = ShimBuilder::new("tree-signal")
        .env("SPAWN_CHILDREN", "1")
        .env("ON_SIGINT", "exit:0:1500")
        .flag("--kill-timeout-ms=5000")
        .spawn();
    let children = reported_children(&shim);
    shim.wait_started();
    shim.signal(Signal::SIGTERM);
    assert!(shim.wait_for_marker("SIGINT", 5 * SECOND));
    for pid in children {
        let dead = wait_for(SECOND, || {
            matches!(proc_state(pid), None | Some(('Z', _))).then_some(())
        });
        assert!(dead.is_some(), "child {pid} did not get the stop signal");
    }
    assert!(
        shim.child.try_wait().expect("try_wait").is_none(),
        "the app is still exiting"
    );
    assert_eq!(shell_code(shim.wait_exit(5 * SECOND)), 0);
}
