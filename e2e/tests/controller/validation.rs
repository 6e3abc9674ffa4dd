//! Invalid Apps: the API server refuses what the CRD's schema and CEL rules
//! (generated from the Rust types) can see, with a message naming the field;
//! readyroll reports the rest on the App.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::events::v1::Event;
use kube::api::{ApiResource, DynamicObject, PostParams};
use kube::core::GroupVersionKind;
use kube::Api;
use readyroll::crd::App;
use readyroll_e2e::{wait_for, Must};
use serde_json::{json, Value};

use crate::harness::{ApiEnv, Env, MustSome, TIMEOUT};
use crate::observe::{app_status, condition, event_reasons, rolled_out};

/// A valid App to break one field at a time.
pub(crate) fn valid(name: &str) -> Value {
    json!({
        "apiVersion": "readyroll.dev/v1alpha1",
        "kind": "App",
        "metadata": { "name": name },
        "spec": { "image": "readyroll.invalid/app:1", "port": 8080 }
    })
}

/// Sets `value` at the dotted `path` (creating objects on the way).
pub(crate) fn with(mut app: Value, path: &str, value: Value) -> Value {
    let mut at = &mut app;
    let mut keys = path.split('.').peekable();
    while let Some(key) = keys.next() {
        if keys.peek().is_none() {
            at[key] = value;
            break;
        }
        if at.get(key).is_none() {
            at[key] = json!({});
        }
        at = &mut at[key];
    }
    app
}

/// Removes the field at the dotted `path`.
fn without(mut app: Value, path: &str) -> Value {
    let mut keys: Vec<&str> = path.split('.').collect();
    let last = keys.pop().unwrap_or_default();
    let mut at = &mut app;
    for key in keys {
        at = &mut at[key];
    }
    if let Some(object) = at.as_object_mut() {
        object.remove(last);
    }
    app
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a cluster: run by the api tier"]
async fn invalid_apps_are_rejected_at_create_naming_the_field() {
    let env = ApiEnv::start("validation").await;
    let gvk = GroupVersionKind::gvk("readyroll.dev", "v1alpha1", "App");
    let resource = ApiResource::from_gvk_with_plural(&gvk, "apps");
    let apps: Api<DynamicObject> =
        Api::namespaced_with(env.cluster.client(), env.ns.name(), &resource);
    let v = valid;
    // (what is wrong, the App, text the API server's message must contain)
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "image missing",
            without(v("a01"), "spec.image"),
            "spec.image",
        ),
        (
            "image empty",
            with(v("a02"), "spec.image", json!("  ")),
            "spec.image must not be empty",
        ),
        (
            "pull policy",
            with(v("a03"), "spec.imagePullPolicy", json!("Sometimes")),
            "spec.imagePullPolicy",
        ),
        (
            "script empty",
            with(v("a04"), "spec.script", json!("")),
            "spec.script",
        ),
        (
            "instances word",
            with(v("a05"), "spec.instances", json!("many")),
            "spec.instances",
        ),
        (
            "instances too many",
            with(v("a06"), "spec.instances", json!(10_001)),
            "spec.instances",
        ),
        (
            "exec mode",
            with(v("a07"), "spec.execMode", json!("thread")),
            "spec.execMode",
        ),
        (
            "listen timeout negative",
            with(v("a08"), "spec.listenTimeout", json!(-1)),
            "spec.listenTimeout",
        ),
        (
            "kill timeout negative",
            with(v("a09"), "spec.killTimeout", json!(-1)),
            "spec.killTimeout",
        ),
        (
            "stop signal",
            with(v("a10"), "spec.stopSignal", json!("SIGKILL")),
            "spec.stopSignal",
        ),
        (
            "memory size",
            with(v("a11"), "spec.maxMemoryRestart", json!("300MB")),
            "spec.maxMemoryRestart",
        ),
        (
            "max restarts negative",
            with(v("a12"), "spec.maxRestarts", json!(-1)),
            "spec.maxRestarts",
        ),
        (
            "cron empty",
            with(v("a13"), "spec.cronRestart", json!(" ")),
            "spec.cronRestart",
        ),
        (
            "port out of range",
            with(v("a14"), "spec.port", json!(70_000)),
            "spec.port",
        ),
        (
            "service without port",
            with(
                without(v("a15"), "spec.port"),
                "spec.service",
                json!({"type": "ClusterIP"}),
            ),
            "spec.service",
        ),
        (
            "unknown profile",
            with(v("a16"), "spec.profile", json!("production")),
            "spec.profile",
        ),
        (
            "surge 0",
            with(v("a17"), "spec.rollout.maxSurge", json!(0)),
            "spec.rollout.maxSurge",
        ),
        (
            "deadline 0",
            with(v("a18"), "spec.rollout.progressDeadlineSeconds", json!(0)),
            "spec.rollout.progressDeadlineSeconds",
        ),
        (
            "two checks",
            with(
                v("a19"),
                "spec.readiness",
                json!({"tcpSocket": {}, "exec": {"command": ["true"]}}),
            ),
            "spec.readiness",
        ),
        (
            "check path",
            with(
                v("a20"),
                "spec.readiness",
                json!({"httpGet": {"path": "health"}}),
            ),
            "spec.readiness.httpGet.path",
        ),
        (
            "node port on ClusterIP",
            with(v("a21"), "spec.service", json!({"nodePort": 30080})),
            "spec.service",
        ),
        (
            "shim port 0",
            with(v("a22"), "spec.runtimeShim.probePort", json!(0)),
            "spec.runtimeShim.probePort",
        ),
        (
            "waitReady without a way to know",
            with(
                with(v("a23"), "spec.waitReady", json!(true)),
                "spec.runtimeShim.enabled",
                json!(false),
            ),
            "spec.waitReady",
        ),
        (
            "name not DNS-1035",
            with(v("a24"), "metadata.name", json!("9lives")),
            "metadata.name",
        ),
        // What the operator used to find only after admission.
        (
            "memory size overflows",
            with(
                v("a25"),
                "spec.maxMemoryRestart",
                json!("99999999999999999999G"),
            ),
            "spec.maxMemoryRestart",
        ),
        (
            "memory size above 1 PiB",
            with(v("a26"), "spec.maxMemoryRestart", json!("1048577G")),
            "spec.maxMemoryRestart",
        ),
        (
            "memory bytes above 1 PiB",
            with(
                v("a27"),
                "spec.maxMemoryRestart",
                json!(1_125_899_906_842_625_i64),
            ),
            "spec.maxMemoryRestart",
        ),
        (
            "env name starts with a digit",
            with(v("a28"), "spec.env", json!({"1X": "a"})),
            "spec.env",
        ),
        (
            "env name with a space",
            with(v("a29"), "spec.env", json!({"MY VAR": "a"})),
            "spec.env",
        ),
        (
            "profile env name",
            with(
                with(
                    v("a30"),
                    "spec.envProfiles",
                    json!({"prod": {"$(id)": "a"}}),
                ),
                "spec.profile",
                json!("prod"),
            ),
            "spec.envProfiles",
        ),
        (
            "cron with 3 fields",
            with(v("a32"), "spec.cronRestart", json!("* * *")),
            "spec.cronRestart",
        ),
        (
            "cron with 7 fields",
            with(v("a33"), "spec.cronRestart", json!("0 0 0 * * * 2030")),
            "spec.cronRestart",
        ),
        (
            "node port below the range",
            with(
                v("a34"),
                "spec.service",
                json!({"type": "NodePort", "nodePort": 80}),
            ),
            "spec.service.nodePort",
        ),
        (
            "time zone empty",
            with(v("a35"), "spec.cronTimeZone", json!("")),
            "spec.cronTimeZone",
        ),
        (
            "shutdown message without a script",
            with(v("a36"), "spec.shutdownWithMessage", json!(true)),
            "spec.shutdownWithMessage",
        ),
        (
            "ready anyway without the shim",
            with(
                with(
                    with(v("a37"), "spec.readyOnListenTimeout", json!(true)),
                    "spec.script",
                    json!("server"),
                ),
                "spec.runtimeShim.enabled",
                json!(false),
            ),
            "spec.readyOnListenTimeout",
        ),
        (
            "memory limit below the threshold",
            with(v("a38"), "spec.memoryLimitPercent", json!(50)),
            "spec.memoryLimitPercent",
        ),
        (
            "memory check interval 0",
            with(v("a39"), "spec.memoryCheckIntervalMs", json!(0)),
            "spec.memoryCheckIntervalMs",
        ),
    ];
    assert!(cases.len() >= 15);

    let mut failures = Vec::new();
    for (what, app, field) in &cases {
        let object: DynamicObject = serde_json::from_value(app.clone()).must("a DynamicObject");
        match apps.create(&PostParams::default(), &object).await {
            Ok(_) => failures.push(format!("{what}: accepted")),
            Err(kube::Error::Api(status)) => {
                eprintln!("{what}: {} {}", status.code, status.message);
                if status.code != 422 || !status.message.contains(field) {
                    failures.push(format!(
                        "{what}: {} {:?} does not name {field}",
                        status.code, status.message
                    ));
                }
            }
            Err(other) => failures.push(format!("{what}: {other}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases wrong:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );

    // The unbroken App is accepted, so the rejections are about the fields;
    // and so is what PM2 accepts at the edges of those rules.
    let accepted: Vec<(&str, Value)> = vec![
        ("unbroken", valid("ok")),
        (
            "PM2's zero timeouts",
            with(
                with(v("ok-zero"), "spec.listenTimeout", json!(0)),
                "spec.killTimeout",
                json!(0),
            ),
        ),
        (
            "max in capitals",
            with(v("ok-max"), "spec.instances", json!("MAX")),
        ),
        (
            "shutdown message without waitReady",
            with(
                with(v("ok-shutdown"), "spec.script", json!("server")),
                "spec.shutdownWithMessage",
                json!(true),
            ),
        ),
        (
            "a 1 PiB threshold",
            with(v("ok-memory"), "spec.maxMemoryRestart", json!("1048576G")),
        ),
        (
            "cron in a time zone, with seconds",
            with(
                with(v("ok-cron"), "spec.cronRestart", json!("30 0 3 * * MON")),
                "spec.cronTimeZone",
                json!("Europe/Paris"),
            ),
        ),
        (
            "env names Kubernetes accepts",
            with(
                v("ok-env"),
                "spec.env",
                json!({"NODE_ENV": "x", "my.var-1": "y", "_A": "z"}),
            ),
        ),
        (
            "node port in range",
            with(
                v("ok-nodeport"),
                "spec.service",
                json!({"type": "NodePort", "nodePort": 30080}),
            ),
        ),
    ];
    let mut refused = Vec::new();
    for (what, app) in accepted {
        let object: DynamicObject = serde_json::from_value(app).must("a DynamicObject");
        if let Err(e) = apps.create(&PostParams::default(), &object).await {
            refused.push(format!("{what}: {e}"));
        }
    }
    assert!(
        refused.is_empty(),
        "valid Apps refused:\n{}",
        refused.join("\n")
    );
}

/// What the schema cannot see (here an annotation key Kubernetes would
/// refuse on the pods) readyroll reports on the App instead of applying.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a cluster: run by the api tier"]
async fn a_spec_the_core_rejects_is_reported_and_waits_for_a_fix() {
    let env = Env::start("invalid-spec", 4).await;
    let apps = env.ns.api::<App>();
    let mut web = env.app("web", 2);
    web.spec.annotations.insert("not a key!".into(), "x".into());
    env.apply(&web).await;

    let reported = wait_for(
        &apps,
        "web",
        app_status(|a| condition(a, "Degraded") == Some(("True".into(), "InvalidSpec".into()))),
        TIMEOUT,
    )
    .await
    .must("the invalid spec is reported");
    let degraded = reported
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Degraded").cloned())
        .must_some("Degraded condition");
    assert!(
        degraded.message.starts_with("spec.annotations.not a key!"),
        "{}",
        degraded.message
    );
    assert_eq!(degraded.observed_generation, reported.metadata.generation);
    assert!(env
        .ns
        .api::<Deployment>()
        .get_opt("web")
        .await
        .must("read")
        .is_none());
    assert_eq!(
        event_reasons(env.ns.api::<Event>(), &reported).await,
        ["InvalidSpec"]
    );

    web.spec.annotations.clear();
    env.apply(&web).await;
    let fixed = wait_for(&apps, "web", app_status(rolled_out), TIMEOUT)
        .await
        .must("the fixed spec rolls out");
    assert_eq!(
        condition(&fixed, "Degraded"),
        Some(("False".into(), "AsExpected".into()))
    );
    assert_eq!(
        event_reasons(env.ns.api::<Event>(), &fixed).await,
        ["InvalidSpec", "RolloutStarted", "RolloutComplete"],
        "reported once, not in a loop"
    );
}
