//! What a failing test prints about its namespace, so the failure can be understood from the
//! test log alone.
use std::fmt::Write as _;

use k8s_openapi::{
    api::{
        apps::v1::{Deployment, ReplicaSet},
        core::v1::{Event, Pod, PodCondition},
    },
    jiff::Timestamp,
};
use kube::{
    api::{DynamicObject, ListParams},
    discovery::{self, Scope},
    Api, Client, ResourceExt,
};

/// API group of readyroll's own resources (`apps.readyroll.dev` and any later kinds).
const READYROLL_GROUP: &str = "readyroll.dev";

/// A readable report of the namespace: Deployments, ReplicaSets, Pods, Events and every
/// readyroll.dev object. Errors while collecting become lines of the report.
pub async fn dump_namespace(client: &Client, namespace: &str) -> String {
    let mut out = format!("\n===== state of namespace {namespace} =====\n");
    deployments(client, namespace, &mut out).await;
    replica_sets(client, namespace, &mut out).await;
    pods(client, namespace, &mut out).await;
    readyroll_objects(client, namespace, &mut out).await;
    events(client, namespace, &mut out).await;
    out.push_str("===== end of namespace state =====\n");
    out
}

async fn deployments(client: &Client, namespace: &str, out: &mut String) {
    out.push_str("--- Deployments\n");
    let list = match Api::<Deployment>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await
    {
        Ok(list) => list,
        Err(err) => return line(out, format!("  cannot list: {err}")),
    };
    for d in list {
        let spec_replicas = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let status = d.status.clone().unwrap_or_default();
        line(
            out,
            format!(
                "  {} generation={} observed={} replicas={}/{} updated={} ready={} available={} unavailable={}",
                d.name_any(),
                d.metadata.generation.unwrap_or_default(),
                status.observed_generation.unwrap_or_default(),
                status.replicas.unwrap_or_default(),
                spec_replicas,
                status.updated_replicas.unwrap_or_default(),
                status.ready_replicas.unwrap_or_default(),
                status.available_replicas.unwrap_or_default(),
                status.unavailable_replicas.unwrap_or_default(),
            ),
        );
        for c in status.conditions.unwrap_or_default() {
            line(
                out,
                format!(
                    "    {}={} {} {}",
                    c.type_,
                    c.status,
                    c.reason.unwrap_or_default(),
                    c.message.unwrap_or_default()
                ),
            );
        }
    }
}

async fn replica_sets(client: &Client, namespace: &str, out: &mut String) {
    out.push_str("--- ReplicaSets\n");
    let list = match Api::<ReplicaSet>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await
    {
        Ok(list) => list,
        Err(err) => return line(out, format!("  cannot list: {err}")),
    };
    for rs in list {
        let revision = rs
            .annotations()
            .get("deployment.kubernetes.io/revision")
            .cloned()
            .unwrap_or_default();
        let owners: Vec<String> = rs
            .owner_references()
            .iter()
            .map(|o| format!("{}/{}", o.kind, o.name))
            .collect();
        let status = rs.status.clone().unwrap_or_default();
        line(
            out,
            format!(
                "  {} revision={} replicas={}/{} ready={} available={} owners=[{}]",
                rs.name_any(),
                revision,
                status.replicas,
                rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                status.ready_replicas.unwrap_or_default(),
                status.available_replicas.unwrap_or_default(),
                owners.join(",")
            ),
        );
    }
}

async fn pods(client: &Client, namespace: &str, out: &mut String) {
    out.push_str("--- Pods\n");
    let list = match Api::<Pod>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await
    {
        Ok(list) => list,
        Err(err) => return line(out, format!("  cannot list: {err}")),
    };
    for pod in list {
        let node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default();
        let status = pod.status.clone().unwrap_or_default();
        let deleting = pod
            .metadata
            .deletion_timestamp
            .as_ref()
            .map(|t| format!(" deleting-since={}", t.0))
            .unwrap_or_default();
        line(
            out,
            format!(
                "  {} node={} phase={} ip={}{}",
                pod.name_any(),
                node,
                status.phase.unwrap_or_default(),
                status.pod_ip.unwrap_or_default(),
                deleting
            ),
        );
        for c in status.conditions.unwrap_or_default() {
            pod_condition(out, &c);
        }
        for cs in status.container_statuses.unwrap_or_default() {
            let state = cs
                .state
                .map(|s| serde_json::to_string(&s).unwrap_or_default())
                .unwrap_or_default();
            line(
                out,
                format!(
                    "    container {} ready={} restarts={} state={}",
                    cs.name, cs.ready, cs.restart_count, state
                ),
            );
        }
    }
}

fn pod_condition(out: &mut String, c: &PodCondition) {
    let since = c
        .last_transition_time
        .as_ref()
        .map(|t| t.0.to_string())
        .unwrap_or_default();
    line(
        out,
        format!(
            "    {}={} since={} {} {}",
            c.type_,
            c.status,
            since,
            c.reason.clone().unwrap_or_default(),
            c.message.clone().unwrap_or_default()
        ),
    );
}

async fn readyroll_objects(client: &Client, namespace: &str, out: &mut String) {
    out.push_str(&format!("--- {READYROLL_GROUP} objects\n"));
    let group = match discovery::group(client, READYROLL_GROUP).await {
        Ok(group) => group,
        Err(err) => return line(out, format!("  no {READYROLL_GROUP} API served ({err})")),
    };
    for (resource, caps) in group.recommended_resources() {
        if caps.scope != Scope::Namespaced {
            continue;
        }
        let api = Api::<DynamicObject>::namespaced_with(client.clone(), namespace, &resource);
        match api.list(&ListParams::default()).await {
            Ok(list) => {
                for obj in list {
                    let yaml = serde_yaml::to_string(&obj)
                        .unwrap_or_else(|e| format!("<unprintable: {e}>"));
                    line(out, format!("  {} {}:", resource.kind, obj.name_any()));
                    for l in yaml.lines() {
                        line(out, format!("    {l}"));
                    }
                }
            }
            Err(err) => line(out, format!("  cannot list {}: {err}", resource.plural)),
        }
    }
}

async fn events(client: &Client, namespace: &str, out: &mut String) {
    out.push_str("--- Events (oldest first)\n");
    let list = match Api::<Event>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await
    {
        Ok(list) => list,
        Err(err) => return line(out, format!("  cannot list: {err}")),
    };
    let mut events: Vec<(Option<Timestamp>, Event)> = list
        .items
        .into_iter()
        .map(|e| (event_time(&e), e))
        .collect();
    events.sort_by_key(|(time, _)| *time);
    for (time, e) in events {
        line(
            out,
            format!(
                "  {} {} {} {}/{}: {} (x{})",
                time.map(|t| t.to_string()).unwrap_or_default(),
                e.type_.unwrap_or_default(),
                e.reason.unwrap_or_default(),
                e.involved_object.kind.unwrap_or_default(),
                e.involved_object.name.unwrap_or_default(),
                e.message.unwrap_or_default(),
                e.count.unwrap_or(1)
            ),
        );
    }
}

/// Events written by older clients have only lastTimestamp, newer ones only eventTime.
fn event_time(e: &Event) -> Option<Timestamp> {
    e.last_timestamp
        .as_ref()
        .map(|t| t.0)
        .or_else(|| e.event_time.as_ref().map(|t| t.0))
        .or_else(|| e.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

fn line(out: &mut String, text: String) {
    let _ = writeln!(out, "{text}");
}
