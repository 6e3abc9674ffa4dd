//! The `readyroll` command line: one variant of `Command` per subcommand,
//! one file per command. The same binary installed as `kubectl-readyroll`
//! is a kubectl plugin (`kubectl readyroll ls`): it then calls itself
//! `kubectl readyroll` in its help.

mod convert;
mod describe;
mod edit;
mod history;
mod logs;
mod ls;
mod state;
mod status;
mod table;
mod target;

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use readyroll::controller::RunArgs;
use readyroll::telemetry::ProbeArgs;

pub use convert::ConvertArgs;
use target::TargetArgs;

/// `0.1.0 (commit 1a2b3c4d5e6f)`; build.rs supplies the commit.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("READYROLL_GIT_COMMIT"),
    ")"
);

/// The name kubectl looks for on PATH to run `kubectl readyroll`.
pub const PLUGIN_BINARY: &str = "kubectl-readyroll";

const EXAMPLES: &str = "\
Examples:
  # Install the App resource type into the cluster
  readyroll crd | kubectl apply -f -

  # Run the controller against the cluster of the current kubeconfig
  readyroll run --shim-image registry.example.com/readyroll:0.1.0

  # Turn a PM2 ecosystem file into Apps and apply them
  readyroll convert ecosystem.json --image registry.example.com/web:1.4.2 | kubectl apply -f -

  # Day to day, like pm2: list Apps, follow a rollout
  readyroll ls -A
  readyroll status web --watch --timeout 5m
  readyroll reload web && readyroll status web --watch
  readyroll describe web
  readyroll logs web -f
  readyroll history web
  readyroll rollback web --to-revision 3
  readyroll pause web; readyroll resume web

Run `readyroll help <command>` for the options of one command.";

/// Kubernetes operator that brings PM2's zero-downtime reloads to Kubernetes.
#[derive(Debug, Parser)]
#[command(name = "readyroll", version = VERSION, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List Apps with instances, readiness, revision, state and restarts (pm2 ls).
    #[command(visible_alias = "list")]
    Ls {
        #[command(flatten)]
        target: TargetArgs,
        #[command(flatten)]
        args: ls::LsArgs,
    },
    /// Show an App's rollout; with --watch follow it (exit 0 complete, 1 failed, 2 not done).
    Status {
        #[command(flatten)]
        target: TargetArgs,
        #[command(flatten)]
        args: status::StatusArgs,
    },
    /// Zero-downtime rolling restart of every instance (pm2 reload): sets spec.restartedAt.
    #[command(after_help = edit::RELOAD_HELP)]
    Reload {
        #[command(flatten)]
        target: TargetArgs,
        #[command(flatten)]
        args: edit::AppArg,
    },
    /// The same as reload: PM2's restart (kill, then start) is not zero-downtime; this is.
    #[command(after_help = edit::RESTART_HELP)]
    Restart {
        #[command(flatten)]
        target: TargetArgs,
        #[command(flatten)]
        args: edit::AppArg,
    },
    /// Show an App in PM2 terms: options with resolved defaults, conditions, Events, history (pm2 describe).
    #[command(visible_alias = "show")]
    Describe {
        #[command(flatten)]
        target: TargetArgs,
        #[command(flatten)]
        args: describe::DescribeArgs,
    },
    /// Print every instance's output, prefixed INDEX|APP like pm2 logs; -f follows new pods too.
    Logs {
        #[command(flatten)]
        target: TargetArgs,
        #[command(flatten)]
        args: logs::LogsArgs,
    },
    /// List the App's last revisions: when, what changed, how the rollout ended.
    History {
        #[command(flatten)]
        target: TargetArgs,
        #[command(flatten)]
        args: history::HistoryArgs,
    },
    /// Write an earlier revision's spec back into the App (default: the last complete one).
    #[command(after_help = history::ROLLBACK_HELP)]
    Rollback {
        #[command(flatten)]
        target: TargetArgs,
        #[command(flatten)]
        args: history::RollbackArgs,
    },
    /// Pause rollouts: sets spec.paused (the Deployment is paused too).
    #[command(after_help = edit::PAUSE_HELP)]
    Pause {
        #[command(flatten)]
        target: TargetArgs,
        #[command(flatten)]
        args: edit::AppArg,
    },
    /// Resume rollouts: clears spec.paused.
    Resume {
        #[command(flatten)]
        target: TargetArgs,
        #[command(flatten)]
        args: edit::AppArg,
    },
    /// Run the controller: reconcile Apps into Deployments, Services and PodDisruptionBudgets.
    Run(RunArgs),
    /// Print the App CustomResourceDefinition as YAML (for `kubectl apply -f -`).
    #[command(after_help = "Example:\n  readyroll crd | kubectl apply -f -")]
    Crd,
    /// Convert a PM2 ecosystem file (.json, .json5, .yaml, .js) into App resources on stdout.
    #[command(after_help = convert::EXAMPLES)]
    Convert(ConvertArgs),
    /// Print the version and the git commit it was built from.
    Version,
    /// GET a URL and succeed on a 2xx answer (health checks from the operator image).
    Probe(ProbeArgs),
}

impl Cli {
    /// Parses the arguments; invoked as `kubectl-readyroll` (a kubectl
    /// plugin), the help and errors say `kubectl readyroll`.
    pub fn parse_args() -> Cli {
        let args: Vec<OsString> = std::env::args_os().collect();
        let mut command = Cli::command();
        if invoked_as_plugin(args.first()) {
            command = command
                .name("kubectl readyroll")
                .bin_name("kubectl readyroll");
        }
        let matches = command.get_matches_from(args);
        Cli::from_arg_matches(&matches).unwrap_or_else(|err| err.exit())
    }
}

/// argv[0] names the kubectl plugin binary (a copy or a link).
fn invoked_as_plugin(argv0: Option<&OsString>) -> bool {
    argv0
        .map(std::path::Path::new)
        .and_then(|p| p.file_stem())
        .is_some_and(|stem| stem == PLUGIN_BINARY)
}

impl Command {
    /// Runs the subcommand; the exit code tells success apart from problems
    /// already reported on stderr.
    pub fn execute(self) -> anyhow::Result<ExitCode> {
        match self {
            Command::Ls { target, args } => block_on(ls::run(&target, &args))?,
            Command::Status { target, args } => block_on(status::run(&target, &args))?,
            Command::Reload { target, args } | Command::Restart { target, args } => {
                block_on(edit::reload(&target, &args))?
            }
            Command::Describe { target, args } => block_on(describe::run(&target, &args))?,
            Command::Logs { target, args } => block_on(logs::run(&target, &args))?,
            Command::History { target, args } => block_on(history::show(&target, &args))?,
            Command::Rollback { target, args } => block_on(history::rollback(&target, &args))?,
            Command::Pause { target, args } => block_on(edit::pause(&target, &args))?,
            Command::Resume { target, args } => block_on(edit::resume(&target, &args))?,
            Command::Run(args) => crate::operator::run(args),
            Command::Crd => crd(),
            Command::Probe(args) => probe(args),
            Command::Convert(args) => convert::run(args),
            Command::Version => {
                println!("readyroll {VERSION}");
                Ok(ExitCode::SUCCESS)
            }
        }
    }
}

/// Runs a command's future on a runtime of its own.
fn block_on<F: std::future::Future>(future: F) -> anyhow::Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    Ok(runtime.block_on(future))
}

fn probe(args: ProbeArgs) -> anyhow::Result<ExitCode> {
    match block_on(args.run())? {
        Ok(line) => {
            println!("{line}");
            Ok(ExitCode::SUCCESS)
        }
        Err(err) => {
            eprintln!("error: {err}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn crd() -> anyhow::Result<ExitCode> {
    let yaml = readyroll::crd::crd_yaml().context("rendering the CRD")?;
    write_stdout(&yaml)?;
    Ok(ExitCode::SUCCESS)
}

/// Writes the command's output; a reader that stops early (`| head`) is
/// not an error.
fn write_stdout(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e).context("writing to stdout"),
        _ => Ok(()),
    }
}

/// `90s`, `5m`, `1h30m` (or ISO 8601, `PT5M`): a duration flag.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let parsed: jiff::SignedDuration = text
        .parse()
        .map_err(|e| format!("{text:?} is not a duration such as 90s or 5m: {e}"))?;
    Duration::try_from(parsed).map_err(|_| format!("{text:?} is negative"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plugin_name_is_recognised_from_argv0() {
        for argv0 in [
            "kubectl-readyroll",
            "/usr/local/bin/kubectl-readyroll",
            "kubectl-readyroll.exe",
        ] {
            assert!(invoked_as_plugin(Some(&argv0.into())), "{argv0}");
        }
        for argv0 in ["readyroll", "/bin/readyroll", "kubectl"] {
            assert!(!invoked_as_plugin(Some(&argv0.into())), "{argv0}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
