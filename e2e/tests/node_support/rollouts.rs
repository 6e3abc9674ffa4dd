//! Rolling a workload again and again under continuous load, and what the clients saw.
use std::{
    collections::BTreeSet,
    fmt::Write as _,
    net::SocketAddr,
    time::{Duration, Instant},
};

use readyroll_e2e::{
    bench::{self, LoadSummary, RolloutRecord, Scenario},
    load::{EndedBy, Load, LoadConfig, LoadRun},
    Must,
};

use super::{
    pods::PodTracker,
    workload::{Desired, Workload},
};

/// Longest a single rollout may take on a busy two-CPU machine.
pub const ROLLOUT_TIMEOUT: Duration = Duration::from_secs(240);
/// Load before the first and after the last rollout, to see the steady state too.
const QUIET: Duration = Duration::from_secs(2);

/// One change to the workload.
#[derive(Clone, Debug)]
pub enum Change {
    /// A new image tag.
    Image(&'static str),
    /// Set (`Some`) or remove (`None`) `VERSION` in the environment.
    VersionEnv(Option<&'static str>),
    /// `kubectl rollout restart` of the Deployment.
    Restart,
    /// A new instance count.
    Scale(i32),
}

/// The changes of one rollout, applied together, and optionally a scale made while the
/// rollout is under way.
#[derive(Clone, Debug)]
pub struct Step {
    pub changes: Vec<Change>,
    pub scale_mid_rollout: Option<i32>,
}

impl Step {
    pub fn new(changes: Vec<Change>) -> Self {
        Step {
            changes,
            scale_mid_rollout: None,
        }
    }

    pub fn scaling_to(mut self, replicas: i32) -> Self {
        self.scale_mid_rollout = Some(replicas);
        self
    }

    fn describe(&self, before: &Desired) -> String {
        let mut parts: Vec<String> = self
            .changes
            .iter()
            .map(|c| match c {
                Change::Image(tag) => format!("image {} → {tag}", before.tag),
                Change::VersionEnv(Some(v)) => format!("env VERSION={v}"),
                Change::VersionEnv(None) => "env VERSION removed".to_owned(),
                Change::Restart => "rollout restart".to_owned(),
                Change::Scale(n) => format!("scale {} → {n}", before.replicas),
            })
            .collect();
        if let Some(n) = self.scale_mid_rollout {
            parts.push(format!("scale to {n} mid-rollout"));
        }
        parts.join(" + ")
    }
}

/// What happened during one step.
#[derive(Debug, Clone)]
pub struct StepResult {
    pub change: String,
    pub from_version: String,
    pub to_version: String,
    /// Load clock when the change was made and when the old pods were gone.
    pub window: (Duration, Duration),
    pub settled: Duration,
    pub old_pods_gone: Duration,
    /// Pods that existed before the change.
    pub pods_before: BTreeSet<String>,
    /// For a mid-rollout scale: whether the rollout was still under way when it was made.
    pub scaled_mid_rollout: Option<bool>,
}

/// A workload rolled under load.
pub struct ScenarioRun {
    pub load: LoadRun,
    pub steps: Vec<StepResult>,
}

/// Applies `initial`, waits until it serves on `addr`, then runs the load across `steps`.
pub async fn roll_under_load(
    workload: &Workload,
    initial: Desired,
    steps: &[Step],
    addr: SocketAddr,
) -> ScenarioRun {
    let mut desired = initial;
    workload.apply(&desired).await.must("create the workload");
    workload
        .wait_settled(&desired, ROLLOUT_TIMEOUT)
        .await
        .must("workload available");
    super::wait_serving(addr, &desired.version()).await;

    let load = Load::start(LoadConfig::new(addr)).must("start the load");
    // The load's clock starts here: failure times are relative to it; this lines them up
    // with the node's logs and the cluster's timestamps.
    let epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    eprintln!(
        "{}: load started at Unix time {:.3}",
        workload.name,
        epoch.as_secs_f64()
    );
    tokio::time::sleep(QUIET).await;
    let mut results = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let result = run_step(workload, &mut desired, step, &load).await;
        eprintln!(
            "{} rollout {}/{} ({}): settled {:.1} s, old pods gone {:.1} s",
            workload.name,
            i + 1,
            steps.len(),
            result.change,
            result.settled.as_secs_f64(),
            result.old_pods_gone.as_secs_f64()
        );
        results.push(result);
        assert!(
            !load.has_ended(),
            "the load reached a limit during rollout {}; raise its bounds",
            i + 1
        );
    }
    tokio::time::sleep(QUIET).await;
    ScenarioRun {
        load: load.finish(),
        steps: results,
    }
}

async fn run_step(
    workload: &Workload,
    desired: &mut Desired,
    step: &Step,
    load: &Load,
) -> StepResult {
    let change = step.describe(desired);
    let from_version = desired.version();
    let pods_before = workload.pod_names().await.must("list pods");
    let window_start = load.elapsed();
    let started = Instant::now();

    let mut spec_changed = false;
    let mut restart = false;
    for c in &step.changes {
        match c {
            Change::Image(tag) => desired.tag = (*tag).to_owned(),
            Change::VersionEnv(v) => desired.version_env = v.map(str::to_owned),
            Change::Scale(n) => desired.replicas = *n,
            Change::Restart => restart = true,
        }
        spec_changed |= !matches!(c, Change::Restart);
    }
    if spec_changed {
        workload.apply(desired).await.must("apply the change");
    }
    if restart {
        workload.restart(desired).await.must("rollout restart");
    }
    let mut scaled_mid_rollout = None;
    if let Some(replicas) = step.scale_mid_rollout {
        let rolling = workload
            .wait_rolling(desired, ROLLOUT_TIMEOUT)
            .await
            .must("rollout under way");
        desired.replicas = replicas;
        workload.apply(desired).await.must("scale mid-rollout");
        scaled_mid_rollout = Some(rolling);
    }
    workload
        .wait_settled(desired, ROLLOUT_TIMEOUT)
        .await
        .must(&format!("rollout '{change}' settled"));
    let settled = started.elapsed();
    workload
        .wait_old_pods_gone(ROLLOUT_TIMEOUT)
        .await
        .must(&format!("old pods of rollout '{change}' gone"));
    StepResult {
        change,
        from_version,
        to_version: desired.version(),
        window: (window_start, load.elapsed()),
        settled,
        old_pods_gone: started.elapsed(),
        pods_before,
        scaled_mid_rollout,
    }
}

impl ScenarioRun {
    /// The benchmark view of this run.
    pub fn scenario(&self, name: &str, setup: &str) -> Scenario {
        Scenario {
            name: name.to_owned(),
            setup: setup.to_owned(),
            load: LoadSummary::of(&self.load),
            total: self.load.tally(),
            rollouts: self
                .steps
                .iter()
                .map(|s| RolloutRecord {
                    change: s.change.clone(),
                    from_version: s.from_version.clone(),
                    to_version: s.to_version.clone(),
                    settled_ms: bench::millis(s.settled),
                    old_pods_gone_ms: bench::millis(s.old_pods_gone),
                    tally: self.load.window(s.window.0, s.window.1),
                })
                .collect(),
        }
    }

    /// A one-line account for the test log.
    pub fn summary(&self, name: &str) -> String {
        let t = self.load.tally();
        format!(
            "{name}: {} rollouts, {} requests ({} keep-alive, {} new-connection), {} failed {:?}, {} keep-alive retries, versions {:?}",
            self.steps.len(),
            t.requests,
            t.keep_alive.requests,
            t.new_connection.requests,
            t.failed,
            t.failures,
            t.retried,
            t.versions,
        )
    }

    /// The zero-downtime contract: no failed request at all; during each rollout only the
    /// old and the new version answered, both did when they differ, and pods of the new
    /// template took traffic; every answering pod had been Ready; each mid-rollout scale
    /// happened while the rollout was under way.
    pub fn assert_zero_downtime(&self, tracker: &PodTracker) {
        let load = &self.load;
        assert_eq!(
            load.ended_by,
            EndedBy::Stopped,
            "the load stopped by itself before the rollouts were done"
        );
        let total = load.tally();
        assert!(total.requests > 0, "no request was sent");
        assert_eq!(
            total.failed,
            0,
            "{} of {} requests failed:\n{}",
            total.failed,
            total.requests,
            self.failure_lines(20)
        );
        for (i, step) in self.steps.iter().enumerate() {
            let n = i + 1;
            let window = load.window(step.window.0, step.window.1);
            assert!(window.ok > 0, "rollout {n} ({}): no answer", step.change);
            let allowed: BTreeSet<&str> =
                [step.from_version.as_str(), step.to_version.as_str()].into();
            let seen: BTreeSet<&str> = window.versions.keys().map(String::as_str).collect();
            assert!(
                seen.is_subset(&allowed),
                "rollout {n} ({}): versions {seen:?} answered, only {allowed:?} may",
                step.change
            );
            if step.from_version != step.to_version {
                assert_eq!(
                    seen, allowed,
                    "rollout {n} ({}): both versions must answer while it runs",
                    step.change
                );
            }
            let new_pods: Vec<&String> = window
                .hosts
                .keys()
                .filter(|h| !h.is_empty() && !step.pods_before.contains(*h))
                .collect();
            let hosts_known = window.hosts.keys().any(|h| !h.is_empty());
            assert!(
                !hosts_known || !new_pods.is_empty(),
                "rollout {n} ({}): no new pod answered",
                step.change
            );
            if let Some(rolling) = step.scaled_mid_rollout {
                assert!(
                    rolling,
                    "rollout {n} ({}): the rollout had finished before the scale",
                    step.change
                );
            }
        }
        for host in total.hosts.keys().filter(|h| !h.is_empty()) {
            assert_eq!(
                tracker.ever_ready(host),
                Some(true),
                "pod {host} answered but was never seen Ready"
            );
        }
    }

    /// The first `limit` failed requests, one per line.
    pub fn failure_lines(&self, limit: usize) -> String {
        let mut out = String::new();
        for (sample, failure) in self.load.failures().take(limit) {
            let _ = writeln!(
                out,
                "  at {:>8.3} s {:?}: {} ({})",
                sample.at.as_secs_f64(),
                sample.client,
                failure.kind,
                failure.detail
            );
        }
        out
    }
}
