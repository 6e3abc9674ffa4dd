//! The flags of `readyroll run`.

use clap::builder::NonEmptyStringValueParser;

use crate::leader::LeaderElectArgs;
use crate::telemetry::{LogArgs, MetricsArgs};

/// Run the controller. The cluster is found the standard way: KUBECONFIG,
/// then ~/.kube/config, then the in-cluster service account.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Image that provides /readyroll-shim for Apps that use the runtime
    /// shim and name no image of their own (normally the operator's image).
    #[arg(long, env = "READYROLL_SHIM_IMAGE", value_name = "IMAGE", value_parser = NonEmptyStringValueParser::new())]
    pub shim_image: String,

    /// Watch Apps in this namespace only (default: every namespace).
    #[arg(long, value_name = "NAMESPACE", value_parser = NonEmptyStringValueParser::new())]
    pub watch_namespace: Option<String>,

    #[command(flatten)]
    pub log: LogArgs,

    #[command(flatten)]
    pub metrics: MetricsArgs,

    #[command(flatten)]
    pub leader: LeaderElectArgs,
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        run: RunArgs,
    }

    #[test]
    fn the_chart_flags_parse() {
        let cli = Cli::try_parse_from([
            "run",
            "--metrics-addr=0.0.0.0:8080",
            "--log-level=info",
            "--log-format=json",
            "--shim-image=readyroll:0.1.0",
            "--leader-elect",
            "--lease-name=readyroll-leader",
            "--lease-duration-seconds=15",
            "--lease-renew-before-seconds=6",
            "--lease-namespace=readyroll-system",
            "--leader-identity=readyroll-0",
        ])
        .expect("the chart's flags parse");
        assert_eq!(cli.run.shim_image, "readyroll:0.1.0");
        assert_eq!(cli.run.watch_namespace, None);
        assert!(cli.run.leader.config().expect("valid").is_some());
    }

    #[test]
    fn the_shim_image_is_required_and_not_empty() {
        for args in [&["run"][..], &["run", "--shim-image="][..]] {
            let err = Cli::try_parse_from(args).err().expect("rejected");
            assert!(err.to_string().contains("--shim-image"), "{err}");
        }
    }
}
