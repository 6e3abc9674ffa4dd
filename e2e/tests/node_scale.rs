//! readyroll at scale, beside the same number of plain Deployments in the same run: N
//! one-instance Apps on kwok nodes, reconciled by the operator the chart installed (its pod
//! runs on this machine's real node, so its memory and CPU time are read from `/proc`).
//!
//! Measured and written as a scale record (`make bench-scale` runs it at 500, 2,000 and
//! 10,000; the node tier runs it small, to prove the harness):
//! - cold creation → every object Available, for N plain Deployments and then N Apps;
//! - the operator's CPU seconds, peak and settled RSS, and the API requests (the API
//!   server's counters: by verb and resource for every client, and readyroll's own through
//!   the flow schema its service account falls in);
//! - App edit → Deployment template updated, on a watch (patches sent from this process),
//!   and the same for plain Deployments: the API server's own write + watch floor;
//! - idle CPU and requests over a window with N Apps present;
//! - the operator restarted with N Apps present → every App reconciled and idle again.
//!
//! Settings: READYROLL_SCALE_APPS (N, default 50), READYROLL_SCALE_EDITS (default 200),
//! READYROLL_SCALE_IDLE_SECONDS (default 20).
mod scale_support;

use std::time::{Duration, Instant};

use k8s_openapi::api::{apps::v1::Deployment, core::v1::Pod};
use kube::{
    api::{DeleteParams, ListParams},
    Api, ResourceExt,
};
use readyroll::crd::App;
use readyroll_e2e::{
    bench::{Idle, Memory, Restart, ScaleRecord},
    in_cluster::{require_operator, InstalledOperator},
    scale::{counter_sum, http_get, ApiRequests, Process, SERVICE_ACCOUNTS_FLOW_SCHEMA},
    Cluster, Must,
};
use scale_support::{
    app_available, app_edit, app_manifest, convergence, create_all, deployment_available,
    deployment_edited, deployment_manifest, edit_latencies, requests_record, template_edit,
    wait_all, wait_idle, Settings, World,
};

/// Process name of the operator in its container.
const OPERATOR_COMM: &str = "readyroll";
/// The chart's metrics port (values.yaml `metrics.port`).
const OPERATOR_METRICS_PORT: u16 = 8080;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the installed operator on this machine's node and kwok: run by the node tier and make bench-scale"]
async fn apps_converge_edit_idle_and_restart_beside_plain_deployments() {
    let started = Instant::now();
    let settings = Settings::from_env();
    let cluster = Cluster::require().await;
    let operator = require_operator(&cluster, Duration::from_secs(120))
        .await
        .must("the operator installed in the cluster");
    let world = World::start(&cluster, "scale", &settings).await;
    let client = cluster.client();
    let pod = operator_pod(&client, &operator, None).await;
    let process = Process::of_pod(&pod.uid().unwrap_or_default(), OPERATOR_COMM)
        .must("the operator's process on this machine");
    let n = settings.objects;

    // The cluster's own controllers alone: N plain Deployments.
    let deployments: Api<Deployment> = world.plain.api();
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

    // The same through readyroll: N Apps.
    let apps: Api<App> = world.apps.api();
    let cpu_before = process.sample().must("operator stats").cpu_seconds;
    let controlled = {
        let before = (
            ApiRequests::read(&client).await.must("metrics"),
            world.host(),
        );
        let started = Instant::now();
        let watch = wait_all(apps.clone(), n, app_available, started);
        let created = create_all(&apps, (0..n).map(|i| app_manifest(&world, i)), started).await;
        let available = watch.await;
        let cpu = process.sample().must("operator stats").cpu_seconds - cpu_before;
        let schema = Some(SERVICE_ACCOUNTS_FLOW_SCHEMA);
        convergence(&client, before, created, available, Some(cpu), schema).await
    };
    eprintln!(
        "scale: {n} Apps available in {} ms",
        controlled.available_ms
    );
    wait_idle(&client, Duration::from_secs(600)).await;

    // Idle with N Apps present.
    let idle = {
        let requests = ApiRequests::read(&client).await.must("metrics");
        let cpu = process.sample().must("operator stats").cpu_seconds;
        let window = Instant::now();
        tokio::time::sleep(settings.idle).await;
        let after = ApiRequests::read(&client).await.must("metrics");
        Idle {
            window_ms: millis(window.elapsed()),
            controller_cpu_seconds: process.sample().must("operator stats").cpu_seconds - cpu,
            controller_requests: after
                .since(&requests)
                .flow_schema(SERVICE_ACCOUNTS_FLOW_SCHEMA),
        }
    };
    let settled_rss_bytes = process.sample().must("operator stats").rss_bytes;

    // Edits, one at a time, on the wire: the App's pod annotation reaches its Deployment's
    // template; a plain Deployment's template annotation is the API server's floor.
    let app_deployments: Api<Deployment> = world.apps.api();
    let edits = settings.edits;
    let edit = edit_latencies(
        &apps,
        &app_deployments,
        n,
        edits,
        app_edit,
        deployment_edited,
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
        "scale: edit → Deployment {:?} (its own write {:?}); write + watch floor {:?}",
        edit.seen, edit.written, edit_floor.seen
    );
    // VmHWM misses a peak whose memory went back with madvise (munmap alone updates it):
    // the RSS seen earlier is a peak too.
    let peak_before_restart = process
        .sample()
        .must("operator stats")
        .peak_rss_bytes
        .max(settled_rss_bytes);
    // The edits roll pods: the restart is measured once they are done.
    wait_idle(&client, Duration::from_secs(600)).await;

    // Restart with N Apps present, until every App was reconciled and the operator idle.
    let restart = {
        let before = ApiRequests::read(&client).await.must("metrics");
        let restarted = Instant::now();
        Api::<Pod>::namespaced(client.clone(), &operator.namespace)
            .delete(&pod.name_any(), &DeleteParams::default())
            .await
            .must("delete the operator pod");
        let new_pod = operator_pod(&client, &operator, Some(&pod.uid().unwrap_or_default())).await;
        let new_process = Process::of_pod(&new_pod.uid().unwrap_or_default(), OPERATOR_COMM)
            .must("the restarted operator's process");
        wait_reconciled(&client, &operator, &new_pod, n).await;
        let quiet_since = wait_idle(&client, Duration::from_secs(600)).await;
        let after = ApiRequests::read(&client).await.must("metrics");
        let requests = after.since(&before);
        Restart {
            idle_ms: millis(quiet_since.saturating_duration_since(restarted)),
            controller_cpu_seconds: new_process.sample().must("operator stats").cpu_seconds,
            requests: requests_record(requests, Some(SERVICE_ACCOUNTS_FLOW_SCHEMA)),
        }
    };
    eprintln!("scale: restart → idle in {} ms", restart.idle_ms);

    let record = ScaleRecord {
        controller: "readyroll".to_owned(),
        objects: n,
        build: std::env::var("READYROLL_SCALE_OPERATOR_BUILD").unwrap_or_default(),
        recorded_at: readyroll_e2e::bench::BenchRecord::now_rfc3339(),
        test_duration_ms: millis(started.elapsed()),
        environment: world
            .environment(&client, operator_build(&client, &operator).await)
            .await,
        plain,
        controlled,
        restart: Some(restart),
        edit: edit.seen,
        edit_write: edit.written,
        edit_floor: edit_floor.seen,
        memory: Memory {
            peak_rss_bytes: peak_before_restart,
            settled_rss_bytes,
        },
        idle,
    };
    scale_support::save(&record, &settings);
    world.finish(&cluster).await;
}

/// The operator's image and the fingerprint of its binaries (install-operator.sh's pod
/// annotation).
async fn operator_build(client: &kube::Client, operator: &InstalledOperator) -> String {
    let deployment = Api::<Deployment>::namespaced(client.clone(), &operator.namespace)
        .get(&operator.deployment)
        .await
        .must("the operator's Deployment");
    let fingerprint = deployment
        .spec
        .and_then(|s| s.template.metadata)
        .and_then(|m| m.annotations)
        .and_then(|a| a.get("readyroll.dev/binaries").cloned());
    match fingerprint {
        Some(f) => format!("{}, binaries {f}", operator.image),
        None => operator.image.clone(),
    }
}

/// The operator's running, ready pod (not the one with `old_uid`).
async fn operator_pod(
    client: &kube::Client,
    operator: &InstalledOperator,
    old_uid: Option<&str>,
) -> Pod {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &operator.namespace);
    let deployment = deployments
        .get(&operator.deployment)
        .await
        .must("the operator's Deployment");
    let selector = deployment
        .spec
        .and_then(|s| s.selector.match_labels)
        .unwrap_or_default()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    let pods: Api<Pod> = Api::namespaced(client.clone(), &operator.namespace);
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let list = pods
            .list(&ListParams::default().labels(&selector))
            .await
            .must("list the operator's pods");
        if let Some(pod) = list.into_iter().find(|p| {
            p.metadata.deletion_timestamp.is_none()
                && p.uid().as_deref() != old_uid
                && readyroll_e2e::conditions::is_pod_ready(p)
        }) {
            return pod;
        }
        assert!(
            Instant::now() < deadline,
            "no ready operator pod ({selector}) within 180 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until the operator in `pod` has reconciled at least `apps` Apps, from its own
/// metrics (read through the API server's pod proxy).
async fn wait_reconciled(
    client: &kube::Client,
    operator: &InstalledOperator,
    pod: &Pod,
    apps: usize,
) {
    let path = format!(
        "/api/v1/namespaces/{}/pods/{}:{OPERATOR_METRICS_PORT}/proxy/metrics",
        operator.namespace,
        pod.name_any()
    );
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let done = match client.request_text(http_get(&path)).await {
            Ok(text) => counter_sum(&text, "readyroll_reconciliations_total") >= apps as f64,
            Err(e) => {
                eprintln!("scale: reading the operator's metrics: {e}");
                false
            }
        };
        if done {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the restarted operator did not reconcile {apps} Apps within 600 s"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn millis(d: Duration) -> u64 {
    readyroll_e2e::bench::millis(d)
}
