//! `readyroll::core::build` end to end, through the public API only: Apps
//! written as users write them (YAML), the objects that come out.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use readyroll::core::{
    build, max_restarts, next_cron_restart, resolve_instances, BuildOptions, Desired, SpecError,
    REVISION_ANNOTATION,
};
use readyroll::crd::{App, AppStatus};
use readyroll_testkit::nodes::node;

fn app(yaml: &str) -> App {
    let mut app: App = serde_yaml::from_str(yaml).expect("test App parses");
    app.metadata.uid = Some("7d9f3c1e-0000-4000-8000-000000000001".into());
    app
}

fn opts() -> BuildOptions {
    BuildOptions {
        shim_image: "readyroll/readyroll:0.1.0".into(),
    }
}

fn built(yaml: &str) -> Desired {
    build(&app(yaml), &[node("a", "4")], &opts()).expect("App builds")
}

fn build_err(yaml: &str) -> SpecError {
    build(&app(yaml), &[], &opts()).expect_err("App is rejected")
}

const MINIMAL: &str = r#"
apiVersion: readyroll.dev/v1alpha1
kind: App
metadata: {name: web, namespace: shop}
spec:
  image: registry.example/web:1.4.2
  script: server.js
  port: 3000
"#;

#[test]
fn objects_serialize_with_api_version_and_kind_for_server_side_apply() {
    let desired = built(&MINIMAL.replace("port: 3000", "port: 3000\n  instances: 2"));
    let deployment = serde_json::to_value(&desired.deployment).unwrap();
    assert_eq!(deployment["apiVersion"], "apps/v1");
    assert_eq!(deployment["kind"], "Deployment");
    let service = serde_json::to_value(desired.service.as_ref().unwrap()).unwrap();
    assert_eq!(service["apiVersion"], "v1");
    assert_eq!(service["kind"], "Service");
    let pdb = serde_json::to_value(desired.pdb.as_ref().unwrap()).unwrap();
    assert_eq!(pdb["apiVersion"], "policy/v1");
    assert_eq!(pdb["kind"], "PodDisruptionBudget");
    for object in [&deployment, &service, &pdb] {
        assert_eq!(object["metadata"]["name"], "web");
        assert_eq!(object["metadata"]["namespace"], "shop");
        assert!(
            object.get("status").is_none(),
            "status is not ours to apply"
        );
        let owner = &object["metadata"]["ownerReferences"][0];
        assert_eq!(owner["apiVersion"], "readyroll.dev/v1alpha1");
        assert_eq!(owner["kind"], "App");
        assert_eq!(owner["name"], "web");
        assert_eq!(owner["controller"], true);
        assert_eq!(owner["blockOwnerDeletion"], true);
        let labels = &object["metadata"]["labels"];
        assert_eq!(labels["app.kubernetes.io/name"], "web");
        assert_eq!(labels["app.kubernetes.io/instance"], "web");
        assert_eq!(labels["app.kubernetes.io/managed-by"], "readyroll");
        assert_eq!(labels["app.kubernetes.io/version"], "1.4.2");
    }
}

#[test]
fn pm2_reference_app_becomes_a_zero_downtime_deployment() {
    // PRODUCT's example: one worker per CPU, wait for process.send('ready')
    // up to 10 s, SIGINT then 5 s before the kill.
    let desired = build(
        &app(r#"
metadata: {name: app-name, namespace: default}
spec:
  image: registry.example/app:2.0.0
  script: server
  execMode: cluster
  instances: 0
  waitReady: true
  listenTimeout: 10000
  killTimeout: 5000
  port: 8080
"#),
        &[node("a", "4"), node("b", "2")],
        &opts(),
    )
    .unwrap();
    assert_eq!(desired.instances, 6);
    let spec = desired.deployment.spec.as_ref().unwrap();
    assert_eq!(spec.replicas, Some(6));
    let rolling = spec
        .strategy
        .as_ref()
        .unwrap()
        .rolling_update
        .as_ref()
        .unwrap();
    assert_eq!(rolling.max_unavailable, Some(IntOrString::Int(0)));
    assert_eq!(rolling.max_surge, Some(IntOrString::Int(1)));
    assert_eq!(spec.min_ready_seconds, Some(1));
    assert_eq!(spec.progress_deadline_seconds, Some(10 + 1 + 60));
    assert_eq!(spec.revision_history_limit, Some(10));
    let pod = spec.template.spec.as_ref().unwrap();
    // The shim's drain: 5 s at least, at most 30 s while connections still arrive; then
    // PM2's kill_timeout of 5 s.
    assert_eq!(pod.termination_grace_period_seconds, Some(35));
    let container = &pod.containers[0];
    let pre_stop = container
        .lifecycle
        .as_ref()
        .and_then(|l| l.pre_stop.as_ref())
        .and_then(|h| h.exec.as_ref())
        .and_then(|e| e.command.clone());
    assert_eq!(
        pre_stop.unwrap_or_default(),
        [
            "/readyroll/bin/readyroll-shim",
            "drain",
            "--min-ms=5000",
            "--max-ms=30000",
            "--ignore-port=9797"
        ]
    );
    assert_eq!(
        container.command.as_deref(),
        Some(&["/readyroll/bin/readyroll-shim".to_string()][..])
    );
    // The script goes to the shim as written: it finds `server` in the pod
    // and, as PM2 does, runs a non-binary file without extension with node.
    let args = container.args.as_ref().unwrap();
    for flag in [
        "--script=server",
        "--kill-timeout-ms=5000",
        "--listen-timeout-ms=10000",
        "--port=8080",
        "--wait-ready",
    ] {
        assert!(args.iter().any(|a| a == flag), "{flag} in {args:?}");
    }
    assert_eq!(args.last().map(String::as_str), Some("--"));
    let readiness = container.readiness_probe.as_ref().unwrap();
    assert_eq!(
        readiness.http_get.as_ref().unwrap().port,
        IntOrString::Int(9797)
    );
    assert_eq!(
        container.startup_probe, None,
        "a start slower than listenTimeout is reported, never restarted"
    );
    assert_eq!(
        pod.init_containers.as_ref().unwrap()[0].name,
        "readyroll-shim-install"
    );
    assert!(desired.pdb.is_some());
}

#[test]
fn exec_mode_does_not_change_the_rollout() {
    let fork = built(&MINIMAL.replace("port: 3000", "port: 3000\n  execMode: fork"));
    let cluster = built(&MINIMAL.replace("port: 3000", "port: 3000\n  execMode: cluster"));
    assert_eq!(fork.deployment, cluster.deployment);
    assert_eq!(fork.revision, cluster.revision);
}

#[test]
fn pdb_only_with_more_than_one_instance() {
    let one = built(MINIMAL);
    assert_eq!(one.instances, 1);
    assert!(one.pdb.is_none());
    let two = built(&MINIMAL.replace("port: 3000", "port: 3000\n  instances: 2"));
    let spec = two.pdb.unwrap().spec.unwrap();
    assert_eq!(spec.max_unavailable, Some(IntOrString::Int(1)));
    assert_eq!(spec.min_available, None);
    assert_eq!(
        spec.unhealthy_pod_eviction_policy.as_deref(),
        Some("AlwaysAllow")
    );
    let selector = spec.selector.unwrap().match_labels.unwrap();
    assert_eq!(selector.len(), 2);
    assert_eq!(selector["app.kubernetes.io/instance"], "web");
}

#[test]
fn per_cpu_on_a_cluster_without_schedulable_nodes_is_one() {
    let app = app(&MINIMAL.replace("port: 3000", "port: 3000\n  instances: max"));
    let mut cordoned = node("a", "16");
    cordoned.spec = Some(k8s_openapi::api::core::v1::NodeSpec {
        unschedulable: Some(true),
        ..Default::default()
    });
    assert_eq!(resolve_instances(&app, &[cordoned.clone()]), 1);
    let desired = build(&app, &[cordoned], &opts()).unwrap();
    assert_eq!(desired.instances, 1);
    assert!(desired.pdb.is_none());
}

#[test]
fn service_types_and_settings() {
    let with_service = |service: &str| {
        built(&MINIMAL.replace("port: 3000", &format!("port: 3000\n  service: {service}")))
    };
    let cases = [
        ("{}", "ClusterIP", 3000, None),
        ("{type: NodePort}", "NodePort", 3000, None),
        (
            "{type: NodePort, nodePort: 30080, port: 80}",
            "NodePort",
            80,
            Some(30080),
        ),
        ("{type: LoadBalancer, port: 443}", "LoadBalancer", 443, None),
    ];
    for (service, type_, port, node_port) in cases {
        let svc = with_service(service).service.unwrap();
        let spec = svc.spec.unwrap();
        assert_eq!(spec.type_.as_deref(), Some(type_), "{service}");
        let p = &spec.ports.as_ref().unwrap()[0];
        assert_eq!(p.name.as_deref(), Some("http"));
        assert_eq!(p.port, port, "{service}");
        assert_eq!(p.target_port, Some(IntOrString::Int(3000)));
        assert_eq!(p.node_port, node_port, "{service}");
        assert_eq!(spec.selector.unwrap().len(), 2);
    }
    let annotated = with_service("{annotations: {lb.example/internal: \"true\"}}")
        .service
        .unwrap();
    assert_eq!(
        annotated.metadata.annotations.unwrap()["lb.example/internal"],
        "true"
    );
    assert!(with_service("{enabled: false}").service.is_none());
    assert!(built(&MINIMAL.replace("  port: 3000\n", ""))
        .service
        .is_none());
    let err = build_err(&MINIMAL.replace("port: 3000", "port: 3000\n  service: {nodePort: 30000}"));
    assert_eq!(err.field, "spec.service.nodePort");
}

#[test]
fn revision_follows_the_pod_template_only() {
    let base = built(MINIMAL);
    let template_annotation = |d: &Desired| {
        d.deployment
            .spec
            .as_ref()
            .unwrap()
            .template
            .metadata
            .as_ref()
            .unwrap()
            .annotations
            .as_ref()
            .unwrap()[REVISION_ANNOTATION]
            .clone()
    };
    assert_eq!(base.revision.len(), 10);
    assert_eq!(template_annotation(&base), base.revision);
    assert_eq!(
        built(MINIMAL).revision,
        base.revision,
        "same App, same revision"
    );

    let env_changed = built(&MINIMAL.replace("port: 3000", "port: 3000\n  env: {LOG: debug}"));
    assert_ne!(env_changed.revision, base.revision);
    let image_changed = built(&MINIMAL.replace("1.4.2", "1.4.3"));
    assert_ne!(image_changed.revision, base.revision);

    let scaled = built(&MINIMAL.replace("port: 3000", "port: 3000\n  instances: 5"));
    assert_eq!(
        scaled.revision, base.revision,
        "scaling is not a new revision"
    );
    let per_cpu = app(&MINIMAL.replace("port: 3000", "port: 3000\n  instances: 0"));
    let small = build(&per_cpu, &[node("a", "2")], &opts()).unwrap();
    let large = build(&per_cpu, &[node("a", "2"), node("b", "8")], &opts()).unwrap();
    assert_ne!(small.instances, large.instances);
    assert_eq!(
        small.revision, large.revision,
        "node changes are not a new revision"
    );
    let surge = built(&MINIMAL.replace("port: 3000", "port: 3000\n  rollout: {maxSurge: 3}"));
    assert_eq!(
        surge.revision, base.revision,
        "rollout settings are not in the pod"
    );

    let mut restarted = app(MINIMAL);
    restarted.status = Some(AppStatus {
        last_cron_restart: Some("2025-06-02T03:00:00Z".into()),
        restarts: Some(4),
        ..Default::default()
    });
    let restarted = build(&restarted, &[], &opts()).unwrap();
    assert_ne!(
        restarted.revision, base.revision,
        "a cron restart rolls the pods"
    );
}

#[test]
fn max_memory_restart_is_graceful_with_a_safety_net_limit() {
    let resources_of = |extra: &str| {
        built(&MINIMAL.replace("port: 3000", &format!("port: 3000\n  {extra}")))
            .deployment
            .spec
            .unwrap()
            .template
            .spec
            .unwrap()
            .containers[0]
            .resources
            .clone()
            .unwrap()
    };
    // With the shim (the default for a script): 150 % of the threshold...
    let r = resources_of("maxMemoryRestart: 300M");
    assert_eq!(r.limits.unwrap()["memory"], Quantity("450Mi".into()));
    // ... or the App's own limit, which wins.
    let r = resources_of(
        "maxMemoryRestart: 300M\n  resources: {limits: {memory: 1Gi, cpu: \"1\"}, requests: {memory: 128Mi}}",
    );
    let limits = r.limits.unwrap();
    assert_eq!(limits["memory"], Quantity("1Gi".into()));
    assert_eq!(limits["cpu"], Quantity("1".into()));
    assert_eq!(r.requests.unwrap()["memory"], Quantity("128Mi".into()));
    // Without the shim the threshold is the limit, overriding the App's.
    let r = resources_of(
        "maxMemoryRestart: 300M\n  runtimeShim: {enabled: false}\n  resources: {limits: {memory: 1Gi}}",
    );
    assert_eq!(r.limits.unwrap()["memory"], Quantity("300Mi".into()));
    let err = build_err(&MINIMAL.replace(
        "port: 3000",
        "port: 3000\n  maxMemoryRestart: 100M\n  resources: {requests: {memory: 200Mi}}",
    ));
    assert_eq!(err.field, "spec.resources.requests.memory");
    let err = build_err(&MINIMAL.replace(
        "port: 3000",
        "port: 3000\n  maxMemoryRestart: 1G\n  resources: {limits: {memory: 512Mi}}",
    ));
    assert_eq!(err.field, "spec.resources.limits.memory");
}

#[test]
fn stop_timing_edges() {
    let grace = |extra: &str| {
        built(&MINIMAL.replace("port: 3000", &format!("port: 3000\n  {extra}")))
            .deployment
            .spec
            .unwrap()
            .template
            .spec
            .unwrap()
            .termination_grace_period_seconds
    };
    assert_eq!(
        grace("killTimeout: 1\n  rollout: {drainDelayMs: 0}"),
        Some(1)
    );
    assert_eq!(
        grace("killTimeout: 0\n  rollout: {drainDelayMs: 0}"),
        Some(2),
        "0 means PM2's 1600 ms"
    );
    assert_eq!(
        grace(
            "killTimeout: 3200\n  runtimeShim: {enabled: false}\n  rollout: {drainDelayMs: 2500}"
        ),
        Some(3 + 4),
        "the 3 s pre-stop sleep leaves all of the 3.2 s kill timeout"
    );
    assert_eq!(
        grace("killTimeout: 3200\n  rollout: {drainDelayMs: 2500, drainMaxMs: 2500}"),
        Some(6),
        "the shim's drain is exact: 2.5 s + 3.2 s, rounded up once"
    );
    assert_eq!(
        grace("killTimeout: 3200\n  rollout: {drainDelayMs: 2500}"),
        Some(31),
        "the shim's drain may run 25 s past drainDelayMs"
    );
    assert_eq!(
        grace("killTimeout: 86400000\n  rollout: {drainDelayMs: 86400000}"),
        Some(172_800)
    );
    assert_eq!(grace("minUptime: 0"), Some(32));
}

#[test]
fn bad_apps_are_errors_naming_the_field_never_panics() {
    let cases = [
        ("cronRestart: not-cron", "spec.cronRestart"),
        ("env: {\"1X\": y}", "spec.env.1X"),
        ("profile: prod", "spec.profile"),
        ("killTimeout: -5", "spec.killTimeout"),
        ("rollout: {maxSurge: 0}", "spec.rollout.maxSurge"),
        (
            "minUptime: 120000\n  rollout: {progressDeadlineSeconds: 60}",
            "spec.rollout.progressDeadlineSeconds",
        ),
        (
            "runtimeShim: {enabled: true, probePort: 3000}",
            "spec.runtimeShim.probePort",
        ),
        (
            "labels: {app.kubernetes.io/name: other}",
            "spec.labels.app.kubernetes.io/name",
        ),
    ];
    for (extra, field) in cases {
        let err = build_err(&MINIMAL.replace("port: 3000", &format!("port: 3000\n  {extra}")));
        assert_eq!(err.field, field, "{extra}");
        assert!(err.to_string().starts_with(&format!("{field}: ")), "{err}");
    }
    let mut no_uid = app(MINIMAL);
    no_uid.metadata.uid = None;
    assert_eq!(
        build(&no_uid, &[], &opts()).unwrap_err().field,
        "metadata.uid"
    );
    let mut no_namespace = app(MINIMAL);
    no_namespace.metadata.namespace = None;
    assert_eq!(
        build(&no_namespace, &[], &opts()).unwrap_err().field,
        "metadata.namespace"
    );
}

#[test]
fn controller_helpers() {
    assert_eq!(max_restarts(&app(MINIMAL)), 16);
    assert_eq!(
        max_restarts(&app(
            &MINIMAL.replace("port: 3000", "port: 3000\n  maxRestarts: 2")
        )),
        2
    );
    let cron = app(&MINIMAL.replace("port: 3000", "port: 3000\n  cronRestart: \"0 4 * * *\""));
    let after: jiff::Timestamp = "2025-06-01T05:00:00Z".parse().unwrap();
    let next = next_cron_restart(&cron, after).unwrap().unwrap();
    assert_eq!(next.to_string(), "2025-06-02T04:00:00Z");
    assert_eq!(next_cron_restart(&app(MINIMAL), after).unwrap(), None);
}
