//! The `readyroll` command line: one variant of `Command` per subcommand,
//! each handled by one function below.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use readyroll::controller::RunArgs;
use readyroll::convert::{self, ConvertError, ConvertOptions};
use readyroll::telemetry::ProbeArgs;

/// `0.1.0 (commit 1a2b3c4d5e6f)`; build.rs supplies the commit.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("READYROLL_GIT_COMMIT"),
    ")"
);

const EXAMPLES: &str = "\
Examples:
  # Install the App resource type into the cluster
  readyroll crd | kubectl apply -f -

  # Run the controller against the cluster of the current kubeconfig
  readyroll run --shim-image registry.example.com/readyroll:0.1.0

  # Turn a PM2 ecosystem file into Apps and apply them
  readyroll convert ecosystem.json --image registry.example.com/web:1.4.2 | kubectl apply -f -

Run `readyroll help <command>` for the options of one command.";

const CONVERT_EXAMPLES: &str = "\
Every app of the file becomes one App document (separated by ---) on stdout.
Options that have no meaning in a pod (watch, log files, ...) and keys PM2
does not know are listed on stderr; nothing is dropped silently. A file with
any error (wrong type, out-of-range value, invalid name) prints no App at all
and exits 1, with FILE:LINE:COLUMN for every problem.

The container image: --image IMAGE applies to every app that has no \"image\"
key of its own. Adding \"image\" to an app in the ecosystem file is the way to
give apps different images; PM2 ignores keys it does not know, so the file
keeps working with PM2.

Examples:
  # One image for every app of the file
  readyroll convert ecosystem.json --image registry.example.com/shop:2.0

  # YAML ecosystem, into a namespace, with PM2's env_production profile
  readyroll convert ecosystem.yaml --image shop:2.0 --namespace shop --env production

  # JavaScript ecosystem files are evaluated with node (must be on PATH)
  readyroll convert ecosystem.config.js --image shop:2.0 > apps.yaml";

/// Kubernetes operator that brings PM2's zero-downtime reloads to Kubernetes.
#[derive(Debug, Parser)]
#[command(name = "readyroll", version = VERSION, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the controller: reconcile Apps into Deployments, Services and PodDisruptionBudgets.
    Run(RunArgs),
    /// Print the App CustomResourceDefinition as YAML (for `kubectl apply -f -`).
    #[command(after_help = "Example:\n  readyroll crd | kubectl apply -f -")]
    Crd,
    /// Convert a PM2 ecosystem file (.json, .json5, .yaml, .js) into App resources on stdout.
    #[command(after_help = CONVERT_EXAMPLES)]
    Convert(ConvertArgs),
    /// Print the version and the git commit it was built from.
    Version,
    /// GET a URL and succeed on a 2xx answer (health checks from the operator image).
    Probe(ProbeArgs),
}

#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// The ecosystem file: .json, .yaml/.yml, or .js/.cjs/.mjs (evaluated with node).
    pub file: PathBuf,

    /// Container image for every app without an "image" key of its own.
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,

    /// Namespace written into every App (default: none, kubectl's current namespace applies).
    #[arg(long, short = 'n', value_name = "NAMESPACE")]
    pub namespace: Option<String>,

    /// Select PM2's env_PROFILE block, like `pm2 start --env PROFILE` (sets spec.profile).
    #[arg(long = "env", value_name = "PROFILE")]
    pub profile: Option<String>,
}

impl Command {
    /// Runs the subcommand; the exit code tells success apart from problems
    /// already reported on stderr.
    pub fn execute(self) -> anyhow::Result<ExitCode> {
        match self {
            Command::Run(args) => crate::operator::run(args),
            Command::Crd => crd(),
            Command::Probe(args) => probe(args),
            Command::Convert(args) => convert(args),
            Command::Version => {
                println!("readyroll {VERSION}");
                Ok(ExitCode::SUCCESS)
            }
        }
    }
}

fn probe(args: ProbeArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match runtime.block_on(args.run()) {
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

fn convert(args: ConvertArgs) -> anyhow::Result<ExitCode> {
    let opts = ConvertOptions {
        image: args.image,
        namespace: args.namespace,
        profile: args.profile,
    };
    let mut stderr = std::io::stderr().lock();
    match convert::convert_file(&args.file, &opts) {
        Ok(conversion) => {
            for d in &conversion.diagnostics {
                writeln!(stderr, "{d}")?;
            }
            let yaml = convert::to_yaml(&conversion.apps).context("rendering the Apps as YAML")?;
            write_stdout(&yaml)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(err @ ConvertError::Invalid { .. }) => {
            if let ConvertError::Invalid { diagnostics, .. } = &err {
                for d in diagnostics {
                    writeln!(stderr, "{d}")?;
                }
            }
            writeln!(stderr, "error: {err}")?;
            Ok(ExitCode::FAILURE)
        }
        Err(err) => Err(err.into()),
    }
}
