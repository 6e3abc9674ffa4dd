//! The chaos tier (`make test-chaos`): faults in the middle of rollouts, on the real node,
//! with the operator installed by its chart with two replicas. Every case runs under
//! continuous load and asserts that no request failed, that every App settled on its
//! desired or last good revision within a bound, and (from the API server's audit log) that
//! no replica wrote while it did not hold the leader Lease. Each case writes a record for
//! the "faults survived" table of BENCHMARKS.md.
//!
//! The cases run one at a time in the order of their names (`case_N_`), sharing one
//! installed operator. The API server and kubelet cases stop components of the shared local
//! cluster: a guard starts them again whatever happens, and `make test-chaos` checks the
//! cluster afterwards.
mod chaos_support;
mod node_support;

use std::time::{Duration, Instant};

use chaos_support::{
    app::{ChaosApp, Release},
    component::Outage,
    operator::Operator,
    seed::Random,
    start_load, Case, Outcome, OPERATOR_REPLICAS, SETTLE_BOUND,
};
use k8s_openapi::api::{apps::v1::Deployment, core::v1::Service};
use kube::{
    api::{DeleteParams, LogParams, Patch, PatchParams},
    Api, ResourceExt,
};
use node_support::{wait_serving, TESTAPP, TESTAPP_PORT};
use readyroll::crd::{App, CONDITION_DEGRADED};
use readyroll_e2e::{bench::Measurement, wait_for, Must};
use serde_json::json;

/// Rollouts of the SIGKILL case; the 20 take about 6 minutes on two CPUs.
const KILL_ROLLOUTS_ENV: &str = "READYROLL_CHAOS_KILL_ROLLOUTS";
const DEFAULT_KILL_ROLLOUTS: usize = 20;
/// A progress deadline that a never-ready release reaches soon; and one that a good
/// rollout stalled by a 30 s outage does not reach.
const SHORT_DEADLINE_S: u32 = 12;
const LONG_DEADLINE_S: u32 = 120;
const API_OUTAGE: Duration = Duration::from_secs(30);
const KUBELET_OUTAGE: Duration = Duration::from_secs(10);
/// CPU both replicas together may use during the 30 s API outage: a bounded retry with
/// backoff, not a spin (a spinning elector used a whole core).
const OUTAGE_CPU_BOUND: Duration = Duration::from_secs(3);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real node and the operator installed by make test-chaos"]
async fn case_1_every_replica_sigkilled_at_random_moments_of_rollouts_and_rollbacks() {
    let case = Case::start("chaos_operator_sigkill", "chaos-kill").await;
    let mut random = Random::from_env("operator SIGKILL");
    let rollouts = std::env::var(KILL_ROLLOUTS_ENV)
        .ok()
        .map(|n| {
            n.parse()
                .unwrap_or_else(|_| panic!("{KILL_ROLLOUTS_ENV}={n:?} is not a count"))
        })
        .unwrap_or(DEFAULT_KILL_ROLLOUTS);
    let (app, addr) = case.app("web", SHORT_DEADLINE_S).await;
    let load = start_load(addr);
    let mut last_good = Release::good("v1");
    let mut recovery = Duration::ZERO;
    let mut rollbacks = 0;
    for i in 1..=rollouts {
        // Every third release never becomes ready: the kill lands in its rollback.
        let failing = i % 3 == 2;
        let version = format!("v{}", i + 1);
        let release = if failing {
            Release::never_ready(&version)
        } else {
            Release::good(&version)
        };
        app.apply(&release).await;
        if failing {
            app.wait_rollback_decided(SETTLE_BOUND).await;
        }
        let delay = random.below(Duration::from_secs(if failing { 3 } else { 5 }));
        tokio::time::sleep(delay).await;
        let pods = case.operator.pods().await;
        for pod in &pods {
            Operator::sigkill(pod);
        }
        let killed = Instant::now();
        for pod in &pods {
            case.operator.replace(&pod.name_any()).await;
        }
        if failing {
            app.wait_rolled_back(&last_good, SETTLE_BOUND).await;
            rollbacks += 1;
        } else {
            app.wait_settled(&release, SETTLE_BOUND).await;
            last_good = release;
        }
        let took = killed.elapsed();
        recovery = recovery.max(took);
        eprintln!(
            "rollout {i}/{rollouts} ({version}{}): {} replicas SIGKILLed {:.1} s in, settled {:.1} s later",
            if failing { ", rolled back" } else { "" },
            pods.len(),
            delay.as_secs_f64(),
            took.as_secs_f64()
        );
        // Every kill hits a whole operator, not one still coming up from the last.
        case.operator
            .wait_healthy(OPERATOR_REPLICAS, SETTLE_BOUND)
            .await;
    }
    let detail = format!(
        "every replica SIGKILLed once per rollout, {rollbacks} of them mid-rollback; seed {}",
        random.seed_text()
    );
    case.finish(
        load,
        Outcome {
            scenario: "operator SIGKILLed at a random moment of each rollout".to_owned(),
            rollouts,
            recovery,
            detail,
            measurements: Vec::new(),
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real node and the operator installed by make test-chaos"]
async fn case_2_the_leader_sigkilled_mid_rollout_is_replaced_by_the_standby() {
    let case = Case::start("chaos_leader_killed", "chaos-leader").await;
    let (app, addr) = case.app("web", LONG_DEADLINE_S).await;
    let load = start_load(addr);
    let leader = case
        .operator
        .lease_state()
        .await
        .holder
        .expect("a Lease holder");
    let v2 = Release::good("v2");
    app.apply(&v2).await;
    app.wait_rolling(&v2, SETTLE_BOUND).await;
    Operator::sigkill(&case.operator.pod(&leader).await);
    let killed = Instant::now();
    // Its pod goes too, as with a lost node: the kubelet would otherwise restart the
    // process within about 10 s, and a restarted leader keeps its Lease (same identity).
    case.operator.replace(&leader).await;
    let successor = case.operator.wait_new_holder(&leader, SETTLE_BOUND).await;
    let takeover = killed.elapsed();
    app.wait_settled(&v2, SETTLE_BOUND).await;
    let recovery = killed.elapsed();
    // The new leader carries on with the next release by itself.
    let v3 = Release::good("v3");
    app.apply(&v3).await;
    app.wait_settled(&v3, SETTLE_BOUND).await;
    case.finish(
        load,
        Outcome {
            scenario: "the leader of two replicas SIGKILLed mid-rollout".to_owned(),
            rollouts: 2,
            recovery,
            detail: format!(
                "{successor} took the Lease {:.1} s after {leader} died",
                takeover.as_secs_f64()
            ),
            measurements: vec![Measurement {
                name: "takeover by the standby".to_owned(),
                expected: "≤ the Lease duration (8 s) after the kill".to_owned(),
                measured_ms: readyroll_e2e::bench::millis(takeover),
                detail: format!("{leader} SIGKILLed mid-rollout, {successor} took over"),
            }],
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real node and the operator installed by make test-chaos"]
async fn case_7_the_api_server_stopped_for_30_s_mid_rollout() {
    let case = Case::start("chaos_apiserver_outage", "chaos-apiserver").await;
    let (app, addr) = case.app("web", LONG_DEADLINE_S).await;
    let load = start_load(addr);
    let v2 = Release::good("v2");
    app.apply(&v2).await;
    app.wait_rolling(&v2, SETTLE_BOUND).await;
    let pods = case.operator.pods().await;
    let outage_began = k8s_openapi::jiff::Timestamp::now();
    let cpu_before = Operator::cpu_time(&pods);
    let outage = Outage::begin("kube-apiserver");
    tokio::time::sleep(API_OUTAGE).await;
    let cpu = Operator::cpu_time(&pods).saturating_sub(cpu_before);
    let outage_ended = k8s_openapi::jiff::Timestamp::now();
    let down = outage.end();
    let restarted = Instant::now();
    let v1 = Release::good("v1");
    let settled = app
        .wait_settled_or_rolled_back(&v2, &v1, SETTLE_BOUND)
        .await;
    let recovery = restarted.elapsed();
    eprintln!("after the outage the App settled on {}", settled.version);
    let log_lines = log_lines_between(&case, &pods, outage_began, outage_ended).await;
    eprintln!(
        "API server down {:.1} s: the operator used {:.2} s of CPU and logged {log_lines} lines meanwhile",
        down.as_secs_f64(),
        cpu.as_secs_f64()
    );
    assert!(
        cpu <= OUTAGE_CPU_BOUND,
        "the operator used {cpu:?} of CPU during a {down:?} API outage (bound {OUTAGE_CPU_BOUND:?})"
    );
    case.finish(
        load,
        Outcome {
            scenario: "kube-apiserver stopped for 30 s mid-rollout".to_owned(),
            rollouts: 1,
            recovery,
            detail: format!(
                "{} replicas used {:.2} s CPU and logged {log_lines} lines during the outage; \
                 settled on {}{}",
                pods.len(),
                cpu.as_secs_f64(),
                settled.version,
                if settled.version == v2.version {
                    ""
                } else {
                    " (the rollout passed its progress deadline during the outage)"
                }
            ),
            measurements: vec![Measurement {
                name: "operator CPU during a 30 s API outage".to_owned(),
                expected: format!("≤ {} s (both replicas)", OUTAGE_CPU_BOUND.as_secs()),
                measured_ms: readyroll_e2e::bench::millis(cpu),
                detail: format!("{log_lines} log lines during the outage"),
            }],
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real node and the operator installed by make test-chaos"]
async fn case_3_the_kubelet_restarted_mid_rollout() {
    let case = Case::start("chaos_kubelet_restart", "chaos-kubelet").await;
    let (app, addr) = case.app("web", LONG_DEADLINE_S).await;
    let load = start_load(addr);
    let v2 = Release::good("v2");
    app.apply(&v2).await;
    app.wait_rolling(&v2, SETTLE_BOUND).await;
    let outage = Outage::begin("kubelet");
    tokio::time::sleep(KUBELET_OUTAGE).await;
    let down = outage.end();
    let restarted = Instant::now();
    let v1 = Release::good("v1");
    let settled = app
        .wait_settled_or_rolled_back(&v2, &v1, SETTLE_BOUND)
        .await;
    let recovery = restarted.elapsed();
    eprintln!("after the outage the App settled on {}", settled.version);
    // The node runs new pods again afterwards.
    let v3 = Release::good("v3");
    app.apply(&v3).await;
    app.wait_settled(&v3, SETTLE_BOUND).await;
    case.finish(
        load,
        Outcome {
            scenario: "the kubelet stopped for 10 s and restarted mid-rollout".to_owned(),
            rollouts: 2,
            recovery,
            detail: format!(
                "kubelet down {:.1} s (until the node was Ready again)",
                down.as_secs_f64()
            ),
            measurements: Vec::new(),
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real node and the operator installed by make test-chaos"]
async fn case_4_the_deployment_deleted_by_hand_mid_rollout() {
    let case = Case::start("chaos_deployment_deleted", "chaos-deleted").await;
    let (app, addr) = case.app("web", LONG_DEADLINE_S).await;
    let load = start_load(addr);
    let v2 = Release::good("v2");
    app.apply(&v2).await;
    app.wait_rolling(&v2, SETTLE_BOUND).await;
    let old_uid = app.deployments.get("web").await.must("Deployment").uid();
    // What `kubectl delete deployment web` does: background propagation.
    app.deployments
        .delete("web", &DeleteParams::background())
        .await
        .must("delete the Deployment");
    let deleted = Instant::now();
    let recreated = wait_for(
        &app.deployments,
        "web",
        move |d: Option<&Deployment>| d.is_some_and(|d| d.uid() != old_uid),
        SETTLE_BOUND,
    )
    .await
    .must("the operator recreates the Deployment");
    let recreated_after = deleted.elapsed();
    app.wait_settled(&v2, SETTLE_BOUND).await;
    let recovery = deleted.elapsed();
    case.finish(
        load,
        Outcome {
            scenario: "the Deployment deleted by hand mid-rollout".to_owned(),
            rollouts: 1,
            recovery,
            detail: format!(
                "recreated ({}) {:.1} s after the delete",
                recreated.uid().unwrap_or_default(),
                recreated_after.as_secs_f64()
            ),
            measurements: Vec::new(),
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real node and the operator installed by make test-chaos"]
async fn case_5_a_foreign_service_and_deployment_of_the_same_name_stay_untouched() {
    let case = Case::start("chaos_foreign_objects", "chaos-foreign").await;
    let (node_port, addr) = case.env.node_port().await;
    let deployments: Api<Deployment> = case.env.ns.api();
    let services: Api<Service> = case.env.ns.api();
    let other_team = PatchParams::apply("other-team");
    let labels = json!({"app.kubernetes.io/instance": "shop"});
    let their_deployment = deployments
        .patch(
            "shop",
            &other_team,
            &Patch::Apply(json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "shop"},
                "spec": {
                    "replicas": 2,
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {"containers": [{
                            "name": "server", "image": format!("{TESTAPP}:v1"),
                            "imagePullPolicy": "Never",
                            "env": [{"name": "READY_DELAY_MS", "value": "300"}],
                            "ports": [{"containerPort": TESTAPP_PORT}],
                            "readinessProbe": {"httpGet": {"path": "/healthz", "port": TESTAPP_PORT}, "periodSeconds": 1},
                        }]},
                    },
                },
            })),
        )
        .await
        .must("the other team's Deployment");
    let their_service = services
        .patch(
            "shop",
            &other_team,
            &Patch::Apply(json!({
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "shop"},
                "spec": {"type": "NodePort", "selector": labels,
                         "ports": [{"port": 80, "targetPort": TESTAPP_PORT, "nodePort": node_port}]},
            })),
        )
        .await
        .must("the other team's Service");
    wait_serving(addr, "v1").await;
    let load = start_load(addr);
    let started = Instant::now();
    let (_, own_port_addr) = case.env.node_port().await;
    let app = ChaosApp::new(
        &case.env.ns,
        "shop",
        i32::from(own_port_addr.port()),
        LONG_DEADLINE_S,
    );
    app.apply(&Release::good("v2")).await;
    let reported = wait_for(
        &app.apps,
        "shop",
        |a: Option<&App>| degraded_reason(a).is_some_and(|(r, _)| r == "OwnershipConflict"),
        SETTLE_BOUND,
    )
    .await
    .must("the App reports the conflict");
    let reported_after = started.elapsed();
    let (_, message) = degraded_reason(Some(&reported)).expect("Degraded");
    assert!(
        message.contains("shop") && message.contains("other-team"),
        "the condition names the object and its owner: {message}"
    );
    let events = case.events("shop").await;
    assert!(
        events.iter().any(|(r, _)| r == "OwnershipConflict"),
        "an OwnershipConflict Event: {events:?}"
    );
    // A few more reconciles must not change that.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let deployment_now = deployments.get("shop").await.must("Deployment");
    let service_now = services.get("shop").await.must("Service");
    assert!(
        deployment_now.owner_references().is_empty(),
        "Deployment adopted"
    );
    assert!(service_now.owner_references().is_empty(), "Service adopted");
    assert_eq!(
        deployment_now.metadata.generation, their_deployment.metadata.generation,
        "the other team's Deployment was changed"
    );
    assert_eq!(
        serde_json::to_value(&deployment_now.spec).must("json"),
        serde_json::to_value(&their_deployment.spec).must("json"),
        "the other team's Deployment spec was changed"
    );
    assert_eq!(
        service_now.resource_version(),
        their_service.resource_version(),
        "the other team's Service was written"
    );
    case.finish(
        load,
        Outcome {
            scenario: "a foreign Service and Deployment of the App's name".to_owned(),
            rollouts: 0,
            recovery: reported_after,
            detail: format!("left untouched; Degraded: {message}"),
            measurements: Vec::new(),
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real node and the operator installed by make test-chaos"]
async fn case_6_an_app_whose_deployment_is_refused_leaves_the_others_unaffected() {
    let case = Case::start("chaos_deployment_refused", "chaos-refused").await;
    let (steady, addr) = case.app("steady", LONG_DEADLINE_S).await;
    let load = start_load(addr);
    let (_, broken_addr) = case.env.node_port().await;
    let broken = ChaosApp::new(
        &case.env.ns,
        "broken",
        i32::from(broken_addr.port()),
        LONG_DEADLINE_S,
    );
    broken.apply(&Release::good("v1")).await;
    // The CRD cannot know this name is invalid: the API server refuses the Deployment.
    broken
        .apps
        .patch(
            "broken",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"serviceAccountName": "Bad_Name"}})),
        )
        .await
        .must("set an invalid service account name");
    let started = Instant::now();
    let v2 = Release::good("v2");
    steady.apply(&v2).await;
    let reported = wait_for(
        &broken.apps,
        "broken",
        |a: Option<&App>| degraded_reason(a).is_some_and(|(r, _)| r == "ApplyFailed"),
        SETTLE_BOUND,
    )
    .await
    .must("the refusal is reported");
    let (_, message) = degraded_reason(Some(&reported)).expect("Degraded");
    assert!(
        message.contains("Deployment broken")
            && message.contains("spec.template.spec.serviceAccountName"),
        "the condition names the object and the field: {message}"
    );
    let events = case.events("broken").await;
    assert!(
        events
            .iter()
            .any(|(r, m)| r == "ApplyFailed" && m.contains("serviceAccountName")),
        "an ApplyFailed Event naming the field: {events:?}"
    );
    steady.wait_settled(&v2, SETTLE_BOUND).await;
    let recovery = started.elapsed();
    case.finish(
        load,
        Outcome {
            scenario: "an App whose Deployment the API server refuses, beside a rolling one"
                .to_owned(),
            rollouts: 1,
            recovery,
            detail: format!("the other App rolled meanwhile; Degraded: {message}"),
            measurements: Vec::new(),
        },
    )
    .await;
}

/// Reason and message of the App's Degraded condition when it is True.
fn degraded_reason(app: Option<&App>) -> Option<(String, String)> {
    app?.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == CONDITION_DEGRADED && c.status == "True")
        .map(|c| (c.reason.clone(), c.message.clone()))
}

/// Log lines the operator pods wrote between `from` and `to`.
async fn log_lines_between(
    case: &Case,
    pods: &[k8s_openapi::api::core::v1::Pod],
    from: k8s_openapi::jiff::Timestamp,
    to: k8s_openapi::jiff::Timestamp,
) -> usize {
    let api: Api<k8s_openapi::api::core::v1::Pod> =
        Api::namespaced(case.env.cluster.client(), &case.operator.namespace);
    let mut lines = 0;
    for pod in pods {
        let params = LogParams {
            timestamps: true,
            since_time: Some(from),
            ..LogParams::default()
        };
        let text = api
            .logs(&pod.name_any(), &params)
            .await
            .must("operator logs");
        lines += text
            .lines()
            .filter_map(|l| l.split_once(' '))
            .filter_map(|(t, _)| t.parse::<k8s_openapi::jiff::Timestamp>().ok())
            .filter(|t| *t <= to)
            .count();
    }
    lines
}
