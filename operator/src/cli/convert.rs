//! `readyroll convert FILE`: a PM2 ecosystem file to App YAML on stdout.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use readyroll::convert::{self, ConvertError, ConvertOptions};

pub const EXAMPLES: &str = "\
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

pub fn run(args: ConvertArgs) -> anyhow::Result<ExitCode> {
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
            super::write_stdout(&yaml)?;
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
