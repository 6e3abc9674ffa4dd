//! The Markdown of the generated section of BENCHMARKS.md.
use std::fmt::Write as _;

use super::{BenchRecord, Scenario};
use crate::load::Tally;

/// Tests whose records come first: the headline comparisons.
const HEADLINE: [&str; 2] = ["node_zero_downtime", "node_shim"];

/// The generated Markdown for `records`: one summary table over every scenario, then each
/// test's environment, rollouts and measurements.
pub fn render(records: &[BenchRecord]) -> String {
    let mut ordered: Vec<&BenchRecord> = records.iter().collect();
    ordered.sort_by_key(|r| {
        let rank = HEADLINE
            .iter()
            .position(|h| *h == r.test)
            .unwrap_or(HEADLINE.len());
        (rank, r.test.clone())
    });
    let mut out = String::new();
    side_by_side(&mut out, &ordered);
    summary(&mut out, &ordered);
    faults(&mut out, &ordered);
    for record in ordered {
        details(&mut out, record);
    }
    out
}

/// Scenario names of the Argo Rollouts runs start with this.
const ARGO_SCENARIO: &str = "Argo Rollouts";

/// The headline comparison: per zero-downtime test, the failed requests of readyroll (the
/// first scenario), the plain Deployment and the Argo Rollouts `Rollout` over the same
/// rollouts under the same load.
fn side_by_side(out: &mut String, records: &[&BenchRecord]) {
    let rows: Vec<&&BenchRecord> = records
        .iter()
        .filter(|r| HEADLINE.contains(&r.test.as_str()) && r.scenarios.len() > 1)
        .collect();
    if rows.is_empty() {
        return;
    }
    out.push_str(
        "**Zero-downtime side by side** (failed requests over the same rollouts under the same load):\n\n\
         | test | rollouts | readyroll | plain Deployment | Argo Rollouts (defaults) |\n\
         |---|---:|---:|---:|---:|\n",
    );
    let cell = |s: Option<&Scenario>| match s {
        Some(s) => format!(
            "{} of {} ({:.1} per rollout)",
            s.total.failed,
            s.total.requests,
            s.total.failed as f64 / s.rollouts.len().max(1) as f64
        ),
        None => "not run".to_owned(),
    };
    for r in rows {
        let argo = r
            .scenarios
            .iter()
            .find(|s| s.name.starts_with(ARGO_SCENARIO));
        let plain = r
            .scenarios
            .iter()
            .skip(1)
            .find(|s| !s.name.starts_with(ARGO_SCENARIO));
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} |",
            r.test,
            r.scenarios[0].rollouts.len(),
            cell(r.scenarios.first()),
            cell(plain),
            cell(argo),
        );
    }
    out.push('\n');
}

fn summary(out: &mut String, records: &[&BenchRecord]) {
    out.push_str(
        "| test | scenario | rollouts | requests | failed | failure kinds | keep-alive retries | rollout time median / max | old pods gone median / max |\n\
         |---|---|---:|---:|---:|---|---:|---:|---:|\n",
    );
    for r in records {
        for s in &r.scenarios {
            let settled: Vec<u64> = s.rollouts.iter().map(|x| x.settled_ms).collect();
            let gone: Vec<u64> = s.rollouts.iter().map(|x| x.old_pods_gone_ms).collect();
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} | {} | {} | {} | {} |",
                r.test,
                s.name,
                s.rollouts.len(),
                s.total.requests,
                s.total.failed,
                failure_kinds(&s.total),
                s.total.retried,
                median_max(&settled),
                median_max(&gone),
            );
        }
    }
    out.push('\n');
}

/// The chaos tier's cases: each fault, what the clients saw and how long recovery took.
fn faults(out: &mut String, records: &[&BenchRecord]) {
    if records.iter().all(|r| r.faults.is_empty()) {
        return;
    }
    out.push_str(
        "**Faults survived** (chaos tier, under continuous load):\n\n\
         | test | fault | rollouts | requests | failed | recovery | operator writes / without the Lease | detail |\n\
         |---|---|---:|---:|---:|---:|---:|---|\n",
    );
    for r in records {
        for f in &r.faults {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} | {:.1} s | {} / {} | {} |",
                r.test,
                f.scenario,
                f.rollouts,
                f.requests,
                f.failed,
                f.recovery_ms as f64 / 1000.0,
                f.operator_writes,
                f.writes_without_lease,
                f.detail,
            );
        }
    }
    out.push('\n');
}

fn details(out: &mut String, r: &BenchRecord) {
    let e = &r.environment;
    let source = if e.source.is_empty() {
        "unknown"
    } else {
        &e.source
    };
    let _ = writeln!(out, "### `{}`\n", r.test);
    let _ = writeln!(
        out,
        "Recorded {} in {:.1} min from readyroll `{source}`. Kubernetes {}; node: {}; load generator host: {} CPUs; operator image `{}`.\n",
        r.recorded_at,
        r.test_duration_ms as f64 / 60_000.0,
        e.kubernetes,
        e.node,
        e.host_cpus,
        e.operator_image
    );
    for s in &r.scenarios {
        scenario(out, s);
    }
    if !r.measurements.is_empty() {
        out.push_str("| measurement | expected | measured | detail |\n|---|---|---:|---|\n");
        for m in &r.measurements {
            let _ = writeln!(
                out,
                "| {} | {} | {:.2} s | {} |",
                m.name,
                m.expected,
                m.measured_ms as f64 / 1000.0,
                m.detail
            );
        }
        out.push('\n');
    }
}

fn scenario(out: &mut String, s: &Scenario) {
    let _ = writeln!(out, "**{}**: {}", s.name, s.setup);
    let _ = writeln!(
        out,
        "Load: {} keep-alive + {} new-connection clients at {} requests/s each for {:.0} s: {} requests ({} keep-alive, {} new-connection), {} failed{}.\n",
        s.load.keep_alive_workers,
        s.load.new_connection_workers,
        s.load.rate_per_worker,
        s.load.duration_ms as f64 / 1000.0,
        s.total.requests,
        s.total.keep_alive.requests,
        s.total.new_connection.requests,
        s.total.failed,
        if s.total.failed > 0 {
            format!(" ({})", failure_kinds(&s.total))
        } else {
            String::new()
        },
    );
    if s.rollouts.is_empty() {
        return;
    }
    out.push_str(
        "| # | change | versions | settled | old pods gone | requests | failed | failure kinds |\n\
         |---:|---|---|---:|---:|---:|---:|---|\n",
    );
    for (i, x) in s.rollouts.iter().enumerate() {
        let _ = writeln!(
            out,
            "| {} | {} | {} → {} | {:.1} s | {:.1} s | {} | {} | {} |",
            i + 1,
            x.change,
            x.from_version,
            x.to_version,
            x.settled_ms as f64 / 1000.0,
            x.old_pods_gone_ms as f64 / 1000.0,
            x.tally.requests,
            x.tally.failed,
            failure_kinds(&x.tally),
        );
    }
    out.push('\n');
}

fn failure_kinds(t: &Tally) -> String {
    if t.failures.is_empty() {
        return "–".to_owned();
    }
    t.failures
        .iter()
        .map(|(kind, n)| format!("{n} {kind}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn median_max(values: &[u64]) -> String {
    if values.is_empty() {
        return "–".to_owned();
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let median = sorted[sorted.len() / 2];
    let max = sorted[sorted.len() - 1];
    format!(
        "{:.1} s / {:.1} s",
        median as f64 / 1000.0,
        max as f64 / 1000.0
    )
}
