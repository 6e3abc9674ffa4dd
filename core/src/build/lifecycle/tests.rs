use super::*;

fn timings(drain_delay_ms: i64, kill_timeout_ms: i64) -> Timings {
    Timings {
        listen_timeout_ms: 3000,
        kill_timeout_ms,
        min_uptime_ms: 1000,
        drain_delay_ms,
        drain_max_ms: drain_delay_ms + 25_000,
    }
}

fn shim() -> Shim {
    Shim {
        image: "readyroll/shim".into(),
        probe_port: 9797,
    }
}

fn native_sleep(t: &Timings) -> Option<i64> {
    pre_stop(t, None).map(|l| l.pre_stop.unwrap().sleep.unwrap().seconds)
}

#[test]
fn without_the_shim_grace_covers_the_sleep_plus_kill_rounded_up() {
    let cases = [
        ("PM2 defaults", 5000, 1600, 7, Some(5)),
        ("kill 1 ms, no drain", 0, 1, 1, None),
        ("kill 0, drain 0: nothing to wait for", 0, 0, 0, None),
        ("kill 0, drain 1 ms", 1, 0, 1, Some(1)),
        ("sub-second parts round each", 400, 700, 2, Some(1)),
        ("drain rounded up keeps all of kill", 2500, 3200, 7, Some(3)),
        ("sub-second drain, whole kill", 1500, 2000, 4, Some(2)),
        ("whole seconds stay whole", 2000, 3000, 5, Some(2)),
        (
            "one day each",
            86_400_000,
            86_400_000,
            172_800,
            Some(86_400),
        ),
    ];
    for (name, drain, kill, grace, sleep) in cases {
        let t = timings(drain, kill);
        assert_eq!(termination_grace_period_seconds(&t, None), grace, "{name}");
        assert_eq!(native_sleep(&t), sleep, "{name}");
    }
}

#[test]
fn kill_timeout_is_never_shortened_by_the_sleeps_rounding() {
    for drain in [0, 1, 499, 500, 999, 1000, 2500, 5000, 5001] {
        for kill in [1, 999, 1000, 1600, 3200, 5000] {
            let t = timings(drain, kill);
            let sleep_ms = native_sleep(&t).unwrap_or(0) * 1000;
            let grace_ms = termination_grace_period_seconds(&t, None) * 1000;
            assert!(
                grace_ms - sleep_ms >= kill,
                "drain {drain} kill {kill}: {grace_ms} - {sleep_ms} < {kill}"
            );
        }
    }
}

#[test]
fn with_the_shim_the_drain_is_its_exact_command_and_grace_covers_the_longest() {
    let t = Timings {
        drain_max_ms: 12_500,
        ..timings(2500, 3200)
    };
    let hook = pre_stop(&t, Some(&shim())).unwrap().pre_stop.unwrap();
    assert!(hook.sleep.is_none());
    let command = hook.exec.unwrap().command.unwrap();
    assert_eq!(
        command,
        [
            BINARY_IN_POD,
            "drain",
            "--min-ms=2500",
            "--max-ms=12500",
            "--ignore-port=9797"
        ]
    );
    // 12.5 s of drain at most + 3.2 s: 15.7 s, rounded up once.
    assert_eq!(termination_grace_period_seconds(&t, Some(&shim())), 16);
    let parsed = DrainArgs::parse(command[2..].iter().cloned()).expect("the shim parses it");
    assert_eq!((parsed.min_ms, parsed.max_ms), (2500, 12_500));
}

#[test]
fn kill_timeout_is_never_shortened_by_the_longest_drain() {
    for drain in [1, 999, 2500, 5000] {
        for extra in [0, 1, 25_000] {
            for kill in [1, 999, 1600, 3200] {
                let t = Timings {
                    drain_max_ms: drain + extra,
                    ..timings(drain, kill)
                };
                let grace_ms = termination_grace_period_seconds(&t, Some(&shim())) * 1000;
                assert!(grace_ms - t.drain_max_ms >= kill, "{t:?}");
            }
        }
    }
}

#[test]
fn no_drain_means_no_hook_with_or_without_the_shim() {
    let t = timings(0, 1600);
    assert!(pre_stop(&t, Some(&shim())).is_none());
    assert!(pre_stop(&t, None).is_none());
    assert_eq!(termination_grace_period_seconds(&t, Some(&shim())), 2);
}
