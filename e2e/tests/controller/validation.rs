//! The API server itself refuses invalid Apps, with a message naming the
//! field: the CRD's schema and CEL rules, generated from the Rust types.

use kube::api::{ApiResource, DynamicObject, PostParams};
use kube::core::GroupVersionKind;
use kube::Api;
use readyroll_e2e::Must;
use serde_json::{json, Value};

use crate::harness::ApiEnv;

/// A valid App to break one field at a time.
fn valid(name: &str) -> Value {
    json!({
        "apiVersion": "readyroll.dev/v1alpha1",
        "kind": "App",
        "metadata": { "name": name },
        "spec": { "image": "readyroll.invalid/app:1", "port": 8080 }
    })
}

/// Sets `value` at the dotted `path` (creating objects on the way).
fn with(mut app: Value, path: &str, value: Value) -> Value {
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
async fn invalid_apps_are_rejected_at_create_naming_the_field() {
    let Some(env) = ApiEnv::start("validation").await else {
        return;
    };
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
            "listen timeout 0",
            with(v("a08"), "spec.listenTimeout", json!(0)),
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

    // The unbroken App is accepted, so the rejections are about the fields.
    let object: DynamicObject = serde_json::from_value(valid("ok")).must("a DynamicObject");
    apps.create(&PostParams::default(), &object)
        .await
        .must("valid App accepted");
}
