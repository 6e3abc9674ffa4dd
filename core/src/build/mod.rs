//! The pure heart of readyroll: an `App` (plus the cluster's nodes) in, the
//! desired Deployment, Service and PodDisruptionBudget out. No client, no
//! async, no I/O, so every rule is tested with plain objects.
//!
//! How each PM2 option maps, by file: `command` (script, interpreter, args,
//! cwd), `instances` + `scheduling` (instances 0 / "max" / -N), `probes`
//! (wait_ready, listen_timeout), `lifecycle` (kill_timeout and the drain),
//! `deployment` (min_uptime, rollout settings), `resources`
//! (max_memory_restart), `cron` (cron_restart), `env` (env, `env_<profile>`),
//! `shim` (the runtime shim), `defaults` (PM2's defaults, max_restarts).

mod apply_text;
mod command;
mod cron;
mod defaults;
mod deployment;
mod env;
mod error;
mod instance;
mod instances;
mod labels;
mod lifecycle;
mod names;
mod pdb;
mod pod;
mod probes;
mod quantity;
mod resources;
mod revision;
mod scheduling;
mod service;
mod shim;
mod timings;

#[cfg(test)]
mod testing;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;

use crate::crd::App;

pub use cron::{next_cron_restart, RELOADED_AT_ANNOTATION, RESTARTED_AT_ANNOTATION};
pub use defaults::{
    DRAIN_DELAY_MS, KILL_TIMEOUT_MS, LISTEN_TIMEOUT_MS, MAX_RESTARTS, MAX_SURGE, MIN_UPTIME_MS,
    REVISION_HISTORY_LIMIT, SHIM_PROBE_PORT, STOP_SIGNAL,
};
pub use deployment::PROGRESS_DEADLINE_SLACK_SECONDS;
pub use error::SpecError;
pub use instance::{reads_index, INDEX_ANNOTATION, VOLUME_NAME as INSTANCE_VOLUME};
pub use instances::resolve_instances;
pub use labels::{INSTANCE_LABEL, MANAGED_BY, MANAGED_BY_LABEL, NAME_LABEL, VERSION_LABEL};
pub use names::{is_dns1123_label, is_env_var_name};
pub use pod::APP_CONTAINER;
pub use revision::REVISION_ANNOTATION;
pub use shim::{
    enabled as shim_enabled, BINARY_IN_IMAGE as SHIM_BINARY_IN_IMAGE,
    BINARY_IN_POD as SHIM_BINARY_IN_POD, INIT_CONTAINER_NAME as SHIM_INIT_CONTAINER,
    PROBE_PORT_NAME as SHIM_PROBE_PORT_NAME, READY_PATH as SHIM_READY_PATH,
    VOLUME_NAME as SHIM_VOLUME,
};

/// Operator-wide settings the App does not carry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BuildOptions {
    /// Image providing `/readyroll-shim`, used unless the App names one.
    pub shim_image: String,
}

/// Everything readyroll wants to exist for one App.
#[derive(Clone, Debug, PartialEq)]
pub struct Desired {
    pub deployment: Deployment,
    /// `None`: no port, or `service.enabled: false` (delete any old one).
    pub service: Option<Service>,
    /// `None`: a single instance (delete any old one).
    pub pdb: Option<PodDisruptionBudget>,
    /// The resolved instance count (the Deployment's replicas).
    pub instances: i32,
    /// Hash of the pod template, also in its [`REVISION_ANNOTATION`].
    pub revision: String,
    /// The label selector of the App's pods, as the scale subresource
    /// reports it (`status.selector`, e.g. for an HPA).
    pub selector: String,
}

/// The desired objects for an App, given the cluster's nodes (used only for
/// `instances` 0 / "max" / -N), with the cron restart its status records.
pub fn build(app: &App, nodes: &[Node], opts: &BuildOptions) -> Result<Desired, SpecError> {
    let restarted_at = app
        .status
        .as_ref()
        .and_then(|s| s.last_cron_restart.as_deref());
    build_restarted_at(app, nodes, opts, restarted_at)
}

/// [`build`], with the time of the last cron restart given: the pod
/// template carries it, so a new one rolls the pods.
pub fn build_restarted_at(
    app: &App,
    nodes: &[Node],
    opts: &BuildOptions,
    restarted_at: Option<&str>,
) -> Result<Desired, SpecError> {
    let spec = &app.spec;
    apply_text::check(spec)?;
    let id = labels::Identity::of(app)?;
    let timings = timings::Timings::of(spec)?;
    cron::schedule(spec)?;
    cron::time_zone(spec)?;
    let shim = shim::plan(spec, &opts.shim_image)?;

    let mut template = pod::pod_template(app, &id, &timings, shim.as_ref(), restarted_at)?;
    let revision = revision::revision_of(&template)?;
    revision::stamp(&mut template, &revision);

    let instances = resolve_instances(app, nodes);
    let selector = id
        .selector
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join(",");
    Ok(Desired {
        deployment: deployment::deployment(spec, &id, &timings, instances, template)?,
        service: service::service(spec, &id)?,
        pdb: pdb::pdb(&id, instances),
        instances,
        revision,
        selector,
    })
}

/// PM2 `listen_timeout` in milliseconds, defaults applied (0 means 3000).
pub fn listen_timeout_ms(spec: &crate::crd::AppSpec) -> Result<i64, SpecError> {
    Ok(timings::Timings::of(spec)?.listen_timeout_ms)
}

/// Restarts past which the App is Degraded (PM2 `max_restarts`, default 16).
pub fn max_restarts(app: &App) -> i32 {
    defaults::max_restarts(&app.spec)
}
