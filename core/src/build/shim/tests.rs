use k8s_openapi::api::core::v1::{Volume, VolumeMount};

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
fn enabled_when_asked_or_when_wait_ready_has_nothing_else() {
    let cases = [
        (shim_setting(Some(true)), None, None, true),
        (shim_setting(Some(false)), Some(true), tcp_check(), false),
        (None, Some(true), None, true),
        (shim_setting(None), Some(true), None, true),
        (None, Some(true), tcp_check(), false),
        (None, Some(false), None, false),
        (None, None, None, false),
        (shim_setting(Some(true)), Some(true), tcp_check(), true),
    ];
    for (runtime_shim, wait_ready, readiness, expected) in cases {
        let spec = AppSpec {
            runtime_shim: runtime_shim.clone(),
            wait_ready,
            readiness: readiness.clone(),
            ..spec()
        };
        assert_eq!(
            enabled(&spec),
            expected,
            "{runtime_shim:?} waitReady={wait_ready:?} readiness={}",
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
fn wrap_passes_every_pm2_setting_as_a_flag() {
    let spec = AppSpec {
        script: Some("server.js".into()),
        args: strings(&["--color"]),
        port: Some(3000),
        wait_ready: Some(true),
        listen_timeout: Some(10_000),
        kill_timeout: Some(5_000),
        stop_signal: Some("SIGTERM".into()),
        shutdown_with_message: Some(true),
        ..spec()
    };
    let shim = plan(&spec, DEFAULT_IMAGE).unwrap().unwrap();
    let timings = Timings::of(&spec).unwrap();
    let app = Command::of(&spec).unwrap();
    assert_eq!(
        shim.wrap(&spec, &timings, &app).unwrap(),
        strings(&[
            "/readyroll/bin/readyroll-shim",
            "--port",
            "3000",
            "--wait-ready",
            "--listen-timeout-ms",
            "10000",
            "--kill-timeout-ms",
            "5000",
            "--stop-signal",
            "SIGTERM",
            "--shutdown-with-message",
            "--probe-addr",
            "0.0.0.0:9797",
            "--",
            "node",
            "server.js",
        ])
    );
}

#[test]
fn wrap_with_defaults_omits_optional_flags() {
    let spec = AppSpec {
        script: Some("bin/worker".into()),
        runtime_shim: Some(RuntimeShimSpec {
            enabled: Some(true),
            probe_port: Some(8500),
            ..Default::default()
        }),
        ..spec()
    };
    let shim = plan(&spec, DEFAULT_IMAGE).unwrap().unwrap();
    let timings = Timings::of(&spec).unwrap();
    let app = Command::of(&spec).unwrap();
    assert_eq!(
        shim.wrap(&spec, &timings, &app).unwrap(),
        strings(&[
            "/readyroll/bin/readyroll-shim",
            "--listen-timeout-ms",
            "3000",
            "--kill-timeout-ms",
            "1600",
            "--stop-signal",
            "SIGINT",
            "--probe-addr",
            "0.0.0.0:8500",
            "--",
            "bin/worker",
        ])
    );
}

#[test]
fn the_image_entry_point_cannot_be_wrapped() {
    let spec = AppSpec {
        wait_ready: Some(true),
        ..spec()
    };
    let shim = plan(&spec, DEFAULT_IMAGE).unwrap().unwrap();
    let err = shim
        .wrap(
            &spec,
            &Timings::of(&spec).unwrap(),
            &Command::of(&spec).unwrap(),
        )
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
