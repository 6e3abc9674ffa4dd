//! `readyroll run`: the operator process around the controller: logging,
//! the metrics and health server, leader election and signal handling.

use std::process::ExitCode;

use anyhow::Context;
use kube::Client;
use tokio::sync::watch;
use tracing::{error, info};

use readyroll::controller::{self, ControllerConfig, RunArgs};
use readyroll::core::BuildOptions;
use readyroll::leader::{LeaderElection, Leadership};
use readyroll::telemetry::{self, init_logging, Health, Metrics};

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    init_logging(args.log.log_format, &args.log.log_level).context("setting up logging")?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(operate(args))?;
    Ok(ExitCode::SUCCESS)
}

async fn operate(args: RunArgs) -> anyhow::Result<()> {
    let leader_config = args.leader.config().context("leader election flags")?;
    let client = Client::try_default().await.context(
        "finding the cluster (KUBECONFIG, ~/.kube/config or the in-cluster service account)",
    )?;
    let metrics = Metrics::new();
    let health = Health::new();
    let (stop, stopping) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        info!("shutdown requested; finishing reconciles in flight");
        let _ = stop.send(true);
    });

    let server = telemetry::TelemetryServer::bind(
        args.metrics.metrics_addr,
        metrics.clone(),
        health.clone(),
    )
    .await
    .with_context(|| {
        format!(
            "serving metrics on --metrics-addr {}",
            args.metrics.metrics_addr
        )
    })?;
    info!(addr = %server.local_addr(), "serving /metrics, /healthz and /readyz");
    let server = tokio::spawn(server.run(stopped(stopping.clone())));

    let (election, leadership) = match leader_config {
        Some(config) => {
            let election = LeaderElection::start(client.clone(), config)
                .await
                .context("starting leader election")?;
            let leadership = election.leadership();
            (Some(election), leadership)
        }
        None => (None, Leadership::always()),
    };
    let follow = metrics.follow_leadership(&leadership);

    let config = ControllerConfig {
        instance: std::env::var("POD_NAME").ok().filter(|n| !n.is_empty()),
        leadership,
        metrics,
        health: health.clone(),
        ..ControllerConfig::new(
            client,
            args.watch_namespace,
            BuildOptions {
                shim_image: args.shim_image,
            },
        )
    };
    controller::run(config, stopped(stopping.clone())).await;
    health.set_stopped("controller stopped");

    if let Some(election) = election {
        if let Err(e) = election.release().await {
            error!(error = %e, "releasing the leader Lease");
        }
    }
    follow.abort();
    match server.await {
        Ok(result) => result.context("metrics server")?,
        Err(join) => anyhow::bail!("metrics server task failed: {join}"),
    }
    Ok(())
}

/// Resolves once a stop was requested.
async fn stopped(mut stopping: watch::Receiver<bool>) {
    // An error means the sender is gone, which also means stop.
    let _ = stopping.wait_for(|stop| *stop).await;
}

/// SIGTERM (what the kubelet sends) or SIGINT (Ctrl-C).
async fn wait_for_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                error!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops the operator");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = terminate => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
