//! The App the chaos cases roll: two test servers with a short start and the default
//! drain, whose releases differ in the `VERSION` they report; a release can also be one
//! that never becomes ready (the operator rolls it back to the last good one).
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use kube::{
    api::{Patch, PatchParams},
    runtime::wait::Condition,
    Api,
};
use readyroll::crd::{App, CONDITION_AVAILABLE, CONDITION_DEGRADED, CONDITION_PROGRESSING};
use readyroll_e2e::{conditions::deployment_available, wait_for, Must, TestNamespace};
use serde_json::{json, Value};

use crate::node_support::{workload::FIELD_MANAGER, TESTAPP, TESTAPP_PORT};

pub const INSTANCES: i32 = 2;
/// The test server listens this long after it starts: a short rollout.
const READY_DELAY_MS: &str = "300";
/// Long enough never to be reached within a case.
const NEVER_READY_MS: &str = "3600000";

#[derive(Clone, Debug)]
pub struct Release {
    pub version: String,
    pub healthy: bool,
}

impl Release {
    pub fn good(version: &str) -> Release {
        Release {
            version: version.to_owned(),
            healthy: true,
        }
    }

    /// A release whose app never listens: its rollout exceeds the progress deadline.
    pub fn never_ready(version: &str) -> Release {
        Release {
            version: version.to_owned(),
            healthy: false,
        }
    }
}

pub struct ChaosApp {
    pub name: String,
    node_port: i32,
    progress_deadline_s: u32,
    pub apps: Api<App>,
    pub deployments: Api<Deployment>,
}

impl ChaosApp {
    pub fn new(ns: &TestNamespace, name: &str, node_port: i32, progress_deadline_s: u32) -> Self {
        ChaosApp {
            name: name.to_owned(),
            node_port,
            progress_deadline_s,
            apps: ns.api(),
            deployments: ns.api(),
        }
    }

    fn manifest(&self, release: &Release) -> Value {
        let ready_delay = if release.healthy {
            READY_DELAY_MS
        } else {
            NEVER_READY_MS
        };
        json!({
            "apiVersion": "readyroll.dev/v1alpha1",
            "kind": "App",
            "metadata": {"name": self.name},
            "spec": {
                "image": format!("{TESTAPP}:v1"),
                "imagePullPolicy": "Never",
                // A PM2 script, so the runtime shim runs it as it runs every converted
                // ecosystem file: SIGINT on stop, and a drain that lasts while connections
                // still arrive (after an API outage kube-proxy is late to stop routing).
                "script": "/testapp",
                "interpreter": "none",
                "instances": INSTANCES,
                "port": TESTAPP_PORT,
                "readiness": {"httpGet": {"path": "/healthz"}},
                "listenTimeout": 10000,
                "killTimeout": 5000,
                "maxRestarts": 1000,
                "rollout": {"progressDeadlineSeconds": self.progress_deadline_s},
                "env": {
                    "VERSION": release.version,
                    "READY_DELAY_MS": ready_delay,
                    "LATENCY_MS": "5",
                    "DRAIN_MS": "5000",
                },
                "service": {"type": "NodePort", "nodePort": self.node_port},
            }
        })
    }

    pub async fn apply(&self, release: &Release) {
        self.apps
            .patch(
                &self.name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&self.manifest(release)),
            )
            .await
            .must(&format!("apply App {} {}", self.name, release.version));
    }

    /// Waits until every pod runs `release` and the App reports the rollout complete, both
    /// within `timeout`.
    pub async fn wait_settled(&self, release: &Release, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let version = release.version.clone();
        wait_for(
            &self.deployments,
            &self.name,
            move |d: Option<&Deployment>| d.is_some_and(|d| all_on(d, &version)),
            timeout,
        )
        .await
        .must(&format!("{} settled on {}", self.name, release.version));
        wait_for(
            &self.apps,
            &self.name,
            |a: Option<&App>| {
                a.is_some_and(|a| {
                    condition_is(a, CONDITION_PROGRESSING, "False", "RolloutComplete")
                        && condition_is(a, CONDITION_AVAILABLE, "True", "")
                })
            },
            deadline.saturating_duration_since(Instant::now()),
        )
        .await
        .must(&format!(
            "{} reports {} rolled out",
            self.name, release.version
        ));
    }

    /// Waits until the failed release is rolled back: every pod runs `last_good` again and
    /// the App says so.
    pub async fn wait_rolled_back(&self, last_good: &Release, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let version = last_good.version.clone();
        wait_for(
            &self.deployments,
            &self.name,
            move |d: Option<&Deployment>| d.is_some_and(|d| all_on(d, &version)),
            timeout,
        )
        .await
        .must(&format!("{} back on {}", self.name, last_good.version));
        wait_for(
            &self.apps,
            &self.name,
            |a: Option<&App>| {
                a.is_some_and(|a| {
                    let s = a.status.clone().unwrap_or_default();
                    condition_is(a, CONDITION_PROGRESSING, "", "RolledBack")
                        && condition_is(a, CONDITION_AVAILABLE, "True", "")
                        && s.failed_revision.is_some()
                        && s.current_revision.is_some()
                        && s.current_revision == s.last_good_revision
                })
            },
            deadline.saturating_duration_since(Instant::now()),
        )
        .await
        .must(&format!("{} reports the rollback", self.name));
    }

    /// Waits until the App settles on `desired` or, when the rollout was judged failed
    /// meanwhile, is back on `last_good` (a fault may stall a rollout past its progress
    /// deadline: the "desired or last good revision"); returns the one it settled on.
    pub async fn wait_settled_or_rolled_back<'r>(
        &self,
        desired: &'r Release,
        last_good: &'r Release,
        timeout: Duration,
    ) -> &'r Release {
        let deadline = Instant::now() + timeout;
        let (want, fallback) = (desired.version.clone(), last_good.version.clone());
        let settled = wait_for(
            &self.deployments,
            &self.name,
            move |d: Option<&Deployment>| {
                d.is_some_and(|d| all_on(d, &want) || all_on(d, &fallback))
            },
            timeout,
        )
        .await
        .must(&format!(
            "{} settled on {} or back on {}",
            self.name, desired.version, last_good.version
        ));
        let left = deadline.saturating_duration_since(Instant::now());
        if all_on(&settled, &desired.version) {
            self.wait_settled(desired, left).await;
            desired
        } else {
            self.wait_rolled_back(last_good, left).await;
            last_good
        }
    }

    /// Waits until the operator has judged the running release failed (the rollback is
    /// under way from then on).
    pub async fn wait_rollback_decided(&self, timeout: Duration) {
        wait_for(
            &self.apps,
            &self.name,
            |a: Option<&App>| {
                a.is_some_and(|a| {
                    condition_is(a, CONDITION_DEGRADED, "True", "")
                        && a.status
                            .as_ref()
                            .is_some_and(|s| s.failed_revision.is_some())
                })
            },
            timeout,
        )
        .await
        .must(&format!("{}: the failed release is detected", self.name));
    }

    /// Waits until the Deployment is replacing pods for `release`.
    pub async fn wait_rolling(&self, release: &Release, timeout: Duration) {
        let version = release.version.clone();
        wait_for(
            &self.deployments,
            &self.name,
            move |d: Option<&Deployment>| {
                d.is_some_and(|d| {
                    let status = d.status.clone().unwrap_or_default();
                    template_version(d).as_deref() == Some(version.as_str())
                        && status.observed_generation >= d.metadata.generation
                        && status.updated_replicas.unwrap_or_default() >= 1
                })
            },
            timeout,
        )
        .await
        .must(&format!("{} rolling to {}", self.name, release.version));
    }
}

/// `VERSION` of the Deployment's pod template.
pub fn template_version(d: &Deployment) -> Option<String> {
    d.spec
        .as_ref()?
        .template
        .spec
        .as_ref()?
        .containers
        .first()?
        .env
        .as_ref()?
        .iter()
        .find(|e| e.name == "VERSION")?
        .value
        .clone()
}

/// Every pod of the Deployment runs `version` and is available; no pod of another
/// template is left.
fn all_on(d: &Deployment, version: &str) -> bool {
    let status = d.status.clone().unwrap_or_default();
    template_version(d).as_deref() == Some(version)
        && deployment_available().matches_object(Some(d))
        && status.updated_replicas == Some(INSTANCES)
        && status.replicas == Some(INSTANCES)
}

/// The App has seen its spec and its condition `type_` has `status` and `reason` (an empty
/// one matches any).
fn condition_is(app: &App, type_: &str, status: &str, reason: &str) -> bool {
    let Some(s) = app.status.as_ref() else {
        return false;
    };
    s.observed_generation == app.metadata.generation
        && s.conditions.iter().any(|c| {
            c.type_ == type_
                && (status.is_empty() || c.status == status)
                && (reason.is_empty() || c.reason == reason)
        })
}
