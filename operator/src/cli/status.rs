//! `readyroll status APP [--watch] [--timeout D]`: where the App's rollout
//! stands, read from its status for the current generation. For CI: exits 0
//! when the rollout is complete and Available, 1 when the App is Degraded
//! (Stalled), 2 when it is not done (without `--watch`, or when
//! `--timeout` passes first).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use futures::{StreamExt, TryStreamExt};
use kube::runtime::watcher;
use readyroll_core::crd::App;

use super::state::State;
use super::target::TargetArgs;

/// Exit code when the rollout is not done yet.
pub const NOT_DONE: u8 = 2;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The App.
    pub app: String,

    /// Follow the rollout until it is complete or failed.
    #[arg(long, short = 'w')]
    pub watch: bool,

    /// With --watch, give up after this long (e.g. 90s, 5m; 0 waits forever).
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = super::parse_duration)]
    pub timeout: Duration,
}

pub async fn run(target: &TargetArgs, args: &StatusArgs) -> anyhow::Result<ExitCode> {
    let target = target.connect().await?;
    if !args.watch {
        let app = target.app(&args.app).await?;
        let state = State::of(&app);
        print_state(&args.app, &state);
        return Ok(exit_code(&state));
    }
    // Fail fast on a missing App, as kubectl does.
    target.app(&args.app).await?;
    let follow = follow(target.apps(), &args.app);
    if args.timeout.is_zero() {
        return follow.await;
    }
    match tokio::time::timeout(args.timeout, follow).await {
        Ok(result) => result,
        Err(_) => {
            eprintln!(
                "error: timed out after {:?} waiting for App {} to roll out",
                args.timeout, args.app
            );
            Ok(ExitCode::from(NOT_DONE))
        }
    }
}

/// Prints every change of state until the rollout completes or fails.
async fn follow(apps: kube::Api<App>, name: &str) -> anyhow::Result<ExitCode> {
    let mut updates = watcher::watch_object(apps, name).boxed();
    let mut last: Option<State> = None;
    while let Some(app) = updates.try_next().await.context("watching the App")? {
        let Some(app) = app else {
            anyhow::bail!("App {name} was deleted");
        };
        let state = State::of(&app);
        if last.as_ref() != Some(&state) {
            print_state(name, &state);
        }
        if matches!(state, State::Complete(_) | State::Failed(_)) {
            return Ok(exit_code(&state));
        }
        last = Some(state);
    }
    anyhow::bail!("the watch of App {name} ended")
}

fn print_state(name: &str, state: &State) {
    let what = match state {
        State::Pending(_) => "waiting",
        State::Rolling(_) => "rolling out",
        State::Paused(_) => "paused",
        State::Complete(_) => "rollout complete",
        State::Failed(_) => "rollout failed",
    };
    println!("app/{name}: {what}: {}", state.detail());
}

fn exit_code(state: &State) -> ExitCode {
    match state {
        State::Complete(_) => ExitCode::SUCCESS,
        State::Failed(_) => ExitCode::FAILURE,
        State::Pending(_) | State::Rolling(_) | State::Paused(_) => ExitCode::from(NOT_DONE),
    }
}
