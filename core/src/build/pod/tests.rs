use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    ConfigMapEnvSource, EnvFromSource, LocalObjectReference, PodSecurityContext, SecurityContext,
    Toleration, TopologySpreadConstraint, Volume, VolumeMount,
};

use super::*;
use crate::build::shim;
use crate::build::testing::{app, spec};
use crate::crd::{AppSpec, AppStatus, RuntimeShimSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

fn template_of(app: &App) -> Result<PodTemplateSpec, SpecError> {
    let id = Identity::of(app)?;
    let timings = Timings::of(&app.spec)?;
    let shim = shim::plan(&app.spec, "readyroll/readyroll:0.1.0")?;
    let restarted_at = app
        .status
        .as_ref()
        .and_then(|s| s.last_cron_restart.as_deref());
    pod_template(app, &id, &timings, shim.as_ref(), restarted_at)
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn one_app_container_with_the_apps_settings() {
    let security = SecurityContext {
        run_as_non_root: Some(true),
        ..Default::default()
    };
    let mounts = vec![VolumeMount {
        name: "data".into(),
        mount_path: "/data".into(),
        ..Default::default()
    }];
    let env_from = vec![EnvFromSource {
        config_map_ref: Some(ConfigMapEnvSource {
            name: "settings".into(),
            optional: None,
        }),
        ..Default::default()
    }];
    let app = app(AppSpec {
        image_pull_policy: Some("IfNotPresent".into()),
        script: Some("server.js".into()),
        cwd: Some("/srv".into()),
        port: Some(3000),
        env: BTreeMap::from([("NODE_ENV".to_string(), "production".to_string())]),
        env_from: env_from.clone(),
        security_context: Some(security.clone()),
        volume_mounts: mounts.clone(),
        runtime_shim: Some(RuntimeShimSpec {
            enabled: Some(false),
            ..Default::default()
        }),
        ..spec()
    });
    let pod = template_of(&app).unwrap().spec.unwrap();
    assert_eq!(pod.containers.len(), 1);
    assert_eq!(pod.init_containers, None);
    let c = &pod.containers[0];
    assert_eq!(c.name, "app");
    assert_eq!(c.image.as_deref(), Some("registry.example/web:1.4.2"));
    assert_eq!(c.image_pull_policy.as_deref(), Some("IfNotPresent"));
    assert_eq!(c.command, Some(strings(&["node", "server.js"])));
    assert_eq!(c.args, None);
    assert_eq!(c.working_dir.as_deref(), Some("/srv"));
    let ports = c.ports.as_ref().unwrap();
    assert_eq!(ports.len(), 1);
    assert_eq!(
        (
            ports[0].name.as_deref(),
            ports[0].container_port,
            ports[0].protocol.as_deref()
        ),
        (Some("http"), 3000, Some("TCP"))
    );
    assert_eq!(c.env.as_ref().unwrap()[0].name, "NODE_ENV");
    assert_eq!(c.env_from, Some(env_from));
    assert_eq!(c.security_context, Some(security));
    assert_eq!(c.volume_mounts, Some(mounts));
    assert!(c.readiness_probe.as_ref().unwrap().tcp_socket.is_some());
    assert!(c.startup_probe.is_none(), "a slow start is never restarted");
    assert_eq!(c.liveness_probe, None);
    let sleep = c
        .lifecycle
        .as_ref()
        .unwrap()
        .pre_stop
        .as_ref()
        .unwrap()
        .sleep
        .as_ref()
        .unwrap();
    assert_eq!(sleep.seconds, 5);
    assert_eq!(pod.termination_grace_period_seconds, Some(7));
}

#[test]
fn pod_settings_pass_through() {
    let tolerations = vec![Toleration {
        key: Some("kwok.x-k8s.io/node".into()),
        operator: Some("Exists".into()),
        ..Default::default()
    }];
    let volumes = vec![Volume {
        name: "data".into(),
        ..Default::default()
    }];
    let spread = vec![TopologySpreadConstraint {
        max_skew: 1,
        topology_key: "kubernetes.io/hostname".into(),
        when_unsatisfiable: "ScheduleAnyway".into(),
        ..Default::default()
    }];
    let pod_security = PodSecurityContext {
        fs_group: Some(2000),
        ..Default::default()
    };
    let app = app(AppSpec {
        service_account_name: Some("web".into()),
        image_pull_secrets: vec![LocalObjectReference {
            name: "pull".into(),
        }],
        node_selector: BTreeMap::from([("type".to_string(), "kwok".to_string())]),
        tolerations: tolerations.clone(),
        topology_spread_constraints: spread.clone(),
        pod_security_context: Some(pod_security.clone()),
        priority_class_name: Some("high".into()),
        volumes: volumes.clone(),
        ..spec()
    });
    let pod = template_of(&app).unwrap().spec.unwrap();
    assert_eq!(pod.service_account_name.as_deref(), Some("web"));
    assert_eq!(pod.image_pull_secrets.unwrap()[0].name, "pull");
    assert_eq!(pod.node_selector.unwrap()["type"], "kwok");
    assert_eq!(pod.tolerations, Some(tolerations));
    assert_eq!(pod.topology_spread_constraints, Some(spread));
    assert_eq!(pod.security_context, Some(pod_security));
    assert_eq!(pod.priority_class_name.as_deref(), Some("high"));
    assert_eq!(pod.volumes, Some(volumes));
}

#[test]
fn image_entry_point_keeps_the_images_command() {
    let app = app(AppSpec {
        args: strings(&["serve"]),
        ..spec()
    });
    let c = &template_of(&app).unwrap().spec.unwrap().containers[0];
    assert_eq!(c.command, None);
    assert_eq!(c.args, Some(strings(&["serve"])));
    assert_eq!(c.ports, None);
    assert_eq!(
        c.readiness_probe, None,
        "no port, no shim: ready once running"
    );
}

#[test]
fn shim_is_injected_with_its_volume_port_and_probe() {
    let app = app(AppSpec {
        script: Some("server.js".into()),
        args: strings(&["--verbose"]),
        port: Some(3000),
        wait_ready: Some(true),
        volumes: vec![Volume {
            name: "data".into(),
            ..Default::default()
        }],
        ..spec()
    });
    let pod = template_of(&app).unwrap().spec.unwrap();
    let init = pod.init_containers.as_ref().unwrap();
    assert_eq!(init.len(), 1);
    assert_eq!(init[0].name, "readyroll-shim-install");
    assert_eq!(init[0].image.as_deref(), Some("readyroll/readyroll:0.1.0"));
    let volume_names: Vec<_> = pod
        .volumes
        .as_ref()
        .unwrap()
        .iter()
        .map(|v| v.name.as_str())
        .collect();
    assert_eq!(
        volume_names,
        ["data", "readyroll-shim", "readyroll-instance"]
    );
    let c = &pod.containers[0];
    assert_eq!(c.command, Some(strings(&["/readyroll/bin/readyroll-shim"])));
    assert_eq!(
        c.args,
        Some(strings(&[
            "--port=3000",
            "--script=server.js",
            "--instance-file=/readyroll/instance/index",
            "--drain-ms=6000",
            "--wait-ready",
            "--",
            "--verbose",
        ]))
    );
    let ports: Vec<_> = c
        .ports
        .as_ref()
        .unwrap()
        .iter()
        .map(|p| (p.name.as_deref().unwrap(), p.container_port))
        .collect();
    assert_eq!(ports, [("http", 3000), ("readyroll-probe", 9797)]);
    let mounts: Vec<_> = c
        .volume_mounts
        .as_ref()
        .unwrap()
        .iter()
        .map(|m| (m.name.as_str(), m.mount_path.as_str(), m.read_only))
        .collect();
    assert_eq!(
        mounts[mounts.len() - 2..],
        [
            ("readyroll-shim", "/readyroll/bin", Some(true)),
            ("readyroll-instance", "/readyroll/instance", Some(true)),
        ]
    );
    let ready = c
        .readiness_probe
        .as_ref()
        .unwrap()
        .http_get
        .as_ref()
        .unwrap();
    assert_eq!(ready.path.as_deref(), Some("/ready"));
    assert_eq!(ready.port, IntOrString::Int(9797));
}

#[test]
fn shim_without_a_script_is_an_error() {
    let app = app(AppSpec {
        runtime_shim: Some(RuntimeShimSpec {
            enabled: Some(true),
            ..Default::default()
        }),
        ..spec()
    });
    assert_eq!(template_of(&app).unwrap_err().field, "spec.script");
}

#[test]
fn python_gets_pm2s_unbuffered_output() {
    // Without the shim; with it the shim sets it, as PM2 does.
    let app = app(AppSpec {
        script: Some("worker.py".into()),
        runtime_shim: Some(RuntimeShimSpec {
            enabled: Some(false),
            ..Default::default()
        }),
        ..spec()
    });
    let c = &template_of(&app).unwrap().spec.unwrap().containers[0];
    assert_eq!(c.command, Some(strings(&["python", "worker.py"])));
    let env = c.env.as_ref().unwrap();
    assert_eq!(
        (env[0].name.as_str(), env[0].value.as_deref()),
        ("PYTHONUNBUFFERED", Some("1"))
    );
}

#[test]
fn annotations_and_cron_restart_marker() {
    let mut app = app(AppSpec {
        annotations: BTreeMap::from([("prometheus.io/scrape".to_string(), "true".to_string())]),
        ..spec()
    });
    let meta = template_of(&app).unwrap().metadata.unwrap();
    assert_eq!(
        meta.annotations,
        Some(BTreeMap::from([(
            "prometheus.io/scrape".to_string(),
            "true".to_string()
        )]))
    );
    assert_eq!(meta.labels.unwrap()["app.kubernetes.io/instance"], "web");
    app.status = Some(AppStatus {
        last_cron_restart: Some("2025-06-02T03:00:00Z".into()),
        ..Default::default()
    });
    let annotations = template_of(&app)
        .unwrap()
        .metadata
        .unwrap()
        .annotations
        .unwrap();
    assert_eq!(annotations[RESTARTED_AT_ANNOTATION], "2025-06-02T03:00:00Z");
    assert_eq!(annotations.len(), 2);
}

#[test]
fn bad_container_settings_name_the_field() {
    let cases = [
        (
            AppSpec {
                image: " ".into(),
                ..spec()
            },
            "spec.image",
        ),
        (
            AppSpec {
                image_pull_policy: Some("Sometimes".into()),
                ..spec()
            },
            "spec.imagePullPolicy",
        ),
        (
            AppSpec {
                annotations: BTreeMap::from([(REVISION_ANNOTATION.to_string(), "x".to_string())]),
                ..spec()
            },
            "spec.annotations.readyroll.dev/revision",
        ),
        (
            AppSpec {
                annotations: BTreeMap::from([("no spaces allowed".to_string(), "x".to_string())]),
                ..spec()
            },
            "spec.annotations.no spaces allowed",
        ),
    ];
    for (spec, field) in cases {
        assert_eq!(template_of(&app(spec)).unwrap_err().field, field);
    }
}
