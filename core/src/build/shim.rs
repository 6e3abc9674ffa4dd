//! The runtime shim in the pod: an init container copies the binary into a
//! shared `emptyDir`, and the app container starts through it, so PM2's
//! `process.send('ready')`, stop signal and `'shutdown'` message work.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};

use k8s_openapi::api::core::v1::Probe;
use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EmptyDirVolumeSource, ResourceRequirements,
    SeccompProfile, SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use readyroll_shim_contract::ShimArgs;

use crate::crd::{AppSpec, MAX_DURATION_MS};

use super::defaults;
use super::error::SpecError;
use super::instance;
use super::timings::Timings;

pub const VOLUME_NAME: &str = "readyroll-shim";
pub const MOUNT_DIR: &str = "/readyroll/bin";
/// Where the app container finds the shim.
pub const BINARY_IN_POD: &str = "/readyroll/bin/readyroll-shim";
/// Where the install step sees the shared volume. Not [`MOUNT_DIR`]: the shim
/// image is normally the operator's, whose `/readyroll` is the operator
/// binary, so nothing can be mounted below it there.
pub const INSTALL_DIR: &str = "/readyroll-shim-install";
/// The path the install step copies the shim to.
pub const INSTALLED_BINARY: &str = "/readyroll-shim-install/readyroll-shim";
/// Where the shim image keeps it.
pub const BINARY_IN_IMAGE: &str = "/readyroll-shim";
pub const INIT_CONTAINER_NAME: &str = "readyroll-shim-install";
pub const PROBE_PORT_NAME: &str = "readyroll-probe";
/// The shim answers 200 here once the app is ready, 503 before.
pub const READY_PATH: &str = "/ready";
/// Signals the shim can deliver (the CRD allows the same list).
const STOP_SIGNALS: [&str; 6] = [
    "SIGINT", "SIGTERM", "SIGQUIT", "SIGHUP", "SIGUSR1", "SIGUSR2",
];
/// The install step runs as this non-root user (the distroless "nonroot"
/// uid) so the pod passes the "restricted" Pod Security Standard whatever
/// user the shim image declares; the copied binary is world-executable.
const INSTALL_UID: i64 = 65_532;

/// The shim as this App uses it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shim {
    pub image: String,
    pub probe_port: i32,
}

/// On when asked for; by default on for every App with a `script` (PM2's
/// stop contract needs it), and when `waitReady` has no explicit readiness
/// check to rely on (which then needs a `script`).
pub fn enabled(spec: &AppSpec) -> bool {
    match spec.runtime_shim.as_ref().and_then(|s| s.enabled) {
        Some(enabled) => enabled,
        None => {
            spec.script.is_some() || (spec.wait_ready == Some(true) && spec.readiness.is_none())
        }
    }
}

/// The shim for this App, or `None` when it runs without one. Checks the
/// settings that only the shim can honour.
pub fn plan(spec: &AppSpec, default_image: &str) -> Result<Option<Shim>, SpecError> {
    stop_signal(spec)?;
    if !enabled(spec) {
        if spec.shutdown_with_message == Some(true) {
            return Err(SpecError::new(
                "spec.shutdownWithMessage",
                "needs the runtime shim to send the 'shutdown' message; enable spec.runtimeShim",
            ));
        }
        if spec.wait_ready == Some(true) && spec.readiness.is_none() {
            return Err(SpecError::new(
                "spec.waitReady",
                "needs the runtime shim (spec.runtimeShim.enabled) or an explicit spec.readiness check",
            ));
        }
        if spec.ready_on_listen_timeout == Some(true) {
            return Err(SpecError::new(
                "spec.readyOnListenTimeout",
                "needs the runtime shim's readiness; enable spec.runtimeShim",
            ));
        }
        instance::check_without_shim(spec)?;
        return Ok(None);
    }
    if spec.ready_on_listen_timeout == Some(true) && spec.readiness.is_some() {
        return Err(SpecError::new(
            "spec.readyOnListenTimeout",
            "has no effect with an explicit spec.readiness check, which the kubelet runs instead of the shim's",
        ));
    }
    let settings = spec.runtime_shim.clone().unwrap_or_default();
    let image = settings
        .image
        .filter(|i| !i.trim().is_empty())
        .or_else(|| Some(default_image.to_string()).filter(|i| !i.trim().is_empty()))
        .ok_or_else(|| {
            SpecError::new(
                "spec.runtimeShim.image",
                "no shim image: set it, or configure the operator's shim image",
            )
        })?;
    let probe_port = settings.probe_port.unwrap_or(defaults::SHIM_PROBE_PORT);
    if !(1..=65_535).contains(&probe_port) {
        return Err(SpecError::new(
            "spec.runtimeShim.probePort",
            format!("{probe_port} is not a port (1..=65535)"),
        ));
    }
    // Also CEL rules of the CRD (`crd::rules`), checked here for Apps
    // admitted before the CRD held them.
    if spec.port == Some(probe_port) {
        return Err(SpecError::new(
            "spec.runtimeShim.probePort",
            format!("{probe_port} is also spec.port; the shim's readiness endpoint needs a port of its own"),
        ));
    }
    check_no_clash(spec)?;
    instance::check_no_clash(spec)?;
    Ok(Some(Shim { image, probe_port }))
}

fn stop_signal(spec: &AppSpec) -> Result<&str, SpecError> {
    let signal = spec.stop_signal.as_deref().unwrap_or(defaults::STOP_SIGNAL);
    if STOP_SIGNALS.contains(&signal) {
        Ok(signal)
    } else {
        Err(SpecError::new(
            "spec.stopSignal",
            format!("{signal:?} is not one of {}", STOP_SIGNALS.join(", ")),
        ))
    }
}

fn check_no_clash(spec: &AppSpec) -> Result<(), SpecError> {
    if let Some(i) = spec.volumes.iter().position(|v| v.name == VOLUME_NAME) {
        return Err(SpecError::new(
            format!("spec.volumes[{i}].name"),
            format!("{VOLUME_NAME:?} is used by the runtime shim; pick another name"),
        ));
    }
    if let Some(i) = spec
        .volume_mounts
        .iter()
        .position(|m| m.mount_path.trim_end_matches('/') == MOUNT_DIR)
    {
        return Err(SpecError::new(
            format!("spec.volumeMounts[{i}].mountPath"),
            format!("{MOUNT_DIR} is where the runtime shim is mounted; pick another path"),
        ));
    }
    Ok(())
}

impl Shim {
    /// The app container's `command`: the shim binary in the pod.
    pub fn command(&self) -> Vec<String> {
        vec![BINARY_IN_POD.to_string()]
    }

    /// The app container's `args`: the shim's flags through the shared
    /// contract, `--`, then PM2's `args`. `script`, `interpreter`,
    /// `interpreterArgs` and `cwd` go over as the App says them: only the
    /// shim, inside the pod, sees the image's files and `PATH` to resolve
    /// them as PM2 does.
    pub fn args(
        &self,
        spec: &AppSpec,
        timings: &Timings,
        readiness: Option<&Probe>,
    ) -> Result<Vec<String>, SpecError> {
        Ok(self.settings(spec, timings, readiness)?.to_args())
    }

    /// The shim's settings for this App.
    pub fn settings(
        &self,
        spec: &AppSpec,
        timings: &Timings,
        readiness: Option<&Probe>,
    ) -> Result<ShimArgs, SpecError> {
        // Also CEL rules of the CRD, checked here for Apps admitted before it.
        let Some(script) = spec.script.clone() else {
            return Err(SpecError::new(
                "spec.script",
                "is required with the runtime shim: the shim starts the app itself and cannot wrap the image's entry point",
            ));
        };
        if script.is_empty() {
            return Err(SpecError::new(
                "spec.script",
                "must not be empty; omit it to run the image's entry point",
            ));
        }
        if spec.interpreter.as_deref() == Some("") {
            return Err(SpecError::new(
                "spec.interpreter",
                "must not be empty; omit it to choose as PM2 does, or use \"none\"",
            ));
        }
        let port = |value: i32, field: &str| {
            u16::try_from(value)
                .ok()
                .filter(|&p| p > 0)
                .ok_or_else(|| SpecError::new(field, format!("{value} is not a port (1..=65535)")))
        };
        let millis = |ms: i64| u64::try_from(ms).unwrap_or(0);
        let memory_interval_ms = spec
            .memory_check_interval_ms
            .unwrap_or(defaults::MEMORY_CHECK_INTERVAL_MS);
        if !(100..=MAX_DURATION_MS).contains(&memory_interval_ms) {
            return Err(SpecError::new(
                "spec.memoryCheckIntervalMs",
                format!("{memory_interval_ms} ms is outside 100..={MAX_DURATION_MS} ms"),
            ));
        }
        let (instance_var, increment_var) = instance::variables(spec)?;
        Ok(ShimArgs {
            port: spec.port.map(|p| port(p, "spec.port")).transpose()?,
            wait_ready: spec.wait_ready == Some(true),
            listen_timeout_ms: millis(timings.listen_timeout_ms),
            ready_on_listen_timeout: spec.ready_on_listen_timeout == Some(true),
            kill_timeout_ms: millis(timings.kill_timeout_ms),
            stop_signal: stop_signal(spec)?.to_string(),
            shutdown_with_message: spec.shutdown_with_message == Some(true),
            treekill: spec.treekill != Some(false),
            probe_addr: SocketAddr::from((
                Ipv4Addr::UNSPECIFIED,
                port(self.probe_port, "spec.runtimeShim.probePort")?,
            )),
            script: Some(script),
            interpreter: spec.interpreter.clone(),
            interpreter_args: spec.interpreter_args.clone(),
            cwd: spec.cwd.clone().filter(|c| !c.is_empty()),
            max_memory_bytes: spec.max_memory_restart.as_ref().map(|m| m.bytes()),
            memory_interval_ms: millis(memory_interval_ms),
            drain_ms: millis(memory_restart_drain_ms(timings, readiness)),
            instance_file: Some(instance::INDEX_FILE.to_string()),
            instance_var,
            increment_var,
            args: spec.args.clone(),
            ..ShimArgs::default()
        })
    }

    pub fn init_container(&self) -> Container {
        Container {
            name: INIT_CONTAINER_NAME.into(),
            image: Some(self.image.clone()),
            command: Some(vec![
                BINARY_IN_IMAGE.into(),
                "install".into(),
                INSTALLED_BINARY.into(),
            ]),
            volume_mounts: Some(vec![VolumeMount {
                name: VOLUME_NAME.into(),
                mount_path: INSTALL_DIR.into(),
                ..Default::default()
            }]),
            resources: Some(install_resources()),
            security_context: Some(SecurityContext {
                allow_privilege_escalation: Some(false),
                capabilities: Some(Capabilities {
                    drop: Some(vec!["ALL".into()]),
                    add: None,
                }),
                read_only_root_filesystem: Some(true),
                run_as_non_root: Some(true),
                run_as_user: Some(INSTALL_UID),
                run_as_group: Some(INSTALL_UID),
                seccomp_profile: Some(SeccompProfile {
                    type_: "RuntimeDefault".into(),
                    localhost_profile: None,
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    pub fn volume(&self) -> Volume {
        Volume {
            name: VOLUME_NAME.into(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Default::default()
        }
    }

    /// The instance index's volume (see `instance`).
    pub fn instance_volume(&self) -> Volume {
        instance::volume()
    }

    pub fn instance_mount(&self) -> VolumeMount {
        instance::mount()
    }

    /// The app container sees the shim read-only.
    pub fn mount(&self) -> VolumeMount {
        VolumeMount {
            name: VOLUME_NAME.into(),
            mount_path: MOUNT_DIR.into(),
            read_only: Some(true),
            ..Default::default()
        }
    }

    pub fn container_port(&self) -> ContainerPort {
        ContainerPort {
            name: Some(PROBE_PORT_NAME.into()),
            container_port: self.probe_port,
            protocol: Some("TCP".into()),
            ..Default::default()
        }
    }
}

/// A memory restart's drain: the App's pre-stop drain plus the time the
/// kubelet's readiness probe takes to see `/ready` turn 503 (period ×
/// failure threshold), so the endpoints drop the pod before it stops.
fn memory_restart_drain_ms(timings: &Timings, readiness: Option<&Probe>) -> i64 {
    let seen_after_seconds = readiness.map_or(0, |p| {
        i64::from(p.period_seconds.unwrap_or(10)) * i64::from(p.failure_threshold.unwrap_or(3))
    });
    timings
        .drain_delay_ms
        .saturating_add(seen_after_seconds.saturating_mul(1000))
}

/// Copying one small file: tiny requests, and limits so namespaces that
/// require them accept the pod.
fn install_resources() -> ResourceRequirements {
    let amounts = |cpu: &str, memory: &str| {
        BTreeMap::from([
            ("cpu".to_string(), Quantity(cpu.into())),
            ("memory".to_string(), Quantity(memory.into())),
        ])
    };
    ResourceRequirements {
        requests: Some(amounts("10m", "16Mi")),
        limits: Some(amounts("100m", "32Mi")),
        claims: None,
    }
}

#[cfg(test)]
mod tests;
