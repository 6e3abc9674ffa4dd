//! The runtime shim in the pod: an init container copies the binary into a
//! shared `emptyDir`, and the app container starts through it, so PM2's
//! `process.send('ready')`, stop signal and `'shutdown'` message work.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EmptyDirVolumeSource, ResourceRequirements,
    SeccompProfile, SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::crd::AppSpec;

use super::command::Command;
use super::defaults;
use super::error::SpecError;
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

/// On when asked for, or by default when `waitReady` has no explicit
/// readiness check to rely on.
pub fn enabled(spec: &AppSpec) -> bool {
    match spec.runtime_shim.as_ref().and_then(|s| s.enabled) {
        Some(enabled) => enabled,
        None => spec.wait_ready == Some(true) && spec.readiness.is_none(),
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
        return Ok(None);
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
    if spec.port == Some(probe_port) {
        return Err(SpecError::new(
            "spec.runtimeShim.probePort",
            format!("{probe_port} is also spec.port; the shim's readiness endpoint needs a port of its own"),
        ));
    }
    check_no_clash(spec)?;
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
    /// The app container's command: the shim, its flags, `--`, then the
    /// app's own command (its `args` stay the container's `args`).
    pub fn wrap(
        &self,
        spec: &AppSpec,
        timings: &Timings,
        app: &Command,
    ) -> Result<Vec<String>, SpecError> {
        if app.uses_image_entry_point() {
            return Err(SpecError::new(
                "spec.script",
                "is required with the runtime shim: the shim starts the app itself and cannot wrap the image's entry point",
            ));
        }
        let mut command = vec![BINARY_IN_POD.to_string()];
        if let Some(port) = spec.port {
            command.extend(["--port".to_string(), port.to_string()]);
        }
        if spec.wait_ready == Some(true) {
            command.push("--wait-ready".into());
        }
        command.extend([
            "--listen-timeout-ms".to_string(),
            timings.listen_timeout_ms.to_string(),
            "--kill-timeout-ms".to_string(),
            timings.kill_timeout_ms.to_string(),
            "--stop-signal".to_string(),
            stop_signal(spec)?.to_string(),
        ]);
        if spec.shutdown_with_message == Some(true) {
            command.push("--shutdown-with-message".into());
        }
        command.extend([
            "--probe-addr".to_string(),
            format!("0.0.0.0:{}", self.probe_port),
            "--".to_string(),
        ]);
        command.extend(app.command.iter().cloned());
        Ok(command)
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
