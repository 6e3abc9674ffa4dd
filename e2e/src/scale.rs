//! What the scale benchmark reads besides objects: a process's memory and CPU time from
//! `/proc` (the operator's pod runs on this machine's real node), the machine's busy CPU
//! time, and the API server's request counters.
use std::{collections::BTreeMap, fs, path::Path, time::Duration};

use kube::Client;

/// Kernel clock ticks per second of `/proc/PID/stat` and `/proc/stat` (`USER_HZ`, 100 on
/// every Linux architecture the cluster runs on).
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

#[derive(Debug, thiserror::Error)]
pub enum ScaleError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: unexpected content: {what}")]
    Format { path: String, what: String },
    #[error("no process named {comm:?} in the cgroup of pod {pod_uid}: is the pod on this machine's node?")]
    NoProcess { comm: String, pod_uid: String },
    #[error("reading the API server's /metrics: {0}")]
    Metrics(#[from] kube::Error),
}

fn read(path: &str) -> Result<String, ScaleError> {
    fs::read_to_string(path).map_err(|source| ScaleError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Memory and CPU time of one process, as the kernel accounts them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessSample {
    pub rss_bytes: u64,
    /// The highest RSS of the process's life (`VmHWM`).
    pub peak_rss_bytes: u64,
    /// User + system CPU time.
    pub cpu_seconds: f64,
}

/// A process on this machine.
#[derive(Debug, Clone)]
pub struct Process {
    pub pid: u32,
}

impl Process {
    /// The process named `comm` among those in the cgroup of the pod with `pod_uid` (the
    /// kubelet names pod cgroups `pod<UID>` with the cgroupfs driver and `pod<UID with _>`
    /// with systemd's).
    pub fn of_pod(pod_uid: &str, comm: &str) -> Result<Self, ScaleError> {
        let cgroupfs = format!("pod{pod_uid}");
        let systemd = format!("pod{}", pod_uid.replace('-', "_"));
        let entries = fs::read_dir("/proc").map_err(|source| ScaleError::Io {
            path: "/proc".to_owned(),
            source,
        })?;
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            // Processes come and go while we look: a vanished one is simply not ours.
            let Ok(cgroup) = fs::read_to_string(format!("/proc/{pid}/cgroup")) else {
                continue;
            };
            if !cgroup.contains(&cgroupfs) && !cgroup.contains(&systemd) {
                continue;
            }
            let Ok(name) = fs::read_to_string(format!("/proc/{pid}/comm")) else {
                continue;
            };
            if name.trim() == comm {
                return Ok(Process { pid });
            }
        }
        Err(ScaleError::NoProcess {
            comm: comm.to_owned(),
            pod_uid: pod_uid.to_owned(),
        })
    }

    /// A process by its id (e.g. one the test started itself).
    pub fn from_pid(pid: u32) -> Self {
        Process { pid }
    }

    pub fn sample(&self) -> Result<ProcessSample, ScaleError> {
        let status_path = format!("/proc/{}/status", self.pid);
        let status = read(&status_path)?;
        let kib = |field: &str| -> Result<u64, ScaleError> {
            status
                .lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse::<u64>().ok())
                .ok_or_else(|| ScaleError::Format {
                    path: status_path.clone(),
                    what: format!("no {field}"),
                })
        };
        let rss_bytes = kib("VmRSS:")? * 1024;
        let peak_rss_bytes = kib("VmHWM:")? * 1024;
        let stat_path = format!("/proc/{}/stat", self.pid);
        let cpu_seconds = process_cpu_seconds(&read(&stat_path)?).ok_or(ScaleError::Format {
            path: stat_path,
            what: "no utime/stime".to_owned(),
        })?;
        Ok(ProcessSample {
            rss_bytes,
            peak_rss_bytes,
            cpu_seconds,
        })
    }

    pub fn is_alive(&self) -> bool {
        Path::new(&format!("/proc/{}", self.pid)).exists()
    }
}

/// utime + stime of a `/proc/PID/stat` line, in seconds. The command name (field 2) may hold
/// spaces and parentheses, so fields are counted from its closing parenthesis.
fn process_cpu_seconds(stat: &str) -> Option<f64> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    // After the command: state is field 3, utime field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / CLOCK_TICKS_PER_SECOND)
}

/// The machine's CPU time so far: busy (everything but idle and iowait) and total, in
/// seconds summed over all CPUs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HostCpu {
    pub busy_seconds: f64,
    pub total_seconds: f64,
}

impl HostCpu {
    pub fn sample() -> Result<Self, ScaleError> {
        let text = read("/proc/stat")?;
        host_cpu_of(&text).ok_or(ScaleError::Format {
            path: "/proc/stat".to_owned(),
            what: "no cpu line".to_owned(),
        })
    }

    /// Busy CPU seconds between `earlier` and `self`.
    pub fn busy_since(&self, earlier: &HostCpu) -> f64 {
        self.busy_seconds - earlier.busy_seconds
    }
}

fn host_cpu_of(stat: &str) -> Option<HostCpu> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|n| n.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let total: u64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3)? + ticks.get(4).copied().unwrap_or(0);
    Some(HostCpu {
        busy_seconds: (total - idle) as f64 / CLOCK_TICKS_PER_SECOND,
        total_seconds: total as f64 / CLOCK_TICKS_PER_SECOND,
    })
}

/// The API server's request counters at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApiRequests {
    /// `apiserver_request_total` summed over codes, by `VERB resource[/subresource]`
    /// (resource qualified by its group unless it is core).
    pub by_verb_resource: BTreeMap<String, f64>,
    /// `apiserver_flowcontrol_dispatched_requests_total` by flow schema: the API server's
    /// classification of who sent a request (every service account outside kube-system
    /// falls in `service-accounts`, the controller-manager's controllers in
    /// `kube-system-service-accounts`, system:masters in `exempt`).
    pub by_flow_schema: BTreeMap<String, f64>,
}

impl ApiRequests {
    pub async fn read(client: &Client) -> Result<Self, ScaleError> {
        let request = http_get("/metrics");
        let text = client.request_text(request).await?;
        Ok(Self::parse(&text))
    }

    pub fn parse(text: &str) -> Self {
        let mut out = ApiRequests::default();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("apiserver_request_total{") {
                let Some((labels, value)) = labels_and_value(rest) else {
                    continue;
                };
                let plain = labels.get("resource").cloned().unwrap_or_default();
                let resource = match labels.get("group") {
                    Some(g) if !g.is_empty() && !plain.is_empty() => format!("{plain}.{g}"),
                    _ => plain,
                };
                let resource = match labels.get("subresource") {
                    Some(s) if !s.is_empty() && !resource.is_empty() => format!("{resource}/{s}"),
                    _ => resource,
                };
                if resource.is_empty() {
                    continue; // non-resource URLs: /metrics, /healthz, discovery
                }
                let verb = labels.get("verb").cloned().unwrap_or_default();
                *out.by_verb_resource
                    .entry(format!("{verb} {resource}"))
                    .or_default() += value;
            } else if let Some(rest) =
                line.strip_prefix("apiserver_flowcontrol_dispatched_requests_total{")
            {
                let Some((labels, value)) = labels_and_value(rest) else {
                    continue;
                };
                let schema = labels.get("flow_schema").cloned().unwrap_or_default();
                *out.by_flow_schema.entry(schema).or_default() += value;
            }
        }
        out
    }

    /// What was counted between `earlier` and `self` (series that did not change dropped).
    pub fn since(&self, earlier: &ApiRequests) -> ApiRequests {
        let delta = |now: &BTreeMap<String, f64>, before: &BTreeMap<String, f64>| {
            now.iter()
                .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0.0)))
                .filter(|(_, v)| *v > 0.0)
                .collect()
        };
        ApiRequests {
            by_verb_resource: delta(&self.by_verb_resource, &earlier.by_verb_resource),
            by_flow_schema: delta(&self.by_flow_schema, &earlier.by_flow_schema),
        }
    }

    pub fn flow_schema(&self, name: &str) -> f64 {
        self.by_flow_schema.get(name).copied().unwrap_or(0.0)
    }

    pub fn total(&self) -> f64 {
        self.by_verb_resource.values().sum()
    }
}

/// Flow schema of every service account outside kube-system: the installed operator's.
pub const SERVICE_ACCOUNTS_FLOW_SCHEMA: &str = "service-accounts";

pub fn http_get(path: &str) -> http::Request<Vec<u8>> {
    let mut request = http::Request::new(Vec::new());
    *request.uri_mut() = path.parse().unwrap_or_default();
    request
}

/// `a="x",b="y"} 12` → ({a: x, b: y}, 12). Values in these metrics hold no quotes or commas.
fn labels_and_value(rest: &str) -> Option<(BTreeMap<String, String>, f64)> {
    let (labels, value) = rest.split_once("} ")?;
    let value: f64 = value.split_whitespace().next()?.parse().ok()?;
    let labels = labels
        .split(',')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            Some((k.to_owned(), v.trim_matches('"').to_owned()))
        })
        .collect();
    Some((labels, value))
}

/// The value of one counter (summed over its label sets) in a Prometheus text exposition,
/// e.g. the operator's `readyroll_reconciliations_total`.
pub fn counter_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let rest = l.strip_prefix(name)?;
            let value = if rest.starts_with('{') {
                rest.split_once("} ")?.1
            } else {
                rest.strip_prefix(' ')?
            };
            value.split_whitespace().next()?.parse::<f64>().ok()
        })
        .sum()
}

/// p50, p90, p99 and max of a set of durations, in milliseconds (nearest-rank).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Percentiles {
    pub samples: usize,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Percentiles {
    pub fn of(samples: &[Duration]) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
        ms.sort_by(f64::total_cmp);
        let rank = |p: f64| {
            let index = ((p * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1;
            ms[index]
        };
        Some(Percentiles {
            samples: ms.len(),
            p50_ms: rank(0.50),
            p90_ms: rank(0.90),
            p99_ms: rank(0.99),
            max_ms: ms[ms.len() - 1],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_read_after_a_command_name_with_spaces_and_parentheses() {
        let stat = "42 (odd (name) x) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 4 0 1";
        assert_eq!(process_cpu_seconds(stat), Some(3.0));
    }

    #[test]
    fn host_busy_time_leaves_out_idle_and_iowait() {
        let stat = "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 50 0 25 400 25 0 0 0 0 0\n";
        let cpu = host_cpu_of(stat).unwrap();
        assert_eq!(cpu.busy_seconds, 1.5);
        assert_eq!(cpu.total_seconds, 10.0);
    }

    #[test]
    fn request_counters_are_summed_over_codes_by_verb_and_resource() {
        let text = r#"# HELP apiserver_request_total x
apiserver_request_total{code="200",component="apiserver",dry_run="",group="apps",resource="deployments",scope="resource",subresource="",verb="GET",version="v1"} 3
apiserver_request_total{code="404",component="apiserver",dry_run="",group="apps",resource="deployments",scope="resource",subresource="",verb="GET",version="v1"} 2
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="status",verb="PATCH",version="v1"} 7
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="",scope="",subresource="/metrics",verb="GET",version=""} 9
apiserver_flowcontrol_dispatched_requests_total{flow_schema="service-accounts",priority_level="workload-low"} 11
apiserver_flowcontrol_dispatched_requests_total{flow_schema="exempt",priority_level="exempt"} 4
"#;
        let parsed = ApiRequests::parse(text);
        assert_eq!(parsed.by_verb_resource["GET deployments.apps"], 5.0);
        assert_eq!(parsed.by_verb_resource["PATCH pods/status"], 7.0);
        assert_eq!(parsed.by_verb_resource.len(), 2);
        assert_eq!(parsed.flow_schema(SERVICE_ACCOUNTS_FLOW_SCHEMA), 11.0);
        let earlier = ApiRequests::parse(&text.replace("} 11", "} 1"));
        let delta = parsed.since(&earlier);
        assert_eq!(delta.by_flow_schema.len(), 1);
        assert_eq!(delta.flow_schema(SERVICE_ACCOUNTS_FLOW_SCHEMA), 10.0);
        assert!(delta.by_verb_resource.is_empty());
    }

    #[test]
    fn a_counter_is_summed_over_its_label_sets() {
        let text = "# TYPE readyroll_reconciliations counter\nreadyroll_reconciliations_total{result=\"success\"} 40\nreadyroll_reconciliations_total{result=\"error\"} 2\nreadyroll_reconcile_errors_total{error=\"x\"} 2\n";
        assert_eq!(counter_sum(text, "readyroll_reconciliations_total"), 42.0);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let p = Percentiles::of(&samples).unwrap();
        assert_eq!(
            (p.p50_ms, p.p90_ms, p.p99_ms, p.max_ms),
            (50.0, 90.0, 99.0, 100.0)
        );
        assert_eq!(Percentiles::of(&[]), None);
    }
}
