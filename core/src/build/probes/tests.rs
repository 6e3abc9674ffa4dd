use super::*;
use crate::build::testing::spec;
use crate::crd::{ExecCheck, HttpGetCheck, TcpSocketCheck};

fn shim(probe_port: i32) -> Shim {
    Shim {
        image: String::new(),
        probe_port,
    }
}

fn timings(listen_timeout_ms: i64) -> Timings {
    Timings {
        listen_timeout_ms,
        kill_timeout_ms: 1600,
        min_uptime_ms: 1000,
        drain_max_ms: 30_000,
        drain_delay_ms: 5000,
    }
}

fn http(path: &str, port: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::Int(port),
            scheme: Some("HTTP".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn tcp(port: i32) -> Probe {
    Probe {
        tcp_socket: Some(TCPSocketAction {
            port: IntOrString::Int(port),
            host: None,
        }),
        ..Default::default()
    }
}

/// A probe with readiness timing: every second, out after one failure.
fn fast(handler: Probe) -> Probe {
    Probe {
        period_seconds: Some(1),
        timeout_seconds: Some(1),
        failure_threshold: Some(1),
        success_threshold: Some(1),
        ..handler
    }
}

fn readiness_of(spec: &AppSpec, shim: Option<&Shim>) -> Option<Probe> {
    probes(spec, shim, &timings(3000)).unwrap().readiness
}

#[test]
fn readiness_choice_follows_the_documented_order() {
    let explicit = Some(Check {
        http_get: Some(HttpGetCheck {
            path: Some("/healthz".into()),
            ..Default::default()
        }),
        ..Default::default()
    });
    let (default_shim, other_port_shim) = (shim(9797), shim(7000));
    let cases: Vec<(&str, AppSpec, Option<&Shim>, Option<Probe>)> = vec![
        (
            "explicit check beats the shim, port defaults to spec.port",
            AppSpec {
                readiness: explicit.clone(),
                port: Some(8080),
                wait_ready: Some(true),
                ..spec()
            },
            Some(&default_shim),
            Some(fast(http("/healthz", 8080))),
        ),
        (
            "shim: its /ready endpoint",
            AppSpec {
                port: Some(8080),
                wait_ready: Some(true),
                ..spec()
            },
            Some(&default_shim),
            Some(fast(http("/ready", 9797))),
        ),
        (
            "shim without waitReady still answers /ready (listening)",
            AppSpec {
                port: Some(8080),
                ..spec()
            },
            Some(&other_port_shim),
            Some(fast(http("/ready", 7000))),
        ),
        (
            "no waitReady: PM2's listening, a TCP connect",
            AppSpec {
                port: Some(8080),
                ..spec()
            },
            None,
            Some(fast(tcp(8080))),
        ),
        ("no port, no shim: none", spec(), None, None),
    ];
    for (name, spec, shim, expected) in cases {
        assert_eq!(readiness_of(&spec, shim), expected, "{name}");
    }
}

#[test]
fn explicit_checks_keep_their_own_timing_and_kind() {
    let tcp_check = AppSpec {
        port: Some(3000),
        readiness: Some(Check {
            tcp_socket: Some(TcpSocketCheck { port: Some(4000) }),
            period_seconds: Some(5),
            timeout_seconds: Some(2),
            failure_threshold: Some(3),
            ..Default::default()
        }),
        ..spec()
    };
    let expected = Probe {
        period_seconds: Some(5),
        timeout_seconds: Some(2),
        failure_threshold: Some(3),
        success_threshold: Some(1),
        ..tcp(4000)
    };
    assert_eq!(readiness_of(&tcp_check, None), Some(expected));

    let exec = AppSpec {
        readiness: Some(Check {
            exec: Some(ExecCheck {
                command: vec!["cat".into(), "/tmp/ready".into()],
            }),
            ..Default::default()
        }),
        ..spec()
    };
    let probe = readiness_of(&exec, None).unwrap();
    assert_eq!(
        probe.exec.unwrap().command,
        Some(vec!["cat".to_string(), "/tmp/ready".to_string()])
    );

    let https = AppSpec {
        readiness: Some(Check {
            http_get: Some(HttpGetCheck {
                path: None,
                port: Some(8443),
                scheme: Some(HttpScheme::Https),
            }),
            ..Default::default()
        }),
        ..spec()
    };
    let get = readiness_of(&https, None).unwrap().http_get.unwrap();
    assert_eq!(
        (get.path.as_deref(), get.port, get.scheme.as_deref()),
        (Some("/"), IntOrString::Int(8443), Some("HTTPS"))
    );
}

#[test]
fn no_startup_probe_restarts_a_slow_start() {
    // Issue: a startup probe of listenTimeout (3 s) restarted any app slower
    // than that, forever. Without a liveness check there is nothing to gate.
    for spec in [
        AppSpec {
            port: Some(8080),
            ..spec()
        },
        AppSpec {
            port: Some(8080),
            wait_ready: Some(true),
            ..spec()
        },
        AppSpec::default(),
    ] {
        for shim in [None, Some(shim(9797))] {
            let p = probes(&spec, shim.as_ref(), &timings(3000)).unwrap();
            assert_eq!(p.startup, None, "{spec:?} shim={}", shim.is_some());
        }
    }
}

#[test]
fn a_liveness_check_waits_as_long_as_the_progress_deadline() {
    let live = Some(Check {
        http_get: Some(HttpGetCheck {
            path: Some("/live".into()),
            ..Default::default()
        }),
        ..Default::default()
    });
    let with_port = AppSpec {
        port: Some(8080),
        liveness: live.clone(),
        ..spec()
    };
    // Deadline: listenTimeout + minUptime (1 s) + 60 s, in seconds.
    for (listen_ms, checks) in [(1, 62), (3000, 64), (10_001, 72)] {
        let startup = probes(&with_port, None, &timings(listen_ms))
            .unwrap()
            .startup
            .unwrap();
        assert_eq!(
            startup,
            Probe {
                period_seconds: Some(1),
                timeout_seconds: Some(1),
                failure_threshold: Some(checks),
                success_threshold: Some(1),
                ..tcp(8080)
            },
            "{listen_ms} ms"
        );
    }
    let explicit_deadline = AppSpec {
        rollout: Some(crate::crd::RolloutSpec {
            progress_deadline_seconds: Some(600),
            ..Default::default()
        }),
        ..with_port.clone()
    };
    let startup = probes(&explicit_deadline, None, &timings(3000))
        .unwrap()
        .startup
        .unwrap();
    assert_eq!(startup.failure_threshold, Some(600));
    // No readiness to repeat: the liveness check itself gates.
    let no_port = AppSpec {
        liveness: Some(Check {
            exec: Some(ExecCheck {
                command: vec!["true".into()],
            }),
            ..Default::default()
        }),
        ..spec()
    };
    let startup = probes(&no_port, None, &timings(3000))
        .unwrap()
        .startup
        .unwrap();
    assert!(startup.exec.is_some());
    assert_eq!(startup.period_seconds, Some(1));
}

#[test]
fn liveness_only_when_asked_with_kubernetes_patience() {
    assert_eq!(
        probes(&spec(), None, &timings(3000)).unwrap().liveness,
        None
    );
    let with_liveness = AppSpec {
        port: Some(8080),
        liveness: Some(Check {
            http_get: Some(HttpGetCheck {
                path: Some("/live".into()),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..spec()
    };
    assert_eq!(
        probes(&with_liveness, None, &timings(3000))
            .unwrap()
            .liveness,
        Some(Probe {
            period_seconds: Some(10),
            timeout_seconds: Some(1),
            failure_threshold: Some(3),
            success_threshold: Some(1),
            ..http("/live", 8080)
        })
    );
}

#[test]
fn malformed_checks_name_the_field() {
    let with = |check: Check| AppSpec {
        readiness: Some(check),
        ..spec()
    };
    let cases = [
        (
            with(Check {
                http_get: Some(HttpGetCheck::default()),
                ..Default::default()
            }),
            "spec.readiness.httpGet.port",
        ),
        (
            with(Check {
                tcp_socket: Some(TcpSocketCheck::default()),
                ..Default::default()
            }),
            "spec.readiness.tcpSocket.port",
        ),
        (with(Check::default()), "spec.readiness"),
        (
            with(Check {
                tcp_socket: Some(TcpSocketCheck { port: Some(1) }),
                exec: Some(ExecCheck {
                    command: vec!["true".into()],
                }),
                ..Default::default()
            }),
            "spec.readiness",
        ),
        (
            with(Check {
                exec: Some(ExecCheck { command: vec![] }),
                ..Default::default()
            }),
            "spec.readiness.exec.command",
        ),
        (
            with(Check {
                tcp_socket: Some(TcpSocketCheck { port: Some(1) }),
                period_seconds: Some(0),
                ..Default::default()
            }),
            "spec.readiness.periodSeconds",
        ),
        (
            AppSpec {
                liveness: Some(Check {
                    tcp_socket: Some(TcpSocketCheck { port: Some(1) }),
                    failure_threshold: Some(-1),
                    ..Default::default()
                }),
                ..spec()
            },
            "spec.liveness.failureThreshold",
        ),
    ];
    for (spec, field) in cases {
        assert_eq!(
            probes(&spec, None, &timings(3000)).unwrap_err().field,
            field
        );
    }
}
