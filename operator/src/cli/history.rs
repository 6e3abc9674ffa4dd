//! `readyroll history APP` and `readyroll rollback APP [--to-revision N]`.
//!
//! The history is the App's `status.history`; each revision's spec is kept
//! in a ControllerRevision the App owns. A rollback is GitOps-safe because
//! it changes only the App: it writes the saved spec of revision N back
//! into the App's spec (keeping the current instance count and pause, which
//! are no part of a revision), and readyroll rolls that out like any other
//! change, as a new revision. Where a GitOps tool owns the App, the same
//! spec must be committed there, or the tool puts the newer one back.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::jiff::Timestamp;
use kube::api::PostParams;
use kube::Api;
use readyroll_core::crd::{AppSpec, RevisionRecord};
use readyroll_core::history;

use super::edit::FIELD_MANAGER;
use super::table;
use super::target::{Target, TargetArgs};

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The App.
    pub app: String,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The App.
    pub app: String,

    /// The revision to go back to, as `readyroll history` lists it
    /// (default: the newest earlier revision whose rollout completed).
    #[arg(long, value_name = "N")]
    pub to_revision: Option<i64>,
}

pub const ROLLBACK_HELP: &str = "\
Writes the spec of an earlier revision (kept in a ControllerRevision the App
owns) back into the App; the instance count and spec.paused stay as they are.
readyroll then rolls it out, zero-downtime, as a new revision. The App's spec
stays the source of truth: where a GitOps tool (Argo CD, Flux) owns the App,
commit the same spec there, or the tool restores the newer one.";

const HEADER: [&str; 5] = ["REVISION", "AGE", "OUTCOME", "TEMPLATE", "CHANGE"];

pub async fn show(target: &TargetArgs, args: &HistoryArgs) -> anyhow::Result<ExitCode> {
    let target = target.connect().await?;
    let app = target.app(&args.app).await?;
    let records = app.status.map(|s| s.history).unwrap_or_default();
    if records.is_empty() {
        eprintln!("App {} has no recorded revision yet.", args.app);
        return Ok(ExitCode::SUCCESS);
    }
    super::write_stdout(&render(&records, Timestamp::now()))?;
    Ok(ExitCode::SUCCESS)
}

/// The history as a table, oldest first like `kubectl rollout history`.
pub fn render(records: &[RevisionRecord], now: Timestamp) -> String {
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            let age = r.at.parse::<Timestamp>().map_or_else(
                |_| "-".to_string(),
                |at| table::age(now.as_second() - at.as_second()),
            );
            vec![
                r.revision.to_string(),
                age,
                r.outcome.clone(),
                r.pod_revision.clone(),
                r.change.clone(),
            ]
        })
        .collect();
    table::render(&HEADER, &rows)
}

pub async fn rollback(target: &TargetArgs, args: &RollbackArgs) -> anyhow::Result<ExitCode> {
    let target = target.connect().await?;
    let mut app = target.app(&args.app).await?;
    let records = app
        .status
        .as_ref()
        .map(|s| s.history.clone())
        .unwrap_or_default();
    let chosen = choose(&records, args.to_revision)?;
    let saved = saved_spec(&target, chosen).await?;
    let restored = AppSpec {
        instances: app.spec.instances,
        replicas: app.spec.replicas,
        paused: app.spec.paused,
        ..saved
    };
    let change = history::summary(&app.spec, &restored);
    if restored == app.spec {
        println!(
            "app/{} already has the spec of revision {}",
            args.app, chosen.revision
        );
        return Ok(ExitCode::SUCCESS);
    }
    app.spec = restored;
    // A replace, with the resourceVersion just read: a concurrent change
    // makes it fail rather than be overwritten.
    let params = PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..PostParams::default()
    };
    target
        .apps()
        .replace(&args.app, &params, &app)
        .await
        .with_context(|| {
            format!(
                "writing the spec of revision {} into App {}",
                chosen.revision, args.app
            )
        })?;
    println!(
        "app/{} rolled back to revision {}: {change}",
        args.app, chosen.revision
    );
    Ok(ExitCode::SUCCESS)
}

/// Revision `wanted`, or the newest earlier one that completed.
pub fn choose(records: &[RevisionRecord], wanted: Option<i64>) -> anyhow::Result<&RevisionRecord> {
    let range = || match (records.first(), records.last()) {
        (Some(first), Some(last)) => format!("revisions {} to {}", first.revision, last.revision),
        _ => "no revision".to_string(),
    };
    match wanted {
        Some(n) => records.iter().find(|r| r.revision == n).with_context(|| {
            format!(
                "revision {n} is not in the App's history, which keeps {}",
                range()
            )
        }),
        None => {
            let (newest, earlier) = records
                .split_last()
                .context("the App has no recorded revision yet")?;
            earlier
                .iter()
                .rev()
                .find(|r| {
                    r.outcome == history::COMPLETE
                        && r.controller_revision != newest.controller_revision
                })
                .with_context(|| {
                    format!(
                        "no earlier revision completed its rollout; choose one with --to-revision (the history keeps {})",
                        range()
                    )
                })
        }
    }
}

async fn saved_spec(target: &Target, record: &RevisionRecord) -> anyhow::Result<AppSpec> {
    let api: Api<ControllerRevision> = Api::namespaced(target.client.clone(), &target.namespace);
    let name = &record.controller_revision;
    let saved = api
        .get_opt(name)
        .await
        .with_context(|| format!("reading ControllerRevision {name}"))?
        .with_context(|| {
            format!(
                "the spec of revision {} (ControllerRevision {name}) is gone",
                record.revision
            )
        })?;
    history::spec_of(&saved)
        .with_context(|| format!("ControllerRevision {name} holds no App spec readyroll can read"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(revision: i64, outcome: &str, name: &str) -> RevisionRecord {
        RevisionRecord {
            revision,
            at: Timestamp::from_second(100).unwrap().to_string(),
            change: format!("change {revision}"),
            outcome: outcome.into(),
            pod_revision: format!("pod{revision}"),
            controller_revision: name.into(),
        }
    }

    #[test]
    fn the_default_target_is_the_newest_earlier_complete_revision() {
        let records = [
            record(1, history::COMPLETE, "a"),
            record(2, history::COMPLETE, "b"),
            record(3, history::SUPERSEDED, "c"),
            record(4, history::PROGRESSING, "d"),
        ];
        assert_eq!(choose(&records, None).unwrap().revision, 2);
        assert_eq!(choose(&records, Some(3)).unwrap().revision, 3);
        let err = choose(&records, Some(9)).unwrap_err().to_string();
        assert!(err.contains("revisions 1 to 4"), "{err}");
        // The same spec as now is no rollback.
        let same = [
            record(1, history::COMPLETE, "a"),
            record(2, history::COMPLETE, "a"),
        ];
        assert!(choose(&same, None).is_err());
        assert!(choose(&[], None).is_err());
    }

    #[test]
    fn the_table_lists_revisions_oldest_first() {
        let now = Timestamp::from_second(160).unwrap();
        let text = render(&[record(1, history::COMPLETE, "a")], now);
        assert_eq!(
            text,
            "REVISION   AGE   OUTCOME    TEMPLATE   CHANGE\n1          60s   Complete   pod1       change 1\n"
        );
    }
}
