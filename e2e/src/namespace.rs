use std::time::Duration;

use k8s_openapi::{
    api::core::v1::{Namespace, ServiceAccount},
    NamespaceResourceScope,
};
use kube::{
    api::{DeleteParams, ObjectMeta, PostParams},
    Api, Client, Config, Resource,
};

use crate::{background, dump::dump_namespace, names::unique_name, wait_for, Cluster, Error};

/// Label on every namespace the harness creates, to find leftovers.
pub const TEST_NAMESPACE_LABEL: &str = "readyroll.dev/e2e";

/// Set to keep test namespaces after the test (for inspection) instead of deleting them.
pub const KEEP_NAMESPACES_ENV: &str = "READYROLL_E2E_KEEP_NAMESPACES";

/// A namespace of its own for one test. Dropping it deletes the namespace; if the test is
/// panicking, the namespace's objects are printed first.
pub struct TestNamespace {
    name: String,
    client: Client,
    config: Config,
}

impl TestNamespace {
    /// Creates `PREFIX-<random>`.
    pub async fn new(cluster: &Cluster, prefix: &str) -> Result<Self, Error> {
        let name = unique_name(prefix);
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                labels: Some([(TEST_NAMESPACE_LABEL.to_owned(), "true".to_owned())].into()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        Api::<Namespace>::all(cluster.client())
            .create(&PostParams::default(), &namespace)
            .await?;
        Ok(Self {
            name,
            client: cluster.client(),
            config: cluster.config().clone(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Waits until the controller manager created the namespace's `default` ServiceAccount:
    /// until then the API server rejects pods that mount its token.
    pub async fn wait_for_default_service_account(&self) -> Result<(), Error> {
        let accounts = self.api::<ServiceAccount>();
        let exists = |sa: Option<&ServiceAccount>| sa.is_some();
        wait_for(&accounts, "default", exists, Duration::from_secs(60)).await?;
        Ok(())
    }

    /// An [`Api`] for namespaced objects in this namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = NamespaceResourceScope>,
        <K as Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.name)
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        let name = self.name.clone();
        let failed = std::thread::panicking();
        let keep = std::env::var_os(KEEP_NAMESPACES_ENV).is_some();
        background::run_to_completion(&self.config, move |client| async move {
            if failed {
                eprintln!("{}", dump_namespace(&client, &name).await);
            }
            if keep {
                eprintln!("readyroll-e2e: keeping namespace {name} ({KEEP_NAMESPACES_ENV} is set)");
                return;
            }
            // Deletion finishes in the background; names are unique, so nothing waits on it.
            match Api::<Namespace>::all(client)
                .delete(&name, &DeleteParams::background())
                .await
            {
                // Already deleted by the test itself.
                Err(kube::Error::Api(status)) if status.code == 404 => {}
                Err(err) => eprintln!("readyroll-e2e: could not delete namespace {name}: {err}"),
                Ok(_) => {}
            }
        });
    }
}
