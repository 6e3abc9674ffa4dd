//! A workload the tests roll: a readyroll App (the operator makes its Deployment), a
//! plain Deployment written the way a user writes one, or an Argo Rollouts `Rollout` of the
//! same pod template. All are changed the same ways (image, environment, a restart stamp on
//! the pod template as `kubectl rollout restart` writes it, scale) and watched alike.
use std::{
    collections::BTreeSet,
    time::{Duration, Instant},
};

use k8s_openapi::{
    api::{
        apps::v1::{Deployment, ReplicaSet},
        core::v1::{Pod, PodTemplateSpec},
    },
    jiff::Timestamp,
};
use kube::{
    api::{ListParams, Patch, PatchParams},
    runtime::wait::Condition,
    Api, ResourceExt,
};
use readyroll::crd::{App, CONDITION_AVAILABLE, CONDITION_PROGRESSING};
use readyroll_e2e::{
    argo::{self, rollout_healthy, Rollout},
    conditions::deployment_available,
    wait_for, Error, TestNamespace,
};
use serde_json::{json, Value};

/// Field manager of the test's own writes.
pub const FIELD_MANAGER: &str = "readyroll-e2e";
/// The field manager `kubectl rollout restart` writes with, and the annotation it sets.
pub const RESTART_MANAGER: &str = "kubectl-rollout";
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";
/// The Progressing reason of an App whose rollout finished (readyroll's status contract).
pub const ROLLOUT_COMPLETE: &str = "RolloutComplete";
/// The environment variable the test apps report as their version.
pub const VERSION_ENV: &str = "VERSION";
const POLL: Duration = Duration::from_millis(200);

/// What the workload should run now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Desired {
    pub repository: &'static str,
    pub tag: String,
    /// `VERSION` set in the environment, overriding the one baked into the image.
    pub version_env: Option<String>,
    pub replicas: i32,
    /// The App's `instances` as written, when it is not `replicas` itself (PM2's `0`: one
    /// per CPU, which resolves to `replicas`).
    pub pm2_instances: Option<i64>,
    /// The last `kubectl rollout restart` stamp, once restarted.
    pub restarted_at: Option<String>,
}

impl Desired {
    pub fn new(repository: &'static str, tag: &str, replicas: i32) -> Self {
        Desired {
            repository,
            tag: tag.to_owned(),
            version_env: None,
            replicas,
            pm2_instances: None,
            restarted_at: None,
        }
    }

    /// An App whose `instances` is PM2's `instances` (e.g. `0`), expected to resolve to
    /// `replicas` pods.
    pub fn with_pm2_instances(mut self, instances: i64) -> Self {
        self.pm2_instances = Some(instances);
        self
    }

    pub fn image(&self) -> String {
        format!("{}:{}", self.repository, self.tag)
    }

    /// The version the app reports in `X-Version`.
    pub fn version(&self) -> String {
        self.version_env.clone().unwrap_or_else(|| self.tag.clone())
    }
}

enum Shape {
    /// An App manifest; image, `VERSION` and instances are filled in from [`Desired`].
    App(Value),
    /// A Deployment manifest; image, `VERSION` and replicas are filled in likewise.
    Plain(Value),
    /// An Argo Rollouts `Rollout` manifest, filled in like a Deployment's.
    Argo(Value),
}

pub struct Workload {
    pub name: String,
    shape: Shape,
    deployments: Api<Deployment>,
    replica_sets: Api<ReplicaSet>,
    pods: Api<Pod>,
    apps: Api<App>,
    rollouts: Api<Rollout>,
}

impl Workload {
    /// An App from `manifest` (`metadata.name` is the workload's name).
    pub fn app(ns: &TestNamespace, manifest: Value) -> Self {
        Self::new(ns, Shape::App(manifest))
    }

    /// A Deployment from `manifest`; its pods must carry `app.kubernetes.io/instance: NAME`.
    pub fn plain(ns: &TestNamespace, manifest: Value) -> Self {
        Self::new(ns, Shape::Plain(manifest))
    }

    /// An Argo Rollouts `Rollout` from `manifest`; its pods must carry
    /// `app.kubernetes.io/instance: NAME`.
    pub fn argo(ns: &TestNamespace, manifest: Value) -> Self {
        Self::new(ns, Shape::Argo(manifest))
    }

    fn new(ns: &TestNamespace, shape: Shape) -> Self {
        let manifest = match &shape {
            Shape::App(m) | Shape::Plain(m) | Shape::Argo(m) => m,
        };
        Workload {
            name: manifest["metadata"]["name"]
                .as_str()
                .expect("manifest has metadata.name")
                .to_owned(),
            shape,
            deployments: ns.api(),
            replica_sets: ns.api(),
            pods: ns.api(),
            apps: ns.api(),
            rollouts: ns.api(),
        }
    }

    pub fn is_app(&self) -> bool {
        matches!(self.shape, Shape::App(_))
    }

    fn is_argo(&self) -> bool {
        matches!(self.shape, Shape::Argo(_))
    }

    /// Server-side applies the manifest with `desired` filled in.
    pub async fn apply(&self, desired: &Desired) -> Result<(), kube::Error> {
        let params = PatchParams::apply(FIELD_MANAGER).force();
        match &self.shape {
            Shape::App(base) => {
                let manifest = render_app(base, desired);
                self.apps
                    .patch(&self.name, &params, &Patch::Apply(&manifest))
                    .await?;
            }
            Shape::Plain(base) => {
                let manifest = render_deployment(base, desired);
                self.deployments
                    .patch(&self.name, &params, &Patch::Apply(&manifest))
                    .await?;
            }
            Shape::Argo(base) => {
                let manifest = render_deployment(base, desired);
                self.rollouts
                    .patch(&self.name, &params, &Patch::Apply(&manifest))
                    .await?;
            }
        }
        Ok(())
    }

    /// What `kubectl rollout restart` does: stamps the Deployment's pod template with the
    /// time, as another field manager than the App's owner.
    pub async fn restart(&self, desired: &mut Desired) -> Result<(), kube::Error> {
        let stamp = Timestamp::now().to_string();
        let patch =
            json!({"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}});
        let params = PatchParams {
            field_manager: Some(RESTART_MANAGER.to_owned()),
            ..PatchParams::default()
        };
        if self.is_argo() {
            // A custom resource takes no strategic merge patch; a merge patch of the
            // annotation is the same change.
            self.rollouts
                .patch(&self.name, &params, &Patch::Merge(&patch))
                .await?;
        } else {
            self.deployments
                .patch(&self.name, &params, &Patch::Strategic(&patch))
                .await?;
        }
        desired.restarted_at = Some(stamp);
        Ok(())
    }

    /// Waits until every pod runs `desired` and is available (and, for an App, the App
    /// reports the rollout complete and itself Available).
    pub async fn wait_settled(&self, desired: &Desired, timeout: Duration) -> Result<(), Error> {
        let deadline = Instant::now() + timeout;
        let want = desired.clone();
        if self.is_argo() {
            wait_for(
                &self.rollouts,
                &self.name,
                move |r: Option<&Rollout>| {
                    r.is_some_and(|r| {
                        let status = r.status.clone().unwrap_or_default();
                        rollout_matches(r, &want)
                            && rollout_healthy(r)
                            && status.available_replicas.unwrap_or_default() >= want.replicas
                    })
                },
                timeout,
            )
            .await?;
            return Ok(());
        }
        wait_for(
            &self.deployments,
            &self.name,
            move |d: Option<&Deployment>| {
                d.is_some_and(|d| template_matches(d, &want))
                    && deployment_available().matches_object(d)
            },
            timeout,
        )
        .await?;
        if self.is_app() {
            let replicas = desired.replicas;
            wait_for(
                &self.apps,
                &self.name,
                move |app: Option<&App>| app.is_some_and(|a| app_settled(a, replicas)),
                deadline.saturating_duration_since(Instant::now()),
            )
            .await?;
        }
        Ok(())
    }

    /// Waits until the Deployment is replacing pods for `desired` (the new ReplicaSet has a
    /// pod). Returns false when the rollout had already finished by then.
    pub async fn wait_rolling(&self, desired: &Desired, timeout: Duration) -> Result<bool, Error> {
        let want = desired.clone();
        if self.is_argo() {
            let rollout = wait_for(
                &self.rollouts,
                &self.name,
                move |r: Option<&Rollout>| {
                    r.is_some_and(|r| {
                        let status = r.status.clone().unwrap_or_default();
                        let generation = r.metadata.generation.unwrap_or_default().to_string();
                        rollout_matches(r, &want)
                            && status.observed_generation.as_deref() == Some(generation.as_str())
                            && status.updated_replicas.unwrap_or_default() >= 1
                    })
                },
                timeout,
            )
            .await?;
            return Ok(!rollout_healthy(&rollout));
        }
        let deployment = wait_for(
            &self.deployments,
            &self.name,
            move |d: Option<&Deployment>| {
                d.is_some_and(|d| {
                    let status = d.status.clone().unwrap_or_default();
                    template_matches(d, &want)
                        && status.observed_generation >= d.metadata.generation
                        && status.updated_replicas.unwrap_or_default() >= 1
                })
            },
            timeout,
        )
        .await?;
        Ok(!deployment_available().matches_object(Some(&deployment)))
    }

    /// Names of the workload's pods now, terminating ones included.
    pub async fn pod_names(&self) -> Result<BTreeSet<String>, kube::Error> {
        Ok(self
            .pods
            .list(&self.pod_selector())
            .await?
            .iter()
            .map(|p| p.name_any())
            .collect())
    }

    /// Waits until no pod of an older template is left, terminating ones included.
    pub async fn wait_old_pods_gone(&self, timeout: Duration) -> Result<(), Error> {
        let deadline = Instant::now() + timeout;
        loop {
            let (hash, stale) = self.stale_pods().await?;
            if stale.is_empty() && hash.is_some() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout {
                    what: format!("old pods of {}", self.name),
                    after: timeout,
                    last_seen: format!("current pod-template-hash {hash:?}, old pods {stale:?}"),
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The current ReplicaSet's pod-template-hash and the pods not of it.
    async fn stale_pods(&self) -> Result<(Option<String>, Vec<String>), Error> {
        if self.is_argo() {
            let rollout = self.rollouts.get(&self.name).await?;
            let hash = rollout.status.and_then(|s| s.current_pod_hash);
            let stale = self
                .pods
                .list(&self.pod_selector())
                .await?
                .into_iter()
                .filter(|p| {
                    hash.is_none() || p.labels().get(argo::POD_TEMPLATE_HASH) != hash.as_ref()
                })
                .map(|p| p.name_any())
                .collect();
            return Ok((hash, stale));
        }
        let deployment = self.deployments.get(&self.name).await?;
        let revision = deployment
            .annotations()
            .get("deployment.kubernetes.io/revision")
            .cloned();
        let selector = self.pod_selector();
        let hash = self
            .replica_sets
            .list(&selector)
            .await?
            .into_iter()
            .find(|rs| {
                revision.is_some()
                    && rs.annotations().get("deployment.kubernetes.io/revision")
                        == revision.as_ref()
            })
            .and_then(|rs| rs.labels().get("pod-template-hash").cloned());
        let stale = self
            .pods
            .list(&selector)
            .await?
            .into_iter()
            .filter(|p| hash.is_none() || p.labels().get("pod-template-hash") != hash.as_ref())
            .map(|p| p.name_any())
            .collect();
        Ok((hash, stale))
    }

    fn pod_selector(&self) -> ListParams {
        ListParams::default().labels(&format!("app.kubernetes.io/instance={}", self.name))
    }
}

fn render_app(base: &Value, desired: &Desired) -> Value {
    let mut manifest = base.clone();
    let spec = &mut manifest["spec"];
    spec["image"] = json!(desired.image());
    spec["instances"] = match desired.pm2_instances {
        Some(instances) => json!(instances),
        None => json!(desired.replicas),
    };
    if !spec["env"].is_object() {
        spec["env"] = json!({});
    }
    if let Some(env) = spec["env"].as_object_mut() {
        match &desired.version_env {
            Some(version) => env.insert(VERSION_ENV.to_owned(), json!(version)),
            None => env.remove(VERSION_ENV),
        };
    }
    // Server-side apply of an emptied map (`env: {}`) leaves `env: null` behind, which the
    // CRD's schema refuses: an App with no variables left says nothing about `env`.
    if let Some(spec) = spec.as_object_mut() {
        if spec["env"].as_object().is_some_and(|env| env.is_empty()) {
            spec.remove("env");
        }
    }
    manifest
}

fn render_deployment(base: &Value, desired: &Desired) -> Value {
    let mut manifest = base.clone();
    manifest["spec"]["replicas"] = json!(desired.replicas);
    let container = &mut manifest["spec"]["template"]["spec"]["containers"][0];
    container["image"] = json!(desired.image());
    if !container["env"].is_array() {
        container["env"] = json!([]);
    }
    if let Some(env) = container["env"].as_array_mut() {
        env.retain(|e| e["name"] != VERSION_ENV);
        if let Some(version) = &desired.version_env {
            env.push(json!({"name": VERSION_ENV, "value": version}));
        }
    }
    manifest
}

/// The Deployment asks for what `desired` says: image, `VERSION`, replicas, restart stamp.
fn template_matches(d: &Deployment, desired: &Desired) -> bool {
    d.spec
        .as_ref()
        .is_some_and(|s| pod_template_matches(s.replicas, &s.template, desired))
}

/// The same for a Rollout.
fn rollout_matches(r: &Rollout, desired: &Desired) -> bool {
    pod_template_matches(Some(r.spec.replicas), &r.spec.template, desired)
}

fn pod_template_matches(
    replicas: Option<i32>,
    template: &PodTemplateSpec,
    desired: &Desired,
) -> bool {
    let Some(container) = template.spec.as_ref().and_then(|s| s.containers.first()) else {
        return false;
    };
    let version_env = container
        .env
        .iter()
        .flatten()
        .find(|e| e.name == VERSION_ENV)
        .and_then(|e| e.value.clone());
    let restarted_at = template
        .metadata
        .as_ref()
        .and_then(|m| m.annotations.as_ref())
        .and_then(|a| a.get(RESTARTED_AT))
        .cloned();
    replicas == Some(desired.replicas)
        && container.image.as_deref() == Some(desired.image().as_str())
        && version_env == desired.version_env
        && restarted_at == desired.restarted_at
}

/// The App has seen its spec, finished its rollout and is Available with `replicas` pods.
fn app_settled(app: &App, replicas: i32) -> bool {
    let Some(status) = app.status.as_ref() else {
        return false;
    };
    let condition = |type_: &str| status.conditions.iter().find(|c| c.type_ == type_);
    let available = condition(CONDITION_AVAILABLE).is_some_and(|c| c.status == "True");
    let complete = condition(CONDITION_PROGRESSING)
        .is_some_and(|c| c.status == "False" && c.reason == ROLLOUT_COMPLETE);
    status.observed_generation == app.metadata.generation
        && available
        && complete
        && status.instances == Some(replicas)
        && status.updated_replicas == Some(replicas)
        && status.available_replicas.unwrap_or_default() >= replicas
}
