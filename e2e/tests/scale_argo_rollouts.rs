//! Argo Rollouts measured the way `node_scale` measures readyroll, for the columns beside
//! it in BENCHMARKS.md: its controller (built by `build-binaries.sh argo-rollouts`) runs as
//! a process of this test against the cluster, N one-replica `Rollout`s with the closest
//! strategy to readyroll's (canary, maxSurge 1, maxUnavailable 0, no steps, no traffic
//! routing) beside N plain Deployments. Its requests come from its own client metrics
//! (`controller_clientset_k8s_request_total`): it runs with the admin credentials, which the
//! API server does not tell apart from the test's.
//!
//! Run by `make bench-scale` only (needs ARGO_ROLLOUTS_BIN); no readyroll operator is
//! needed. Settings as in `node_scale`.
mod scale_support;

use std::time::{Duration, Instant};

use k8s_openapi::{
    api::apps::v1::{Deployment, ReplicaSet},
    apimachinery::pkg::apis::meta::v1::LabelSelector,
};
use kube::ResourceExt;
use readyroll_e2e::{
    argo::{
        self, rollout_healthy, ArgoController, Rollout, RolloutSpec, CONTROLLER_METRICS_RECONCILES,
    },
    bench::{BenchRecord, Idle, Memory, Restart, ScaleRecord},
    kubectl::Kubectl,
    scale::{counter_sum, ApiRequests},
    Cluster, Must,
};
use scale_support::{
    convergence, create_all, deployment_available, deployment_edited, deployment_manifest,
    edit_annotation, edit_latencies, name_of, pod_template, requests_record, template_edit,
    wait_all, wait_quiet, workload_labels, Settings, World,
};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs ARGO_ROLLOUTS_BIN and kwok: run by make bench-scale"]
async fn rollouts_converge_edit_idle_and_restart_beside_plain_deployments() {
    let started = Instant::now();
    let settings = Settings::from_env();
    let binary = argo::binary();
    let cluster = Cluster::require().await;
    let kubectl = Kubectl::require(cluster.kubeconfig());
    argo::install_crds(&kubectl, &binary);
    let world = World::start(&cluster, "scale-argo", &settings).await;
    let client = cluster.client();
    let mut controller = ArgoController::start(&binary, &cluster);
    let n = settings.objects;

    let deployments: kube::Api<Deployment> = world.plain.api();
    let plain = {
        let before = (
            ApiRequests::read(&client).await.must("metrics"),
            world.host(),
        );
        let started = Instant::now();
        let watch = wait_all(deployments.clone(), n, deployment_available, started);
        let objects = (0..n).map(|i| deployment_manifest(&world, i));
        let created = create_all(&deployments, objects, started).await;
        let available = watch.await;
        convergence(&client, before, created, available, None, None).await
    };
    eprintln!(
        "scale: {n} plain Deployments available in {} ms",
        plain.available_ms
    );

    let rollouts: kube::Api<Rollout> = world.apps.api();
    let controlled = {
        let cpu = controller.sample().cpu_seconds;
        let requests = controller.requests();
        let before = (
            ApiRequests::read(&client).await.must("metrics"),
            world.host(),
        );
        let started = Instant::now();
        let watch = wait_all(rollouts.clone(), n, rollout_healthy, started);
        let objects = (0..n).map(|i| rollout_manifest(&world, i));
        let created = create_all(&rollouts, objects, started).await;
        let available = watch.await;
        let cpu = controller.sample().cpu_seconds - cpu;
        let mut c = convergence(&client, before, created, available, Some(cpu), None).await;
        c.requests.controller = controller.requests() - requests;
        c
    };
    eprintln!(
        "scale: {n} Rollouts healthy in {} ms",
        controlled.available_ms
    );
    wait_idle(&controller).await;

    let idle = {
        let requests = controller.requests();
        let cpu = controller.sample().cpu_seconds;
        let window = Instant::now();
        tokio::time::sleep(settings.idle).await;
        Idle {
            window_ms: readyroll_e2e::bench::millis(window.elapsed()),
            controller_cpu_seconds: controller.sample().cpu_seconds - cpu,
            controller_requests: controller.requests() - requests,
        }
    };
    let settled_rss_bytes = controller.sample().rss_bytes;

    // Argo Rollouts makes the ReplicaSets itself: a Rollout's edit shows as the new
    // ReplicaSet (owned by the Rollout) carrying the new template.
    let replica_sets: kube::Api<ReplicaSet> = world.apps.api();
    let edits = settings.edits;
    let edit = edit_latencies(
        &rollouts,
        &replica_sets,
        n,
        edits,
        template_edit,
        replica_set_edited,
    )
    .await;
    let edit_floor = edit_latencies(
        &deployments,
        &deployments,
        n,
        edits,
        template_edit,
        deployment_edited,
    )
    .await;
    eprintln!(
        "scale: edit → ReplicaSet {:?} (its own write {:?}); write + watch floor {:?}",
        edit.seen, edit.written, edit_floor.seen
    );
    // VmHWM misses a peak whose memory went back with madvise (Go's scavenger does that,
    // munmap alone updates it): the RSS seen earlier is a peak too.
    let peak_rss_bytes = controller.sample().peak_rss_bytes.max(settled_rss_bytes);
    // The edits roll pods: the restart is measured once they are done.
    wait_idle(&controller).await;

    let restart = {
        let before = ApiRequests::read(&client).await.must("metrics");
        let restarted = Instant::now();
        controller.restart(&binary, &cluster);
        wait_reconciled(&controller, n).await;
        let quiet_since = wait_idle(&controller).await;
        let after = ApiRequests::read(&client).await.must("metrics");
        let mut requests = requests_record(after.since(&before), None);
        requests.controller = controller.requests();
        Restart {
            idle_ms: readyroll_e2e::bench::millis(quiet_since.saturating_duration_since(restarted)),
            controller_cpu_seconds: controller.sample().cpu_seconds,
            requests,
        }
    };
    eprintln!("scale: restart → idle in {} ms", restart.idle_ms);

    let record = ScaleRecord {
        controller: "argo-rollouts".to_owned(),
        objects: n,
        build: String::new(),
        recorded_at: BenchRecord::now_rfc3339(),
        test_duration_ms: readyroll_e2e::bench::millis(started.elapsed()),
        environment: world
            .environment(&client, format!("rollouts-controller {}", argo::version()))
            .await,
        plain,
        controlled,
        restart: Some(restart),
        edit: edit.seen,
        edit_write: edit.written,
        edit_floor: edit_floor.seen,
        memory: Memory {
            peak_rss_bytes,
            settled_rss_bytes,
        },
        idle,
    };
    drop(controller);
    scale_support::save(&record, &settings);
    world.finish(&cluster).await;
    argo::remove_crds(&kubectl, &binary);
}

fn rollout_manifest(world: &World, i: usize) -> Rollout {
    Rollout::new(
        &name_of(i),
        RolloutSpec {
            replicas: 1,
            selector: LabelSelector {
                match_labels: Some(workload_labels(i)),
                ..Default::default()
            },
            template: pod_template(world, i),
            strategy: json!({"canary": {"maxSurge": 1, "maxUnavailable": 0}}),
        },
    )
}

/// A ReplicaSet of a Rollout: (the Rollout's name, its template's edit annotation).
fn replica_set_edited(rs: &ReplicaSet) -> Option<(String, String)> {
    let owner = rs
        .owner_references()
        .iter()
        .find(|o| o.kind == "Rollout")?
        .name
        .clone();
    Some((
        owner,
        edit_annotation(rs.spec.as_ref()?.template.as_ref()?)?,
    ))
}

/// Waits until the controller has sent no request for a while.
async fn wait_idle(controller: &ArgoController) -> Instant {
    wait_quiet(|| async { controller.requests() }, Duration::from_secs(600)).await
}

/// Waits until a restarted controller has reconciled `rollouts` Rollouts.
async fn wait_reconciled(controller: &ArgoController, rollouts: usize) {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let text = controller.metrics().unwrap_or_default();
        if counter_sum(&text, CONTROLLER_METRICS_RECONCILES) >= rollouts as f64 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the restarted rollouts-controller did not reconcile {rollouts} Rollouts within 600 s"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
