//! The pod template: one container named `app`, plus the runtime shim's
//! init container and volume when the App uses it.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, ContainerPort, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::crd::App;

use super::command::Command;
use super::cron::{RELOADED_AT_ANNOTATION, RESTARTED_AT_ANNOTATION};
use super::env::{container_env, implied_by_interpreter};
use super::error::SpecError;
use super::instance::INDEX_ANNOTATION;
use super::labels::Identity;
use super::lifecycle::{pre_stop, termination_grace_period_seconds};
use super::names::is_qualified_name;
use super::probes::probes;
use super::resources::container_resources;
use super::revision::REVISION_ANNOTATION;
use super::shim::Shim;
use super::timings::Timings;

pub const APP_CONTAINER: &str = "app";
pub const HTTP_PORT_NAME: &str = "http";
const PULL_POLICIES: [&str; 3] = ["Always", "IfNotPresent", "Never"];

/// The pod template without the revision annotation (the revision is the
/// hash of exactly this).
pub fn pod_template(
    app: &App,
    id: &Identity,
    timings: &Timings,
    shim: Option<&Shim>,
    restarted_at: Option<&str>,
) -> Result<PodTemplateSpec, SpecError> {
    let spec = &app.spec;
    let mut volumes = spec.volumes.clone();
    let mut init_containers = Vec::new();
    if let Some(shim) = shim {
        volumes.push(shim.volume());
        volumes.push(shim.instance_volume());
        init_containers.push(shim.init_container());
    }
    Ok(PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(id.labels.clone()),
            annotations: non_empty_map(pod_annotations(app, restarted_at)?),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            containers: vec![app_container(app, timings, shim)?],
            init_containers: non_empty(init_containers),
            volumes: non_empty(volumes),
            termination_grace_period_seconds: Some(termination_grace_period_seconds(timings, shim)),
            service_account_name: spec.service_account_name.clone(),
            image_pull_secrets: non_empty(spec.image_pull_secrets.clone()),
            node_selector: non_empty_map(spec.node_selector.clone()),
            affinity: spec.affinity.clone(),
            tolerations: non_empty(spec.tolerations.clone()),
            topology_spread_constraints: non_empty(spec.topology_spread_constraints.clone()),
            security_context: spec.pod_security_context.clone(),
            priority_class_name: spec.priority_class_name.clone(),
            ..Default::default()
        }),
    })
}

fn app_container(
    app: &App,
    timings: &Timings,
    shim: Option<&Shim>,
) -> Result<Container, SpecError> {
    let spec = &app.spec;
    if spec.image.trim().is_empty() {
        return Err(SpecError::new("spec.image", "must name a container image"));
    }
    if let Some(policy) = spec.image_pull_policy.as_deref() {
        if !PULL_POLICIES.contains(&policy) {
            return Err(SpecError::new(
                "spec.imagePullPolicy",
                format!("{policy:?} is not one of Always, IfNotPresent, Never"),
            ));
        }
    }
    let probes = probes(spec, shim, timings)?;
    // With the shim, the script is resolved in the pod (and the shim sets
    // what PM2 sets for an interpreter); without it, here.
    let (command, args, working_dir, implied) = match shim {
        Some(shim) => (
            shim.command(),
            shim.args(spec, timings, probes.readiness.as_ref())?,
            spec.cwd.clone().filter(|c| !c.is_empty()),
            Vec::new(),
        ),
        None => {
            let run = Command::of(spec)?;
            let implied = implied_by_interpreter(run.interpreter.as_deref());
            (run.command, run.args, run.working_dir, implied)
        }
    };
    let env = container_env(spec, &implied)?;

    let mut ports = Vec::new();
    if let Some(port) = spec.port {
        ports.push(ContainerPort {
            name: Some(HTTP_PORT_NAME.into()),
            container_port: port,
            protocol: Some("TCP".into()),
            ..Default::default()
        });
    }
    let mut volume_mounts = spec.volume_mounts.clone();
    if let Some(shim) = shim {
        ports.push(shim.container_port());
        volume_mounts.push(shim.mount());
        volume_mounts.push(shim.instance_mount());
    }
    Ok(Container {
        name: APP_CONTAINER.into(),
        image: Some(spec.image.clone()),
        image_pull_policy: spec.image_pull_policy.clone(),
        command: non_empty(command),
        args: non_empty(args),
        working_dir,
        env: non_empty(env),
        env_from: non_empty(spec.env_from.clone()),
        ports: non_empty(ports),
        resources: container_resources(spec, shim.is_some())?,
        security_context: spec.security_context.clone(),
        volume_mounts: non_empty(volume_mounts),
        readiness_probe: probes.readiness,
        startup_probe: probes.startup,
        liveness_probe: probes.liveness,
        lifecycle: pre_stop(timings, shim),
        ..Default::default()
    })
}

/// The App's pod annotations, plus the time of the last cron restart: a new
/// value changes the template, which rolls the pods like any other update.
fn pod_annotations(
    app: &App,
    restarted_at: Option<&str>,
) -> Result<BTreeMap<String, String>, SpecError> {
    let mut annotations = BTreeMap::new();
    for (key, value) in &app.spec.annotations {
        let field = || format!("spec.annotations.{key}");
        if [
            REVISION_ANNOTATION,
            RESTARTED_AT_ANNOTATION,
            RELOADED_AT_ANNOTATION,
            INDEX_ANNOTATION,
        ]
        .contains(&key.as_str())
        {
            return Err(SpecError::new(field(), "is set by readyroll"));
        }
        if !is_qualified_name(key) {
            return Err(SpecError::new(
                field(),
                "is not a valid annotation key (optional DNS prefix and '/', then at most 63 letters, digits, '-', '_', '.')",
            ));
        }
        annotations.insert(key.clone(), value.clone());
    }
    if let Some(at) = restarted_at {
        annotations.insert(RESTARTED_AT_ANNOTATION.into(), at.to_string());
    }
    // `readyroll reload`: a new value is a new template, rolled like any
    // other update.
    if let Some(at) = &app.spec.restarted_at {
        annotations.insert(RELOADED_AT_ANNOTATION.into(), at.clone());
    }
    Ok(annotations)
}

fn non_empty<T>(items: Vec<T>) -> Option<Vec<T>> {
    (!items.is_empty()).then_some(items)
}

fn non_empty_map(map: BTreeMap<String, String>) -> Option<BTreeMap<String, String>> {
    (!map.is_empty()).then_some(map)
}

#[cfg(test)]
mod tests;
