//! The rules between fields that the CRD's CEL took over from the
//! operator, and the characters apply bodies cannot carry: the API server
//! refuses each broken App naming the field, and accepts its neighbour on
//! the right side of the same rule.

use kube::api::{ApiResource, DynamicObject, PostParams};
use kube::core::GroupVersionKind;
use kube::Api;
use readyroll_e2e::Must;
use serde_json::{json, Value};

use crate::harness::ApiEnv;
use crate::validation::{valid, with};

/// `valid(name)` with each `(path, value)` set in turn.
fn app(name: &str, fields: &[(&str, Value)]) -> Value {
    fields.iter().fold(valid(name), |app, (path, value)| {
        with(app, path, value.clone())
    })
}

fn script(name: &str, fields: &[(&str, Value)]) -> Value {
    with(app(name, fields), "spec.script", json!("server.js"))
}

fn memory(requests: Value, limits: Value) -> Value {
    let mut resources = json!({});
    if !requests.is_null() {
        resources["requests"] = requests;
    }
    if !limits.is_null() {
        resources["limits"] = limits;
    }
    resources
}

fn shim_off() -> (&'static str, Value) {
    ("spec.runtimeShim.enabled", json!(false))
}

/// (what is wrong, the App, the field the refusal must name)
fn refused() -> Vec<(&'static str, Value, &'static str)> {
    let threshold = ("spec.maxMemoryRestart", json!("300M"));
    vec![
        (
            "interpreter without a script",
            app("b01", &[("spec.interpreter", json!("node"))]),
            "spec.interpreter",
        ),
        (
            "interpreter empty",
            script("b02", &[("spec.interpreter", json!(""))]),
            "spec.interpreter",
        ),
        (
            "interpreter arguments without a script",
            app("b03", &[("spec.interpreterArgs", json!(["--inspect"]))]),
            "spec.interpreterArgs",
        ),
        (
            "interpreter arguments, a script that runs itself, no shim",
            app(
                "b04",
                &[
                    ("spec.script", json!("server")),
                    ("spec.interpreterArgs", json!(["--inspect"])),
                    shim_off(),
                ],
            ),
            "spec.interpreterArgs",
        ),
        (
            "interpreter arguments with interpreter none, no shim",
            script(
                "b05",
                &[
                    ("spec.interpreter", json!("none")),
                    ("spec.interpreterArgs", json!(["--inspect"])),
                    shim_off(),
                ],
            ),
            "spec.interpreterArgs",
        ),
        (
            "shim enabled without a script",
            app("b06", &[("spec.runtimeShim.enabled", json!(true))]),
            "spec.runtimeShim.enabled",
        ),
        (
            "waitReady implies the shim, without a script",
            app("b07", &[("spec.waitReady", json!(true))]),
            "spec.waitReady",
        ),
        (
            "shim probe port is the app's port",
            script("b08", &[("spec.runtimeShim.probePort", json!(8080))]),
            "spec.runtimeShim.probePort",
        ),
        (
            "the app's port is the shim's default probe port",
            script("b09", &[("spec.port", json!(9797))]),
            "spec.port",
        ),
        (
            "deadline not above the default minUptime's second",
            app("b10", &[("spec.rollout.progressDeadlineSeconds", json!(1))]),
            "spec.rollout.progressDeadlineSeconds",
        ),
        (
            "deadline not above minUptime",
            app(
                "b11",
                &[
                    ("spec.minUptime", json!(10_500)),
                    ("spec.rollout.progressDeadlineSeconds", json!(11)),
                ],
            ),
            "spec.rollout.progressDeadlineSeconds",
        ),
        (
            "an extra env name twice",
            app(
                "b12",
                &[(
                    "spec.extraEnv",
                    json!([{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]),
                )],
            ),
            "spec.extraEnv[1]",
        ),
        (
            "memory request above the threshold, no shim",
            app(
                "b13",
                &[
                    threshold.clone(),
                    (
                        "spec.resources",
                        memory(json!({"memory": "301Mi"}), Value::Null),
                    ),
                ],
            ),
            "spec.resources.requests[memory]",
        ),
        (
            "memory request above the shim's safety net",
            script(
                "b14",
                &[
                    threshold.clone(),
                    (
                        "spec.resources",
                        memory(json!({"memory": "451Mi"}), Value::Null),
                    ),
                ],
            ),
            "spec.resources.requests[memory]",
        ),
        (
            "memory limit below the threshold, with the shim",
            script(
                "b15",
                &[
                    threshold.clone(),
                    (
                        "spec.resources",
                        memory(Value::Null, json!({"memory": "299Mi"})),
                    ),
                ],
            ),
            "spec.resources.limits[memory]",
        ),
        (
            "cpu request above its limit",
            app(
                "b16",
                &[(
                    "spec.resources",
                    memory(json!({"cpu": "2"}), json!({"cpu": "1500m"})),
                )],
            ),
            "spec.resources.requests",
        ),
        (
            "DEL in the script",
            app("b17", &[("spec.script", json!("server\u{7f}.js"))]),
            "spec.script",
        ),
        (
            "a C1 control in an argument",
            app("b18", &[("spec.args", json!(["ok", "a\u{85}"]))]),
            "spec.args[1]",
        ),
        (
            "DEL in an env value",
            app("b19", &[("spec.env", json!({"A": "x\u{7f}"}))]),
            "spec.env",
        ),
        (
            "U+FFFF in a volume of Kubernetes' own type",
            app(
                "b20",
                &[(
                    "spec.volumes",
                    json!([{"name": "d", "hostPath": {"path": "/d\u{ffff}"}}]),
                )],
            ),
            "spec.volumes[0].hostPath.path",
        ),
        (
            "DEL in a check's path",
            app(
                "b21",
                &[("spec.readiness", json!({"httpGet": {"path": "/h\u{7f}"}}))],
            ),
            "spec.readiness.httpGet.path",
        ),
    ]
}

/// The neighbours: the same fields on the allowed side of each rule.
fn accepted() -> Vec<(&'static str, Value)> {
    let threshold = ("spec.maxMemoryRestart", json!("300M"));
    vec![
        (
            "interpreter and its arguments with a script",
            script(
                "g01",
                &[
                    ("spec.interpreter", json!("node")),
                    ("spec.interpreterArgs", json!(["--inspect"])),
                ],
            ),
        ),
        (
            "interpreter arguments for the extension's interpreter, no shim",
            script(
                "g02",
                &[("spec.interpreterArgs", json!(["--inspect"])), shim_off()],
            ),
        ),
        (
            "interpreter arguments the shim resolves in the pod",
            app(
                "g03",
                &[
                    ("spec.script", json!("server")),
                    ("spec.interpreterArgs", json!(["--inspect"])),
                ],
            ),
        ),
        (
            "shim enabled with a script",
            script("g04", &[("spec.runtimeShim.enabled", json!(true))]),
        ),
        (
            "waitReady with a readiness check, no script",
            app(
                "g05",
                &[
                    ("spec.waitReady", json!(true)),
                    ("spec.readiness", json!({"exec": {"command": ["true"]}})),
                ],
            ),
        ),
        (
            "port 9797 with another probe port",
            script(
                "g06",
                &[
                    ("spec.port", json!(9797)),
                    ("spec.runtimeShim.probePort", json!(9798)),
                ],
            ),
        ),
        (
            "port 9797 without the shim",
            app("g07", &[("spec.port", json!(9797))]),
        ),
        (
            "deadline just above minUptime",
            app(
                "g08",
                &[
                    ("spec.minUptime", json!(10_500)),
                    ("spec.rollout.progressDeadlineSeconds", json!(12)),
                ],
            ),
        ),
        (
            "distinct extra env names",
            app(
                "g09",
                &[(
                    "spec.extraEnv",
                    json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]),
                )],
            ),
        ),
        (
            "memory request at the threshold, no shim",
            app(
                "g10",
                &[
                    threshold.clone(),
                    (
                        "spec.resources",
                        memory(json!({"memory": "300Mi"}), Value::Null),
                    ),
                ],
            ),
        ),
        (
            "memory request at the shim's safety net",
            script(
                "g11",
                &[
                    threshold.clone(),
                    (
                        "spec.resources",
                        memory(json!({"memory": "450Mi"}), Value::Null),
                    ),
                ],
            ),
        ),
        (
            "memory limit at the threshold, request within it, with the shim",
            script(
                "g12",
                &[
                    threshold.clone(),
                    (
                        "spec.resources",
                        memory(json!({"memory": "300Mi"}), json!({"memory": "300Mi"})),
                    ),
                ],
            ),
        ),
        (
            "cpu request at its limit",
            app(
                "g13",
                &[(
                    "spec.resources",
                    memory(json!({"cpu": "1.5"}), json!({"cpu": "1500m"})),
                )],
            ),
        ),
        (
            "tabs, newlines, C0 controls JSON escapes, and any printable text",
            app(
                "g14",
                &[
                    ("spec.args", json!(["a\tb", "line\nbreak", "\u{1}"])),
                    ("spec.env", json!({"A": "é 😀 \u{a0}\u{fffd}"})),
                    ("spec.readiness", json!({"httpGet": {"path": "/é"}})),
                ],
            ),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a cluster: run by the api tier"]
async fn cross_field_rules_and_unappliable_text_are_refused_naming_the_field() {
    let env = ApiEnv::start("admission").await;
    let gvk = GroupVersionKind::gvk("readyroll.dev", "v1alpha1", "App");
    let resource = ApiResource::from_gvk_with_plural(&gvk, "apps");
    let apps: Api<DynamicObject> =
        Api::namespaced_with(env.cluster.client(), env.ns.name(), &resource);
    let create = |app: Value| {
        let apps = apps.clone();
        async move {
            let object: DynamicObject = serde_json::from_value(app).must("a DynamicObject");
            apps.create(&PostParams::default(), &object).await
        }
    };

    let mut wrong = Vec::new();
    for (what, app, field) in refused() {
        match create(app).await {
            Ok(_) => wrong.push(format!("{what}: accepted")),
            Err(kube::Error::Api(status)) => {
                eprintln!("{what}: {} {}", status.code, status.message);
                if status.code != 422 || !status.message.contains(field) {
                    wrong.push(format!(
                        "{what}: {} {:?} does not name {field}",
                        status.code, status.message
                    ));
                }
            }
            Err(other) => wrong.push(format!("{what}: {other}")),
        }
    }
    for (what, app) in accepted() {
        if let Err(e) = create(app).await {
            wrong.push(format!("{what}: refused: {e}"));
        }
    }
    assert!(wrong.is_empty(), "wrong:\n{}", wrong.join("\n"));
}
