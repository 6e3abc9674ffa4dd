//! Command-line flags for telemetry, to flatten into the CLI's commands.

use std::net::SocketAddr;
use std::time::Duration;

use super::logging::LogFormat;
use super::probe::{probe, ProbeError};
use super::server::DEFAULT_METRICS_ADDR;

/// `--log-format` and `--log-level`.
#[derive(Debug, Clone, clap::Args)]
pub struct LogArgs {
    /// How log lines look: text for a terminal, json for log collectors.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Log level or filter in RUST_LOG syntax (info, debug,
    /// "readyroll=debug,kube=info").
    #[arg(long, default_value = "info")]
    pub log_level: String,
}

/// `--metrics-addr`.
#[derive(Debug, Clone, clap::Args)]
pub struct MetricsArgs {
    /// Address serving /metrics, /healthz and /readyz.
    #[arg(long, default_value = DEFAULT_METRICS_ADDR)]
    pub metrics_addr: SocketAddr,
}

/// `readyroll probe URL`: GET a URL and succeed on a 2xx answer. Lets a pod
/// that runs the operator image (which holds nothing else) check the
/// operator's health, as the chart's `helm test` does.
#[derive(Debug, Clone, clap::Args)]
pub struct ProbeArgs {
    /// http://HOST:PORT/PATH to GET.
    pub url: String,

    /// Seconds to wait for the whole answer.
    #[arg(long, default_value_t = 5)]
    pub timeout_seconds: u64,
}

/// A probe that did not get a 2xx answer.
#[derive(Debug, thiserror::Error)]
pub enum ProbeFailed {
    #[error(transparent)]
    NoAnswer(#[from] ProbeError),
    #[error("{url} answered {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
}

impl ProbeArgs {
    /// Runs the probe; on success returns the status line to print.
    pub async fn run(&self) -> Result<String, ProbeFailed> {
        let response = probe(&self.url, Duration::from_secs(self.timeout_seconds)).await?;
        let body = response.body.trim().to_owned();
        if (200..300).contains(&response.status) {
            Ok(format!(
                "{} answered {}: {}",
                self.url, response.status, body
            ))
        } else {
            Err(ProbeFailed::Status {
                url: self.url.clone(),
                status: response.status,
                body,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::{Health, Metrics, TelemetryServer};
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        log: LogArgs,
        #[command(flatten)]
        metrics: MetricsArgs,
    }

    #[test]
    fn defaults() {
        let cli = Cli::try_parse_from(["readyroll"]).expect("defaults parse");
        assert_eq!(cli.log.log_format, LogFormat::Text);
        assert_eq!(cli.log.log_level, "info");
        assert_eq!(cli.metrics.metrics_addr.to_string(), DEFAULT_METRICS_ADDR);
    }

    #[test]
    fn flags_parse_and_bad_values_name_the_flag() {
        let cli = Cli::try_parse_from([
            "readyroll",
            "--log-format=json",
            "--metrics-addr=127.0.0.1:9090",
        ])
        .expect("valid");
        assert_eq!(cli.log.log_format, LogFormat::Json);
        assert_eq!(cli.metrics.metrics_addr.port(), 9090);
        let err = Cli::try_parse_from(["readyroll", "--metrics-addr=localhost"])
            .err()
            .expect("not an address");
        assert!(err.to_string().contains("--metrics-addr"), "{err}");
        let err = Cli::try_parse_from(["readyroll", "--log-format=yaml"])
            .err()
            .expect("unknown format");
        assert!(err.to_string().contains("--log-format"), "{err}");
    }

    #[tokio::test]
    async fn probe_succeeds_only_on_2xx() {
        let health = Health::new();
        let server =
            TelemetryServer::bind(([127, 0, 0, 1], 0).into(), Metrics::new(), health.clone())
                .await
                .expect("bind");
        let base = format!("http://{}", server.local_addr());
        tokio::spawn(server.run(std::future::pending()));
        let probe = |path: &str| ProbeArgs {
            url: format!("{base}{path}"),
            timeout_seconds: 5,
        };

        let err = probe("/readyz").run().await.expect_err("not ready yet");
        assert!(
            matches!(err, ProbeFailed::Status { status: 503, .. }),
            "{err}"
        );
        health.set_ready(true);
        let ok = probe("/readyz").run().await.expect("ready");
        assert!(ok.contains("200"), "{ok}");
    }
}
