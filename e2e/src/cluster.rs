use std::path::PathBuf;

use kube::{
    config::{AuthInfo, KubeConfigOptions, Kubeconfig},
    Client, Config,
};

use crate::Error;

/// A connection to the cluster under test.
#[derive(Clone)]
pub struct Cluster {
    client: Client,
    config: Config,
    kubeconfig: PathBuf,
}

impl Cluster {
    /// The kubeconfig used: `$KUBECONFIG` (its first entry) when set, else the admin
    /// kubeconfig of the local cluster that `make cluster-up` writes.
    pub fn kubeconfig_path() -> PathBuf {
        if let Some(first) = std::env::var_os("KUBECONFIG")
            .and_then(|paths| std::env::split_paths(&paths).find(|p| !p.as_os_str().is_empty()))
        {
            return first;
        }
        local_cluster_dir().join("admin.kubeconfig")
    }

    /// Connects and checks that the API server answers.
    pub async fn connect() -> Result<Self, Error> {
        let kubeconfig = Self::kubeconfig_path();
        let file = Kubeconfig::read_from(&kubeconfig).map_err(|source| Error::Kubeconfig {
            path: kubeconfig.clone(),
            source,
        })?;
        let config = Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
            .await
            .map_err(|source| Error::Kubeconfig {
                path: kubeconfig.clone(),
                source,
            })?;
        let client = Client::try_from(config.clone())?;
        client
            .apiserver_version()
            .await
            .map_err(|source| Error::Unreachable {
                path: kubeconfig.clone(),
                source,
            })?;
        Ok(Self {
            client,
            config,
            kubeconfig,
        })
    }

    /// The cluster for a test that was asked to run: the cluster tests are `#[ignore]`d and
    /// their tier runs them with `--ignored`.
    ///
    /// # Panics
    /// When the cluster cannot be reached: a requested end-to-end run must fail rather than
    /// pass without testing anything.
    pub async fn require() -> Self {
        match Self::connect().await {
            Ok(cluster) => cluster,
            Err(err) => panic!("the test cluster is unusable: {err}"),
        }
    }

    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// The client configuration, e.g. to build clients with other credentials.
    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn kubeconfig(&self) -> &PathBuf {
        &self.kubeconfig
    }

    /// A client for the same API server that authenticates with a bearer token only
    /// (for example a ServiceAccount token from a TokenRequest).
    pub fn client_with_token(&self, token: &str) -> Result<Client, Error> {
        let mut config = self.config.clone();
        config.auth_info = AuthInfo {
            token: Some(token.to_owned().into()),
            ..AuthInfo::default()
        };
        Ok(Client::try_from(config)?)
    }
}

/// Mirrors e2e/cluster/env.sh: `${READYROLL_CLUSTER_DIR:-${READYROLL_CACHE:-$HOME/.cache/readyroll}/cluster}`.
fn local_cluster_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("READYROLL_CLUSTER_DIR") {
        return dir.into();
    }
    cache_dir().join("cluster")
}

/// `${READYROLL_CACHE:-$HOME/.cache/readyroll}`, as in e2e/cluster/env.sh.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("READYROLL_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").unwrap_or_default();
            PathBuf::from(home).join(".cache").join("readyroll")
        })
}
