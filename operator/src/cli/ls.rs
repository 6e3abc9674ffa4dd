//! `readyroll ls`: the Apps of a namespace (or all, `-A`), like `pm2 ls`.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use k8s_openapi::jiff::Timestamp;
use kube::api::ListParams;
use kube::{Api, ResourceExt};
use readyroll_core::crd::App;

use super::state::State;
use super::table;
use super::target::TargetArgs;

#[derive(Debug, Args)]
pub struct LsArgs {
    /// List the Apps of every namespace.
    #[arg(long, short = 'A')]
    pub all_namespaces: bool,
}

const HEADER: [&str; 8] = [
    "NAME",
    "INSTANCES",
    "READY",
    "UPDATED",
    "REVISION",
    "STATUS",
    "RESTARTS",
    "AGE",
];

pub async fn run(target: &TargetArgs, args: &LsArgs) -> anyhow::Result<ExitCode> {
    let target = target.connect().await?;
    let api: Api<App> = if args.all_namespaces {
        Api::all(target.client.clone())
    } else {
        target.apps()
    };
    let mut apps = api
        .list(&ListParams::default())
        .await
        .context("listing Apps")?
        .items;
    apps.sort_by_key(|a| (a.namespace(), a.name_any()));
    if apps.is_empty() {
        match args.all_namespaces {
            true => eprintln!("No Apps found."),
            false => eprintln!("No Apps found in namespace {}.", target.namespace),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let now = Timestamp::now();
    let rows: Vec<Vec<String>> = apps
        .iter()
        .map(|app| {
            let mut row = row(app, now);
            if args.all_namespaces {
                row.insert(0, app.namespace().unwrap_or_default());
            }
            row
        })
        .collect();
    let mut header = HEADER.to_vec();
    if args.all_namespaces {
        header.insert(0, "NAMESPACE");
    }
    super::write_stdout(&table::render(&header, &rows))?;
    Ok(ExitCode::SUCCESS)
}

/// One App's line: counts from its status, its state in PM2's words.
pub fn row(app: &App, now: Timestamp) -> Vec<String> {
    let status = app.status.clone().unwrap_or_default();
    let count = |n: Option<i32>| n.map_or_else(|| "-".to_string(), |n| n.to_string());
    let age = app.metadata.creation_timestamp.as_ref().map_or_else(
        || "-".into(),
        |t| table::age(now.as_second() - t.0.as_second()),
    );
    vec![
        app.name_any(),
        count(status.instances),
        format!(
            "{}/{}",
            status.ready_replicas.unwrap_or(0),
            status.instances.unwrap_or(0)
        ),
        count(status.updated_replicas),
        status.current_revision.unwrap_or_else(|| "-".into()),
        State::of(app).word().to_string(),
        count(status.restarts),
        age,
    ]
}
