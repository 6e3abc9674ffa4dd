use k8s_openapi::api::core::v1::{Volume, VolumeMount};

use readyroll_shim_contract::ShimArgs;

use super::*;
use crate::build::testing::spec;
use crate::crd::{Check, RuntimeShimSpec, TcpSocketCheck};

const DEFAULT_IMAGE: &str = "readyroll/readyroll:0.1.0";

fn shim_setting(enabled: Option<bool>) -> Option<RuntimeShimSpec> {
    Some(RuntimeShimSpec {
        enabled,
        ..Default::default()
    })
}

fn tcp_check() -> Option<Check> {
    Some(Check {
        tcp_socket: Some(TcpSocketCheck { port: Some(80) }),
        ..Default::default()
    })
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn enabled_for_every_script_when_asked_or_when_wait_ready_has_nothing_else() {
    let script = || Some("server".to_string());
    let cases = [
        (shim_setting(Some(true)), None, None, None, true),
        (
            shim_setting(Some(false)),
            Some(true),
            tcp_check(),
            None,
            false,
        ),
        (None, Some(true), None, None, true),
        (shim_setting(None), Some(true), None, None, true),
        (None, Some(true), tcp_check(), None, false),
        (None, Some(false), None, None, false),
        (None, None, None, None, false),
        (
            shim_setting(Some(true)),
            Some(true),
            tcp_check(),
            None,
            true,
        ),
        // PM2's stop contract for every App that runs a script.
        (None, None, None, script(), true),
        (None, Some(false), None, script(), true),
        (None, Some(true), tcp_check(), script(), true),
        (shim_setting(None), None, None, script(), true),
        (shim_setting(Some(false)), None, None, script(), false),
    ];
    for (runtime_shim, wait_ready, readiness, script, expected) in cases {
        let spec = AppSpec {
            runtime_shim: runtime_shim.clone(),
            wait_ready,
            readiness: readiness.clone(),
            script: script.clone(),
            ..spec()
        };
        assert_eq!(
            enabled(&spec),
            expected,
            "{runtime_shim:?} waitReady={wait_ready:?} readiness={} script={script:?}",
            readiness.is_some()
        );
    }
}

#[test]
fn image_comes_from_the_app_or_the_operator() {
    let on = AppSpec {
        runtime_shim: shim_setting(Some(true)),
        ..spec()
    };
    assert_eq!(
        plan(&on, DEFAULT_IMAGE).unwrap(),
        Some(Shim {
            image: DEFAULT_IMAGE.into(),
            probe_port: 9797
        })
    );
    let own = AppSpec {
        runtime_shim: Some(RuntimeShimSpec {
            enabled: Some(true),
            image: Some("mirror.example/readyroll:0.1.0".into()),
            probe_port: Some(9000),
        }),
        ..spec()
    };
    assert_eq!(
        plan(&own, DEFAULT_IMAGE).unwrap(),
        Some(Shim {
            image: "mirror.example/readyroll:0.1.0".into(),
            probe_port: 9000
        })
    );
    assert_eq!(plan(&spec(), DEFAULT_IMAGE).unwrap(), None);
}

#[test]
fn settings_only_the_shim_can_honour_are_errors_without_it() {
    let off = shim_setting(Some(false));
    let cases = [
        (
            AppSpec {
                shutdown_with_message: Some(true),
                ..spec()
            },
            "spec.shutdownWithMessage",
        ),
        (
            AppSpec {
                wait_ready: Some(true),
                runtime_shim: off.clone(),
                ..spec()
            },
            "spec.waitReady",
        ),
        (
            AppSpec {
                stop_signal: Some("SIGKILL".into()),
                ..spec()
            },
            "spec.stopSignal",
        ),
        (
            AppSpec {
                script: Some("server".into()),
                shutdown_with_message: Some(true),
                runtime_shim: off.clone(),
                ..spec()
            },
            "spec.shutdownWithMessage",
        ),
        (
            AppSpec {
                script: Some("server".into()),
                ready_on_listen_timeout: Some(true),
                runtime_shim: off.clone(),
                ..spec()
            },
            "spec.readyOnListenTimeout",
        ),
        (
            AppSpec {
                script: Some("server".into()),
                ready_on_listen_timeout: Some(true),
                readiness: tcp_check(),
                ..spec()
            },
            "spec.readyOnListenTimeout",
        ),
    ];
    for (spec, field) in cases {
        assert_eq!(plan(&spec, DEFAULT_IMAGE).unwrap_err().field, field);
    }
    let ready_by_check = AppSpec {
        wait_ready: Some(true),
        runtime_shim: off,
        readiness: tcp_check(),
        ..spec()
    };
    assert_eq!(plan(&ready_by_check, DEFAULT_IMAGE).unwrap(), None);
}

#[test]
fn shim_conflicts_name_the_field() {
    let on = || AppSpec {
        runtime_shim: shim_setting(Some(true)),
        ..spec()
    };
    let cases = [
        (
            AppSpec {
                port: Some(9797),
                ..on()
            },
            DEFAULT_IMAGE,
            "spec.runtimeShim.probePort",
        ),
        (
            AppSpec {
                runtime_shim: Some(RuntimeShimSpec {
                    enabled: Some(true),
                    probe_port: Some(0),
                    ..Default::default()
                }),
                ..spec()
            },
            DEFAULT_IMAGE,
            "spec.runtimeShim.probePort",
        ),
        (on(), "", "spec.runtimeShim.image"),
        (
            AppSpec {
                volumes: vec![
                    Volume {
                        name: "data".into(),
                        ..Default::default()
                    },
                    Volume {
                        name: VOLUME_NAME.into(),
                        ..Default::default()
                    },
                ],
                ..on()
            },
            DEFAULT_IMAGE,
            "spec.volumes[1].name",
        ),
        (
            AppSpec {
                volume_mounts: vec![VolumeMount {
                    name: "data".into(),
                    mount_path: "/readyroll/bin/".into(),
                    ..Default::default()
                }],
                ..on()
            },
            DEFAULT_IMAGE,
            "spec.volumeMounts[0].mountPath",
        ),
    ];
    for (spec, image, field) in cases {
        assert_eq!(plan(&spec, image).unwrap_err().field, field);
    }
}

#[test]
fn shutdown_with_message_is_accepted_without_wait_ready() {
    let spec = AppSpec {
        script: Some("server".into()),
        shutdown_with_message: Some(true),
        ..spec()
    };
    assert!(plan(&spec, DEFAULT_IMAGE).unwrap().is_some());
}

#[test]
fn the_image_entry_point_cannot_be_wrapped() {
    let spec = AppSpec {
        wait_ready: Some(true),
        ..spec()
    };
    let shim = plan(&spec, DEFAULT_IMAGE).unwrap().unwrap();
    let err = shim
        .args(&spec, &Timings::of(&spec).unwrap(), None)
        .unwrap_err();
    assert_eq!(err.field, "spec.script");
}

#[test]
fn init_container_installs_the_binary_as_non_root() {
    let shim = Shim {
        image: DEFAULT_IMAGE.into(),
        probe_port: 9797,
    };
    let init = shim.init_container();
    assert_eq!(init.name, "readyroll-shim-install");
    assert_eq!(init.image.as_deref(), Some(DEFAULT_IMAGE));
    assert_eq!(
        init.command,
        Some(strings(&[
            "/readyroll-shim",
            "install",
            "/readyroll-shim-install/readyroll-shim"
        ]))
    );
    // Not below /readyroll: in the operator image that path is the operator
    // binary, and the runtime cannot mount a directory below a file.
    let mounts = init.volume_mounts.unwrap();
    assert_eq!(
        (mounts[0].name.as_str(), mounts[0].mount_path.as_str()),
        ("readyroll-shim", "/readyroll-shim-install")
    );
    let app_mount = shim.mount();
    assert_eq!(
        (app_mount.name.as_str(), app_mount.mount_path.as_str()),
        ("readyroll-shim", "/readyroll/bin"),
        "the app container finds the installed binary at BINARY_IN_POD"
    );
    assert_eq!(
        mounts[0].read_only, None,
        "the install step writes the binary"
    );
    let security = init.security_context.unwrap();
    assert_eq!(security.run_as_non_root, Some(true));
    assert_eq!(security.allow_privilege_escalation, Some(false));
    assert_eq!(security.read_only_root_filesystem, Some(true));
    assert_eq!(security.capabilities.unwrap().drop, Some(strings(&["ALL"])));
    let resources = init.resources.unwrap();
    assert_eq!(resources.requests.unwrap()["memory"].0, "16Mi");
    assert_eq!(resources.limits.unwrap()["memory"].0, "32Mi");
    assert_eq!(shim.volume().empty_dir, Some(Default::default()));
    assert_eq!(shim.mount().read_only, Some(true));
    let port = shim.container_port();
    assert_eq!(
        (port.name.as_deref(), port.container_port),
        (Some("readyroll-probe"), 9797)
    );
}

/// The app container as `build` writes it.
fn built_container(spec: AppSpec) -> k8s_openapi::api::core::v1::Container {
    let opts = crate::build::BuildOptions {
        shim_image: DEFAULT_IMAGE.into(),
    };
    let desired = crate::build::build(&crate::build::testing::app(spec), &[], &opts).unwrap();
    let pod = desired.deployment.spec.unwrap().template.spec.unwrap();
    pod.containers.into_iter().next().unwrap()
}

/// The operator's command line through the shim's own parser.
fn parsed_by_the_shim(container: &k8s_openapi::api::core::v1::Container) -> ShimArgs {
    assert_eq!(
        container.command.as_deref(),
        Some(&[BINARY_IN_POD.to_string()][..])
    );
    ShimArgs::parse(container.args.clone().unwrap_or_default()).unwrap()
}

#[test]
fn a_full_app_reaches_the_shim_with_every_setting() {
    use crate::crd::{MemorySize, RolloutSpec};
    let container = built_container(AppSpec {
        script: Some("server".into()),
        args: strings(&["--color", "--", "a b"]),
        interpreter: Some("node".into()),
        interpreter_args: strings(&["--max-old-space-size=512"]),
        cwd: Some("/srv/app".into()),
        port: Some(3000),
        wait_ready: Some(true),
        listen_timeout: Some(10_000),
        ready_on_listen_timeout: Some(true),
        kill_timeout: Some(5_000),
        stop_signal: Some("SIGTERM".into()),
        shutdown_with_message: Some(true),
        treekill: Some(false),
        max_memory_restart: Some(MemorySize::parse("300M").unwrap()),
        memory_check_interval_ms: Some(1_000),
        instance_var: Some("INSTANCE_ID".into()),
        increment_var: Some("PORT".into()),
        rollout: Some(RolloutSpec {
            drain_delay_ms: Some(2_500),
            ..Default::default()
        }),
        runtime_shim: Some(RuntimeShimSpec {
            probe_port: Some(8500),
            ..Default::default()
        }),
        ..spec()
    });
    assert_eq!(
        parsed_by_the_shim(&container),
        ShimArgs {
            port: Some(3000),
            wait_ready: true,
            listen_timeout_ms: 10_000,
            ready_on_listen_timeout: true,
            kill_timeout_ms: 5_000,
            stop_signal: "SIGTERM".into(),
            shutdown_with_message: true,
            treekill: false,
            probe_addr: "0.0.0.0:8500".parse().unwrap(),
            script: Some("server".into()),
            interpreter: Some("node".into()),
            interpreter_args: strings(&["--max-old-space-size=512"]),
            cwd: Some("/srv/app".into()),
            instance_file: Some("/readyroll/instance/index".into()),
            instance_var: "INSTANCE_ID".into(),
            increment_var: Some("PORT".into()),
            max_memory_bytes: Some(300 << 20),
            memory_interval_ms: 1_000,
            // The drain, then one readiness period (1 s × 1 failure).
            drain_ms: 3_500,
            args: strings(&["--color", "--", "a b"]),
            ..ShimArgs::default()
        }
    );
    assert_eq!(container.working_dir.as_deref(), Some("/srv/app"));
    assert_eq!(
        container.resources.unwrap().limits.unwrap()["memory"].0,
        "450Mi",
        "the cgroup limit is a safety net above the threshold"
    );
}

#[test]
fn a_minimal_app_reaches_the_shim_with_pm2s_defaults() {
    let container = built_container(AppSpec {
        script: Some("server".into()),
        ..spec()
    });
    let args = parsed_by_the_shim(&container);
    assert_eq!(
        args,
        ShimArgs {
            script: Some("server".into()),
            // PM2's NODE_APP_INSTANCE, from the pod's index annotation.
            instance_file: Some("/readyroll/instance/index".into()),
            // The pre-stop drain (5 s), then the readiness probe's 1 s × 1.
            drain_ms: 6_000,
            ..ShimArgs::default()
        }
    );
    assert_eq!(args.kill_timeout_ms, 1600);
    assert_eq!(args.listen_timeout_ms, 3000);
    assert_eq!(args.stop_signal, "SIGINT");
    assert!(args.treekill);
    assert_eq!(container.working_dir, None);
    assert!(
        container.env.is_none(),
        "the shim, not the operator, sets what the interpreter implies"
    );
}

#[test]
fn without_wait_ready_the_shim_is_ready_when_the_port_listens() {
    let container = built_container(AppSpec {
        script: Some("app.py".into()),
        port: Some(8080),
        listen_timeout: Some(0),
        kill_timeout: Some(0),
        ..spec()
    });
    let args = parsed_by_the_shim(&container);
    assert_eq!(args.port, Some(8080));
    assert!(!args.wait_ready);
    assert_eq!((args.listen_timeout_ms, args.kill_timeout_ms), (3000, 1600));
    assert_eq!(args.script.as_deref(), Some("app.py"));
    assert_eq!(args.interpreter, None, "picked in the pod, as PM2 does");
    assert_eq!(
        container
            .readiness_probe
            .unwrap()
            .http_get
            .unwrap()
            .path
            .as_deref(),
        Some(READY_PATH)
    );
    assert_eq!(container.startup_probe, None);
}

#[test]
fn the_shim_can_be_turned_off_for_a_script() {
    let container = built_container(AppSpec {
        script: Some("server.js".into()),
        runtime_shim: shim_setting(Some(false)),
        ..spec()
    });
    assert_eq!(container.command, Some(strings(&["node", "server.js"])));
}
