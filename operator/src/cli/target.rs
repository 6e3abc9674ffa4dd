//! Which cluster and namespace a day-to-day command talks to, chosen the
//! way kubectl chooses: the current kubeconfig (`$KUBECONFIG` or
//! `~/.kube/config`, or `--kubeconfig`), its current context (or
//! `--context`), the context's namespace (or `-n`; `-A` for every
//! namespace where a command lists).

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use readyroll_core::crd::App;

/// The kubectl-style connection flags every cluster command takes.
#[derive(Debug, Clone, Args)]
pub struct TargetArgs {
    /// The namespace (default: the context's namespace, else "default").
    #[arg(long, short = 'n', value_name = "NAMESPACE")]
    pub namespace: Option<String>,

    /// The kubeconfig context to use (default: the current context).
    #[arg(long, value_name = "CONTEXT")]
    pub context: Option<String>,

    /// The kubeconfig file (default: $KUBECONFIG, else ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
}

/// A connected client and the namespace the command works in.
pub struct Target {
    pub client: Client,
    pub namespace: String,
}

impl TargetArgs {
    /// Connects as kubectl would with the same flags.
    pub async fn connect(&self) -> anyhow::Result<Target> {
        let options = KubeConfigOptions {
            context: self.context.clone(),
            ..KubeConfigOptions::default()
        };
        let config = match &self.kubeconfig {
            Some(path) => {
                let file = Kubeconfig::read_from(path)
                    .with_context(|| format!("reading kubeconfig {}", path.display()))?;
                Config::from_custom_kubeconfig(file, &options).await
            }
            None => Config::from_kubeconfig(&options).await,
        }
        .context("loading the kubeconfig")?;
        let namespace = self
            .namespace
            .clone()
            .unwrap_or_else(|| config.default_namespace.clone());
        let client = Client::try_from(config).context("creating the Kubernetes client")?;
        Ok(Target { client, namespace })
    }
}

impl Target {
    /// The Apps of the command's namespace.
    pub fn apps(&self) -> Api<App> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// The App `name`, with an error that says where it was looked for.
    pub async fn app(&self, name: &str) -> anyhow::Result<App> {
        match self.apps().get_opt(name).await {
            Ok(Some(app)) => Ok(app),
            Ok(None) => anyhow::bail!("App {name:?} not found in namespace {:?}", self.namespace),
            Err(err) => Err(err)
                .with_context(|| format!("reading App {name:?} in namespace {:?}", self.namespace)),
        }
    }
}
