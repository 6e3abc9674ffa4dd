//! The installed operator's replicas as the chaos cases see them: their pods, which one
//! holds the leader Lease, and their processes on this machine (the node is local), to
//! SIGKILL them and read the CPU time they used.
use std::time::{Duration, Instant};

use k8s_openapi::{
    api::{apps::v1::Deployment, coordination::v1::Lease, core::v1::Pod},
    jiff::{SignedDuration, Timestamp},
};
use kube::{
    api::{DeleteParams, ListParams},
    Api, ResourceExt,
};
use readyroll_e2e::{
    conditions::is_pod_ready,
    in_cluster::{InstalledOperator, OPERATOR_SELECTOR},
    Cluster,
};

const POLL: Duration = Duration::from_millis(250);
/// Linux reports a process's CPU time in clock ticks of 1/100 s (USER_HZ on every
/// architecture Kubernetes nodes run).
const TICKS_PER_SECOND: u64 = 100;

pub struct Operator {
    pub namespace: String,
    /// The chart names the Lease after the release: `<fullname>-leader`.
    pub lease: String,
    pods: Api<Pod>,
    leases: Api<Lease>,
    deployments: Api<Deployment>,
    deployment: String,
}

/// The Lease as a replica would judge it now.
#[derive(Debug, Clone)]
pub struct LeaseState {
    pub holder: Option<String>,
    pub valid: bool,
}

impl Operator {
    pub fn new(cluster: &Cluster, installed: &InstalledOperator) -> Operator {
        let ns = installed.namespace.as_str();
        Operator {
            namespace: installed.namespace.clone(),
            lease: format!("{}-leader", installed.deployment),
            pods: Api::namespaced(cluster.client(), ns),
            leases: Api::namespaced(cluster.client(), ns),
            deployments: Api::namespaced(cluster.client(), ns),
            deployment: installed.deployment.clone(),
        }
    }

    /// The operator's pods that are not being deleted.
    pub async fn pods(&self) -> Vec<Pod> {
        let list = self
            .pods
            .list(&ListParams::default().labels(OPERATOR_SELECTOR))
            .await
            .unwrap_or_else(|e| panic!("list operator pods: {e}"));
        list.items
            .into_iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .collect()
    }

    pub async fn lease_state(&self) -> LeaseState {
        let lease = self
            .leases
            .get_opt(&self.lease)
            .await
            .unwrap_or_else(|e| panic!("read Lease {}: {e}", self.lease));
        let spec = lease.and_then(|l| l.spec).unwrap_or_default();
        let expires = spec
            .renew_time
            .as_ref()
            .zip(spec.lease_duration_seconds)
            .and_then(|(t, d)| t.0.checked_add(SignedDuration::from_secs(d.into())).ok());
        LeaseState {
            holder: spec.holder_identity.filter(|h| !h.is_empty()),
            valid: expires.is_some_and(|e| e > Timestamp::now()),
        }
    }

    /// Waits until `replicas` operator pods are Ready and one of them holds a valid Lease;
    /// returns the holder.
    pub async fn wait_healthy(&self, replicas: usize, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let pods = self.pods().await;
            let ready: Vec<String> = pods
                .iter()
                .filter(|p| is_pod_ready(p))
                .map(|p| p.name_any())
                .collect();
            let lease = self.lease_state().await;
            let available = self
                .deployments
                .get(&self.deployment)
                .await
                .ok()
                .and_then(|d| d.status)
                .and_then(|s| s.available_replicas)
                .unwrap_or(0);
            if let Some(holder) = lease.holder.as_ref().filter(|h| ready.contains(h)) {
                if lease.valid && ready.len() == replicas && pods.len() == replicas {
                    return holder.clone();
                }
            }
            assert!(
                Instant::now() < deadline,
                "the operator is not healthy after {timeout:?}: {} pods, ready {ready:?}, \
                 {available} available, Lease {lease:?}",
                pods.len()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until a valid Lease is held by a pod other than `old`; returns it.
    pub async fn wait_new_holder(&self, old: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let lease = self.lease_state().await;
            if let Some(holder) = lease.holder.filter(|h| h != old && lease.valid) {
                return holder;
            }
            assert!(
                Instant::now() < deadline,
                "no replica took the Lease from {old} within {timeout:?}"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    pub async fn pod(&self, name: &str) -> Pod {
        self.pods
            .get(name)
            .await
            .unwrap_or_else(|e| panic!("get operator pod {name}: {e}"))
    }

    /// SIGKILLs the operator process of `pod` on this machine, as the kernel's OOM killer
    /// or a node failure would end it: no shutdown, no Lease release.
    pub fn sigkill(pod: &Pod) -> Vec<u32> {
        let pids = operator_pids(pod);
        assert!(
            !pids.is_empty(),
            "no process of operator pod {} found on this machine",
            pod.name_any()
        );
        for pid in &pids {
            let status = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status()
                .unwrap_or_else(|e| panic!("kill -KILL {pid}: {e}"));
            assert!(status.success(), "kill -KILL {pid}: {status}");
        }
        pids
    }

    /// Deletes a pod whose process was killed, so that the ReplicaSet replaces it with a
    /// fresh pod: the kubelet's restart backoff would otherwise grow with every kill.
    pub async fn replace(&self, pod: &str) {
        self.pods
            .delete(pod, &DeleteParams::default())
            .await
            .unwrap_or_else(|e| panic!("delete operator pod {pod}: {e}"));
    }

    /// CPU time the operator processes of `pods` have used so far.
    pub fn cpu_time(pods: &[Pod]) -> Duration {
        pods.iter()
            .flat_map(operator_pids)
            .map(|pid| {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                // Fields after the command (which may hold spaces) in parentheses; utime and
                // stime are the 14th and 15th fields of the line.
                let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
                let fields: Vec<u64> = rest
                    .split_whitespace()
                    .skip(11)
                    .take(2)
                    .filter_map(|f| f.parse().ok())
                    .collect();
                fields.iter().sum::<u64>()
            })
            .map(|ticks| Duration::from_millis(ticks * 1000 / TICKS_PER_SECOND))
            .sum()
    }
}

/// The processes of the operator container of `pod`: their cgroup names the container id.
fn operator_pids(pod: &Pod) -> Vec<u32> {
    let Some(id) = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|c| c.first())
        .and_then(|c| c.container_id.as_deref())
        .and_then(|id| id.rsplit_once("://").map(|(_, id)| id.to_owned()))
    else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
                .is_ok_and(|cgroup| cgroup.contains(&id))
        })
        .collect()
}
