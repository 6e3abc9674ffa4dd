//! Names, labels and owner reference shared by every generated object.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use kube::Resource;

use crate::crd::App;

use super::error::SpecError;
use super::names::{is_label_value, is_qualified_name};

pub const NAME_LABEL: &str = "app.kubernetes.io/name";
pub const INSTANCE_LABEL: &str = "app.kubernetes.io/instance";
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const VERSION_LABEL: &str = "app.kubernetes.io/version";
pub const MANAGED_BY: &str = "readyroll";

/// Labels an App may not set itself: they select its pods.
const RESERVED_LABELS: [&str; 3] = [NAME_LABEL, INSTANCE_LABEL, MANAGED_BY_LABEL];

/// Who the generated objects belong to and how they are labelled.
#[derive(Clone, Debug, PartialEq)]
pub struct Identity {
    pub name: String,
    pub namespace: String,
    /// Controller reference to the App, so deleting the App deletes them.
    pub owner: OwnerReference,
    /// The labels that select the App's pods.
    pub selector: BTreeMap<String, String>,
    /// The selector plus managed-by, version and `spec.labels`.
    pub labels: BTreeMap<String, String>,
}

impl Identity {
    pub fn of(app: &App) -> Result<Self, SpecError> {
        let name = app
            .metadata
            .name
            .clone()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| SpecError::new("metadata.name", "the App has no name"))?;
        if !is_label_value(&name) {
            return Err(SpecError::new(
                "metadata.name",
                format!("{name:?} is not a valid label value (at most 63 letters, digits, '-', '_', '.')"),
            ));
        }
        let namespace = app
            .metadata
            .namespace
            .clone()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| SpecError::new("metadata.namespace", "the App has no namespace"))?;
        let owner = app.controller_owner_ref(&()).ok_or_else(|| {
            SpecError::new(
                "metadata.uid",
                "the App has no uid yet, so nothing can be owned by it",
            )
        })?;
        // Foreground deletion of the App then waits for its objects.
        let owner = OwnerReference {
            block_owner_deletion: Some(true),
            ..owner
        };
        let selector = BTreeMap::from([
            (NAME_LABEL.to_string(), name.clone()),
            (INSTANCE_LABEL.to_string(), name.clone()),
        ]);
        let mut labels = selector.clone();
        labels.insert(MANAGED_BY_LABEL.into(), MANAGED_BY.into());
        if let Some(tag) = image_tag(&app.spec.image).filter(|t| is_label_value(t)) {
            labels.insert(VERSION_LABEL.into(), tag.into());
        }
        for (key, value) in &app.spec.labels {
            check_user_label(key, value)?;
            labels.insert(key.clone(), value.clone());
        }
        Ok(Identity {
            name,
            namespace,
            owner,
            selector,
            labels,
        })
    }

    /// Metadata of a generated object: the App's name and namespace, labels
    /// and the controller reference.
    pub fn metadata(&self) -> ObjectMeta {
        ObjectMeta {
            name: Some(self.name.clone()),
            namespace: Some(self.namespace.clone()),
            labels: Some(self.labels.clone()),
            owner_references: Some(vec![self.owner.clone()]),
            ..Default::default()
        }
    }

    pub fn label_selector(&self) -> LabelSelector {
        LabelSelector {
            match_labels: Some(self.selector.clone()),
            match_expressions: None,
        }
    }
}

fn check_user_label(key: &str, value: &str) -> Result<(), SpecError> {
    let field = format!("spec.labels.{key}");
    if RESERVED_LABELS.contains(&key) {
        return Err(SpecError::new(
            field,
            "is set by readyroll to select the App's pods and cannot be overridden",
        ));
    }
    if !is_qualified_name(key) {
        return Err(SpecError::new(
            field,
            "is not a valid label key (optional DNS prefix and '/', then at most 63 letters, digits, '-', '_', '.')",
        ));
    }
    if !is_label_value(value) {
        return Err(SpecError::new(
            field,
            format!("{value:?} is not a valid label value (at most 63 letters, digits, '-', '_', '.', starting and ending with a letter or digit)"),
        ));
    }
    Ok(())
}

/// The tag of an image reference (`registry:5000/web:1.2@sha256:..` -> `1.2`).
pub fn image_tag(image: &str) -> Option<&str> {
    let without_digest = image.split_once('@').map_or(image, |(name, _)| name);
    let last_component = without_digest.rsplit('/').next()?;
    last_component.split_once(':').map(|(_, tag)| tag)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::testing::{app, spec};
    use crate::crd::AppSpec;

    #[test]
    fn image_tags() {
        let cases = [
            ("web", None),
            ("web:1.4.2", Some("1.4.2")),
            ("registry.example:5000/team/web:v2", Some("v2")),
            ("registry.example:5000/team/web", None),
            ("web@sha256:abcd", None),
            ("web:1.0@sha256:abcd", Some("1.0")),
        ];
        for (image, tag) in cases {
            assert_eq!(image_tag(image), tag, "{image}");
        }
    }

    #[test]
    fn labels_select_by_name_and_carry_version_and_user_labels() {
        let app = app(AppSpec {
            labels: BTreeMap::from([("team".to_string(), "checkout".to_string())]),
            ..spec()
        });
        let id = Identity::of(&app).unwrap();
        assert_eq!(
            id.selector,
            BTreeMap::from([
                (NAME_LABEL.to_string(), "web".to_string()),
                (INSTANCE_LABEL.to_string(), "web".to_string()),
            ])
        );
        let expected: BTreeMap<String, String> = [
            (NAME_LABEL, "web"),
            (INSTANCE_LABEL, "web"),
            (MANAGED_BY_LABEL, "readyroll"),
            (VERSION_LABEL, "1.4.2"),
            ("team", "checkout"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(id.labels, expected);
    }

    #[test]
    fn version_label_only_for_valid_label_values() {
        for (image, version) in [
            ("web", None),
            ("web@sha256:0123", None),
            ("web:latest", Some("latest")),
            (&format!("web:{}", "a".repeat(64)), None),
            ("web:_build", None),
        ] {
            let app = app(AppSpec {
                image: image.to_string(),
                ..spec()
            });
            let id = Identity::of(&app).unwrap();
            assert_eq!(
                id.labels.get(VERSION_LABEL).map(String::as_str),
                version,
                "{image}"
            );
        }
    }

    #[test]
    fn user_labels_may_override_version_but_not_the_selector() {
        let with_label = |k: &str, v: &str| {
            app(AppSpec {
                labels: BTreeMap::from([(k.to_string(), v.to_string())]),
                ..spec()
            })
        };
        let id = Identity::of(&with_label(VERSION_LABEL, "2024-01")).unwrap();
        assert_eq!(id.labels[VERSION_LABEL], "2024-01");
        for key in RESERVED_LABELS {
            let err = Identity::of(&with_label(key, "x")).unwrap_err();
            assert_eq!(err.field, format!("spec.labels.{key}"));
        }
        let err = Identity::of(&with_label("bad key", "x")).unwrap_err();
        assert_eq!(err.field, "spec.labels.bad key");
        let err = Identity::of(&with_label("team", "has space")).unwrap_err();
        assert!(err.message.contains("\"has space\""), "{err}");
    }

    #[test]
    fn owner_reference_is_a_blocking_controller_reference() {
        let id = Identity::of(&app(spec())).unwrap();
        let owner = &id.owner;
        assert_eq!(owner.api_version, "readyroll.dev/v1alpha1");
        assert_eq!(owner.kind, "App");
        assert_eq!(owner.name, "web");
        assert_eq!(owner.uid, "0b5e0a8c-6c1e-4a3e-9d1f-1f2e3d4c5b6a");
        assert_eq!(owner.controller, Some(true));
        assert_eq!(owner.block_owner_deletion, Some(true));
        let meta = id.metadata();
        assert_eq!(meta.name.as_deref(), Some("web"));
        assert_eq!(meta.namespace.as_deref(), Some("shop"));
        assert_eq!(meta.owner_references, Some(vec![owner.clone()]));
    }

    #[test]
    fn missing_identity_is_an_error_not_a_panic() {
        let mut no_uid = app(spec());
        no_uid.metadata.uid = None;
        assert_eq!(Identity::of(&no_uid).unwrap_err().field, "metadata.uid");
        let mut no_ns = app(spec());
        no_ns.metadata.namespace = None;
        assert_eq!(
            Identity::of(&no_ns).unwrap_err().field,
            "metadata.namespace"
        );
        let mut no_name = app(spec());
        no_name.metadata.name = None;
        assert_eq!(Identity::of(&no_name).unwrap_err().field, "metadata.name");
    }
}
