//! The commands that change an App: `pause`, `resume`, `reload` and
//! `restart`. Each writes one field of the App's spec with a JSON merge
//! patch under the field manager `readyroll-cli`, so the change is one a
//! manifest can say as well (`spec.paused`, `spec.restartedAt`) and shows
//! up as such in a GitOps diff. Nothing is written to the Deployment: the
//! controller does that, as for any other spec change.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use serde_json::{json, Value};

use super::target::{Target, TargetArgs};

/// Who the API server records as having written the fields.
pub const FIELD_MANAGER: &str = "readyroll-cli";

#[derive(Debug, Args)]
pub struct AppArg {
    /// The App.
    pub app: String,
}

pub const PAUSE_HELP: &str = "\
Sets spec.paused: the Deployment is paused, so a spec change is applied to it
but no pod is replaced until `resume`. The status says so (condition Paused;
while a rollout waits, Ready=False and Reconciling=True, reason RolloutPaused).
In a GitOps repository, write `paused: true` in the App instead.";

pub const RELOAD_HELP: &str = "\
Zero-downtime rolling restart, like `pm2 reload`: sets spec.restartedAt to the
current time, which becomes a pod template annotation, so every instance is
replaced one by one, each only after its replacement is ready. Like
`kubectl rollout restart`, but written in the App (GitOps-safe). Follow it with
`readyroll status APP --watch`.";

pub const RESTART_HELP: &str = "\
PM2's closest equivalent of `pm2 restart`, which is NOT zero-downtime in PM2
(it kills every process, then starts it again). On Kubernetes readyroll only
offers the safe form: this is exactly `readyroll reload` (spec.restartedAt, a
rolling restart where no instance stops before its replacement is ready).";

/// `readyroll pause APP`.
pub async fn pause(target: &TargetArgs, args: &AppArg) -> anyhow::Result<ExitCode> {
    let target = target.connect().await?;
    patch_spec(&target, &args.app, json!({ "paused": true })).await?;
    println!("app/{} paused", args.app);
    Ok(ExitCode::SUCCESS)
}

/// `readyroll resume APP`: removes `spec.paused`.
pub async fn resume(target: &TargetArgs, args: &AppArg) -> anyhow::Result<ExitCode> {
    let target = target.connect().await?;
    patch_spec(&target, &args.app, json!({ "paused": Value::Null })).await?;
    println!("app/{} resumed", args.app);
    Ok(ExitCode::SUCCESS)
}

/// `readyroll reload APP` (and `restart`).
pub async fn reload(target: &TargetArgs, args: &AppArg) -> anyhow::Result<ExitCode> {
    let target = target.connect().await?;
    let now = Timestamp::now().to_string();
    patch_spec(&target, &args.app, json!({ "restartedAt": now })).await?;
    println!("app/{} reloading (spec.restartedAt={now})", args.app);
    Ok(ExitCode::SUCCESS)
}

/// Merges `fields` into the spec of the App `name`; it must exist (a merge
/// patch would not create it, and the error says where it was looked for).
async fn patch_spec(target: &Target, name: &str, fields: Value) -> anyhow::Result<()> {
    target.app(name).await?;
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..PatchParams::default()
    };
    target
        .apps()
        .patch(name, &params, &Patch::Merge(json!({ "spec": fields })))
        .await
        .with_context(|| format!("updating App {name:?} in namespace {:?}", target.namespace))?;
    Ok(())
}
