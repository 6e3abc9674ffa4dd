//! Records of the scale benchmark (`e2e/tests/node_scale.rs`, `make bench-scale`): one
//! file per controller and number of Apps under `<results>/scale/`, rendered into the
//! "scale" section of BENCHMARKS.md between its own markers.
use std::{
    collections::BTreeMap,
    fmt::Write as _,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

use super::BenchError;
use crate::scale::Percentiles;

pub const SCALE_BEGIN_MARKER: &str =
    "<!-- BEGIN GENERATED scale by bench-report: do not edit by hand -->";
pub const SCALE_END_MARKER: &str = "<!-- END GENERATED scale -->";

/// Everything one run at one scale measured for one controller.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaleRecord {
    /// `readyroll` or `argo-rollouts`.
    pub controller: String,
    /// Apps (or Rollouts), and as many plain Deployments.
    pub objects: usize,
    /// Which build of the controller, when builds are compared (readyroll's: the commit
    /// its operator was built from); empty otherwise.
    #[serde(default)]
    pub build: String,
    pub recorded_at: String,
    pub test_duration_ms: u64,
    pub environment: ScaleEnvironment,
    /// Cold creation of the plain Deployments, then of the controller's objects.
    pub plain: Convergence,
    pub controlled: Convergence,
    /// The controller restarted with every object present, until it was idle again.
    pub restart: Option<Restart>,
    /// Edit of the controller's object → its workload updated, seen on a watch.
    pub edit: Option<Percentiles>,
    /// Of the same edits, until the API server answered the edit's own patch: the part of
    /// `edit` that is the API server's write of the controller's object (records from
    /// before it was measured have none).
    #[serde(default)]
    pub edit_write: Option<Percentiles>,
    /// Edit of a plain Deployment → the same Deployment seen updated on a watch: the API
    /// server's own write + watch floor.
    pub edit_floor: Option<Percentiles>,
    pub memory: Memory,
    pub idle: Idle,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaleEnvironment {
    pub kubernetes: String,
    pub host_cpus: usize,
    /// The controller build: readyroll's image, Argo Rollouts' version.
    pub controller_build: String,
    pub source: String,
    /// The kube-controller-manager's client QPS / burst as it runs.
    pub controller_manager_client: String,
    /// What else ran on the machine, in words (busy CPUs before the run).
    pub machine_load: String,
}

/// One cold creation of `objects` objects until every one was Available.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Convergence {
    /// Until the last create returned.
    pub create_ms: u64,
    /// From the first create until the last object was Available.
    pub available_ms: u64,
    /// CPU seconds of the controller process over the convergence (None for the
    /// cluster's own controllers).
    pub controller_cpu_seconds: Option<f64>,
    /// Busy CPU seconds of the whole machine over the convergence.
    pub machine_busy_cpu_seconds: f64,
    pub requests: Requests,
}

/// API requests as the API server counted them over a phase.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Requests {
    /// Every client's, by `VERB resource`.
    pub by_verb_resource: BTreeMap<String, f64>,
    /// By flow schema (who sent them).
    pub by_flow_schema: BTreeMap<String, f64>,
    /// The controller's own: its flow schema for readyroll's service account, its client
    /// metrics for a controller running outside the cluster.
    pub controller: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Restart {
    /// From the restart until every object had been reconciled and the controller's
    /// requests stopped.
    pub idle_ms: u64,
    pub controller_cpu_seconds: f64,
    pub requests: Requests,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Memory {
    pub peak_rss_bytes: u64,
    /// After convergence, when the controller had been idle.
    pub settled_rss_bytes: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Idle {
    pub window_ms: u64,
    pub controller_cpu_seconds: f64,
    pub controller_requests: f64,
}

impl ScaleRecord {
    fn file_name(&self) -> String {
        if self.build.is_empty() {
            format!("{}-{:05}.json", self.controller, self.objects)
        } else {
            format!(
                "{}-{:05}-{}.json",
                self.controller, self.objects, self.build
            )
        }
    }

    /// Writes `<dir>/scale/<controller>-<objects>.json`, replacing an older one.
    pub fn write(&self, dir: &Path) -> Result<PathBuf, BenchError> {
        let dir = dir.join("scale");
        let path = dir.join(self.file_name());
        let io = |source| BenchError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(io)?;
        let json = serde_json::to_string_pretty(self).map_err(|source| BenchError::Parse {
            path: path.clone(),
            source,
        })?;
        std::fs::write(&path, json + "\n").map_err(io)?;
        Ok(path)
    }

    /// Every record under `<dir>/scale`, by objects then controller; none when it is absent.
    pub fn read_all(dir: &Path) -> Result<Vec<ScaleRecord>, BenchError> {
        let dir = dir.join("scale");
        if !dir.is_dir() {
            return Ok(Vec::new());
        }
        let io = |source| BenchError::Io {
            path: dir.clone(),
            source,
        };
        let mut records = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let text = std::fs::read_to_string(&path).map_err(|source| BenchError::Io {
                path: path.clone(),
                source,
            })?;
            let record: ScaleRecord =
                serde_json::from_str(&text).map_err(|source| BenchError::Parse { path, source })?;
            records.push(record);
        }
        records.sort_by(|a, b| {
            (a.objects, &a.controller, &a.recorded_at).cmp(&(
                b.objects,
                &b.controller,
                &b.recorded_at,
            ))
        });
        Ok(records)
    }
}

impl ScaleRecord {
    /// The controller, with its build when builds are compared.
    pub fn controller_name(&self) -> String {
        if self.build.is_empty() {
            self.controller.clone()
        } else {
            format!("{} `{}`", self.controller, self.build)
        }
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn secs(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

fn latency(p: &Option<Percentiles>) -> String {
    match p {
        Some(p) => format!(
            "{:.0} / {:.0} / {:.0} / {:.0} ms ({} edits)",
            p.p50_ms, p.p90_ms, p.p99_ms, p.max_ms, p.samples
        ),
        None => "–".to_owned(),
    }
}

/// The Markdown of the scale section for `records`.
pub fn render_scale(records: &[ScaleRecord]) -> String {
    let mut out = String::new();
    out.push_str(
        "| objects | controller | cold creation → all Available | the same as plain Deployments | ratio | controller CPU (per object) | RSS peak / settled | controller requests per object | restart → idle (requests per object) | edit → workload p50 / p90 / p99 / max | of which the edit's own write p50 / p99 | API write + watch floor p50 / p90 / p99 / max | idle CPU per minute |\n\
         |---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|---:|\n",
    );
    for r in records {
        let n = r.objects.max(1) as f64;
        let ratio = r.controlled.available_ms as f64 / r.plain.available_ms.max(1) as f64;
        let cpu = r.controlled.controller_cpu_seconds.unwrap_or(0.0);
        let restart = r.restart.as_ref().map_or("–".to_owned(), |x| {
            format!("{} ({:.1})", secs(x.idle_ms), x.requests.controller / n)
        });
        let idle_per_minute = if r.idle.window_ms == 0 {
            "–".to_owned()
        } else {
            format!(
                "{:.2} s",
                r.idle.controller_cpu_seconds * 60_000.0 / r.idle.window_ms as f64
            )
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {ratio:.2}× | {cpu:.1} s ({:.0} ms) | {} / {} | {:.1} | {restart} | {} | {} | {} | {idle_per_minute} |",
            r.objects,
            r.controller_name(),
            secs(r.controlled.available_ms),
            secs(r.plain.available_ms),
            cpu * 1000.0 / n,
            mib(r.memory.peak_rss_bytes),
            mib(r.memory.settled_rss_bytes),
            r.controlled.requests.controller / n,
            latency(&r.edit),
            r.edit_write.as_ref().map_or("–".to_owned(), |p| format!(
                "{:.0} / {:.0} ms",
                p.p50_ms, p.p99_ms
            )),
            latency(&r.edit_floor),
        );
    }
    out.push('\n');
    for r in records {
        details(&mut out, r);
    }
    out
}

fn details(out: &mut String, r: &ScaleRecord) {
    let e = &r.environment;
    let _ = writeln!(out, "### {} × {}\n", r.controller_name(), r.objects);
    let _ = writeln!(
        out,
        "Recorded {} in {:.1} min from readyroll `{}`; controller build `{}`. Kubernetes {}, {} CPUs; kube-controller-manager client {}. Machine: {}.\n",
        r.recorded_at,
        r.test_duration_ms as f64 / 60_000.0,
        e.source,
        e.controller_build,
        e.kubernetes,
        e.host_cpus,
        e.controller_manager_client,
        e.machine_load,
    );
    out.push_str("| phase | created in | all Available after | controller CPU | machine busy CPU | requests (all clients) | controller's requests |\n|---|---:|---:|---:|---:|---:|---:|\n");
    for (name, c) in [
        ("plain Deployments", &r.plain),
        (r.controller.as_str(), &r.controlled),
    ] {
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {} | {:.1} s | {:.0} | {:.0} |",
            secs(c.create_ms),
            secs(c.available_ms),
            c.controller_cpu_seconds
                .map_or("–".to_owned(), |s| format!("{s:.1} s")),
            c.machine_busy_cpu_seconds,
            c.requests.by_verb_resource.values().sum::<f64>(),
            c.requests.controller,
        );
    }
    if let Some(x) = &r.restart {
        let _ = writeln!(
            out,
            "| restart with every object present | – | {} | {:.1} s | – | {:.0} | {:.0} |",
            secs(x.idle_ms),
            x.controller_cpu_seconds,
            x.requests.by_verb_resource.values().sum::<f64>(),
            x.requests.controller,
        );
    }
    let _ = writeln!(
        out,
        "| idle, {} | – | – | {:.2} s | – | – | {:.0} |\n",
        secs(r.idle.window_ms),
        r.idle.controller_cpu_seconds,
        r.idle.controller_requests,
    );
    // What the controller's objects cost the API server beyond the same number of plain
    // Deployments: the per-verb difference of the two creations, per object.
    let n = r.objects.max(1) as f64;
    let mut extra: Vec<(String, f64, f64)> = r
        .controlled
        .requests
        .by_verb_resource
        .iter()
        .map(|(k, v)| {
            let plain = r
                .plain
                .requests
                .by_verb_resource
                .get(k)
                .copied()
                .unwrap_or(0.0);
            (k.clone(), *v / n, plain / n)
        })
        .chain(
            r.plain
                .requests
                .by_verb_resource
                .iter()
                .filter(|(k, _)| !r.controlled.requests.by_verb_resource.contains_key(*k))
                .map(|(k, v)| (k.clone(), 0.0, *v / n)),
        )
        .filter(|(_, c, p)| c + p >= 0.05)
        .collect();
    extra.sort_by(|a, b| (b.1 + b.2).total_cmp(&(a.1 + a.2)));
    out.push_str("Requests per object by verb and resource, all clients (the API server's `apiserver_request_total` over each creation):\n\n| request | with the controller's objects | with plain Deployments |\n|---|---:|---:|\n");
    for (k, c, p) in extra {
        let _ = writeln!(out, "| `{k}` | {c:.2} | {p:.2} |");
    }
    out.push('\n');
}

/// `document` with the scale section replaced by `generated`.
pub fn replace_scale(document: &str, generated: &str, path: &Path) -> Result<String, BenchError> {
    super::replace_between(
        document,
        generated,
        path,
        SCALE_BEGIN_MARKER,
        SCALE_END_MARKER,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(controller: &str, build: &str) -> ScaleRecord {
        ScaleRecord {
            controller: controller.into(),
            objects: 500,
            build: build.into(),
            recorded_at: "2026-01-01T00:00:00Z".into(),
            test_duration_ms: 60_000,
            environment: ScaleEnvironment::default(),
            plain: Convergence {
                create_ms: 5_000,
                available_ms: 20_000,
                requests: Requests {
                    by_verb_resource: BTreeMap::from([("POST pods".into(), 500.0)]),
                    ..Requests::default()
                },
                ..Convergence::default()
            },
            controlled: Convergence {
                create_ms: 6_000,
                available_ms: 30_000,
                controller_cpu_seconds: Some(10.0),
                requests: Requests {
                    by_verb_resource: BTreeMap::from([
                        ("POST pods".into(), 500.0),
                        ("GET apps.readyroll.dev".into(), 1500.0),
                    ]),
                    controller: 2500.0,
                    ..Requests::default()
                },
                ..Convergence::default()
            },
            restart: None,
            edit: Percentiles::of(&[std::time::Duration::from_millis(40)]),
            edit_write: Percentiles::of(&[std::time::Duration::from_millis(15)]),
            edit_floor: None,
            memory: Memory {
                peak_rss_bytes: 64 << 20,
                settled_rss_bytes: 32 << 20,
            },
            idle: Idle {
                window_ms: 30_000,
                controller_cpu_seconds: 0.05,
                controller_requests: 0.0,
            },
        }
    }

    #[test]
    fn the_headline_row_has_the_ratio_and_per_object_costs() {
        let out = render_scale(&[record("readyroll", "abc1234")]);
        assert!(
            out.contains("| 500 | readyroll `abc1234` | 30.0 s | 20.0 s | 1.50× | 10.0 s (20 ms) | 64 MiB / 32 MiB | 5.0 |"),
            "{out}"
        );
        assert!(
            out.contains("| `GET apps.readyroll.dev` | 3.00 | 0.00 |"),
            "{out}"
        );
        assert!(out.contains("0.10 s |\n"), "idle CPU per minute: {out}");
        assert!(
            out.contains("| 40 / 40 / 40 / 40 ms (1 edits) | 15 / 15 ms | – |"),
            "the edit, its own write, no floor: {out}"
        );
    }

    #[test]
    fn records_of_two_builds_get_two_files() {
        assert_ne!(
            record("readyroll", "a").file_name(),
            record("readyroll", "b").file_name()
        );
        assert_eq!(
            record("argo-rollouts", "").file_name(),
            "argo-rollouts-00500.json"
        );
    }

    #[test]
    fn only_the_scale_section_is_replaced() {
        let doc = format!("a\n{SCALE_BEGIN_MARKER}\nold\n{SCALE_END_MARKER}\nb\n");
        let out = replace_scale(&doc, "new\n", Path::new("B.md")).unwrap();
        assert_eq!(
            out,
            format!("a\n{SCALE_BEGIN_MARKER}\n\nnew\n{SCALE_END_MARKER}\nb\n")
        );
        assert!(replace_scale("no markers", "x", Path::new("B.md")).is_err());
    }
}
