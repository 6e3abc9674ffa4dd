//! PM2's `NODE_APP_INSTANCE` in the pod: the operator writes each pod's
//! index into its [`INDEX_ANNOTATION`] (see `crate::instance_index`); a
//! downward-API volume turns the annotation into a file, and the runtime
//! shim reads that file before it starts the app and exports `instanceVar`
//! (and `incrementVar`).
//!
//! Only the pod template changes (a volume, a mount, shim flags), never with
//! the index itself: the index lives on the pod, so neither it nor the
//! instance count is part of the revision hash.

use k8s_openapi::api::core::v1::{
    DownwardAPIVolumeFile, DownwardAPIVolumeSource, ObjectFieldSelector, PodTemplateSpec, Volume,
    VolumeMount,
};
use readyroll_shim_contract::DEFAULT_INSTANCE_VAR;

use crate::crd::AppSpec;

use super::error::SpecError;

/// Pod annotation holding the pod's instance index (`0`, `1`, ...).
pub const INDEX_ANNOTATION: &str = "readyroll.dev/instance";
/// The downward-API volume exposing [`INDEX_ANNOTATION`].
pub const VOLUME_NAME: &str = "readyroll-instance";
/// Where the app container sees it.
pub const MOUNT_DIR: &str = "/readyroll/instance";
/// The file in it, and what the shim is told to read.
pub const INDEX_FILE: &str = "/readyroll/instance/index";
const FILE_NAME: &str = "index";

/// The variables the shim sets: `instanceVar` (default
/// `NODE_APP_INSTANCE`) and `incrementVar`, checked as the shim checks them.
pub fn variables(spec: &AppSpec) -> Result<(String, Option<String>), SpecError> {
    let var = match &spec.instance_var {
        Some(var) => checked(var, "spec.instanceVar")?,
        None => DEFAULT_INSTANCE_VAR.to_string(),
    };
    let increment = spec
        .increment_var
        .as_deref()
        .map(|v| checked(v, "spec.incrementVar"))
        .transpose()?;
    Ok((var, increment))
}

/// Without the shim nothing reads the index: asking for the variables is
/// then an error rather than a silent no-op.
pub fn check_without_shim(spec: &AppSpec) -> Result<(), SpecError> {
    for (field, set) in [
        ("spec.instanceVar", spec.instance_var.is_some()),
        ("spec.incrementVar", spec.increment_var.is_some()),
    ] {
        if set {
            return Err(SpecError::new(
                field,
                "needs the runtime shim, which sets it before the app starts; set spec.script or enable spec.runtimeShim",
            ));
        }
    }
    Ok(())
}

/// The App may not use the instance volume's name or mount path.
pub fn check_no_clash(spec: &AppSpec) -> Result<(), SpecError> {
    if let Some(i) = spec.volumes.iter().position(|v| v.name == VOLUME_NAME) {
        return Err(SpecError::new(
            format!("spec.volumes[{i}].name"),
            format!("{VOLUME_NAME:?} holds the instance index; pick another name"),
        ));
    }
    if let Some(i) = spec
        .volume_mounts
        .iter()
        .position(|m| m.mount_path.trim_end_matches('/') == MOUNT_DIR)
    {
        return Err(SpecError::new(
            format!("spec.volumeMounts[{i}].mountPath"),
            format!("{MOUNT_DIR} is where the instance index is mounted; pick another path"),
        ));
    }
    Ok(())
}

fn checked(name: &str, field: &str) -> Result<String, SpecError> {
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(name.to_string())
    } else {
        Err(SpecError::new(
            field,
            format!("{name:?} is not an environment variable name (letters, digits, '_', not starting with a digit)"),
        ))
    }
}

pub fn volume() -> Volume {
    Volume {
        name: VOLUME_NAME.into(),
        downward_api: Some(DownwardAPIVolumeSource {
            items: Some(vec![DownwardAPIVolumeFile {
                path: FILE_NAME.into(),
                field_ref: Some(ObjectFieldSelector {
                    api_version: None,
                    field_path: format!("metadata.annotations['{INDEX_ANNOTATION}']"),
                }),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn mount() -> VolumeMount {
    VolumeMount {
        name: VOLUME_NAME.into(),
        mount_path: MOUNT_DIR.into(),
        read_only: Some(true),
        ..Default::default()
    }
}

/// Whether pods of `template` read an instance index, i.e. whether the
/// operator must give them one.
pub fn reads_index(template: &PodTemplateSpec) -> bool {
    template
        .spec
        .as_ref()
        .and_then(|s| s.volumes.as_ref())
        .is_some_and(|vs| vs.iter().any(|v| v.name == VOLUME_NAME))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::testing::spec;

    #[test]
    fn variables_default_to_pm2_and_are_checked() {
        assert_eq!(
            variables(&spec()).unwrap(),
            ("NODE_APP_INSTANCE".to_string(), None)
        );
        let custom = AppSpec {
            instance_var: Some("INSTANCE_ID".into()),
            increment_var: Some("PORT".into()),
            ..spec()
        };
        assert_eq!(
            variables(&custom).unwrap(),
            ("INSTANCE_ID".to_string(), Some("PORT".to_string()))
        );
        for (bad, field) in [
            (
                AppSpec {
                    instance_var: Some("1X".into()),
                    ..spec()
                },
                "spec.instanceVar",
            ),
            (
                AppSpec {
                    increment_var: Some("A-B".into()),
                    ..spec()
                },
                "spec.incrementVar",
            ),
        ] {
            assert_eq!(variables(&bad).unwrap_err().field, field);
            assert_eq!(check_without_shim(&bad).unwrap_err().field, field);
        }
        assert!(check_without_shim(&spec()).is_ok());
    }

    #[test]
    fn the_volume_exposes_the_annotation_as_a_file() {
        let v = volume();
        let item = &v.downward_api.as_ref().unwrap().items.as_ref().unwrap()[0];
        assert_eq!(
            item.field_ref.as_ref().unwrap().field_path,
            "metadata.annotations['readyroll.dev/instance']"
        );
        assert_eq!(format!("{}/{}", mount().mount_path, item.path), INDEX_FILE);
        assert_eq!(mount().read_only, Some(true));
    }
}
