//! readyroll never adopts what it did not create. An object of the App's
//! name that exists but is not controlled by the App (a Service another
//! team made, a Deployment of a Helm release) is left exactly as it is:
//! applying to it would merge readyroll's fields and owner reference into
//! it, and deleting the App would then garbage-collect it.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::observed::controlled_by;
use crate::problems::Problem;
use crate::reason;

/// A same-named object that belongs to someone else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// `Deployment`, `Service` or `PodDisruptionBudget`.
    pub kind: &'static str,
    pub name: String,
    /// Who it belongs to, for people: its controller, or its field managers.
    pub owner: String,
}

impl Conflict {
    pub fn problem(&self) -> Problem {
        Problem {
            reason: reason::OWNERSHIP_CONFLICT,
            message: format!(
                "{} {} exists and is not controlled by this App (it belongs to {}); \
                 readyroll leaves it untouched until it is removed or renamed",
                self.kind, self.name, self.owner
            ),
        }
    }
}

/// The conflict `existing` is for the App with uid `app_uid`: `None` when
/// there is no such object or the App controls it.
pub fn conflict(
    kind: &'static str,
    existing: Option<&ObjectMeta>,
    app_uid: &str,
) -> Option<Conflict> {
    let meta = existing?;
    if controlled_by(meta, app_uid) {
        return None;
    }
    Some(Conflict {
        kind,
        name: meta.name.clone().unwrap_or_default(),
        owner: owner_of(meta),
    })
}

/// The controller owner reference as `Kind/name`; without one, the other
/// owners, else the field managers that wrote the object.
fn owner_of(meta: &ObjectMeta) -> String {
    let owners = meta.owner_references.as_deref().unwrap_or_default();
    if let Some(controller) = owners.iter().find(|o| o.controller == Some(true)) {
        return format!("{}/{}", controller.kind, controller.name);
    }
    if !owners.is_empty() {
        let names: Vec<String> = owners
            .iter()
            .map(|o| format!("{}/{}", o.kind, o.name))
            .collect();
        return format!("no controller; owners {}", names.join(", "));
    }
    let mut managers: Vec<&str> = meta
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|m| m.manager.as_deref())
        .collect();
    managers.sort_unstable();
    managers.dedup();
    if managers.is_empty() {
        "no owner".to_string()
    } else {
        format!("no owner; field managers {}", managers.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ManagedFieldsEntry, OwnerReference};

    use super::*;

    fn meta(owners: Vec<OwnerReference>, managers: &[&str]) -> ObjectMeta {
        ObjectMeta {
            name: Some("web".into()),
            owner_references: Some(owners),
            managed_fields: Some(
                managers
                    .iter()
                    .map(|m| ManagedFieldsEntry {
                        manager: Some(m.to_string()),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        }
    }

    fn owner(kind: &str, name: &str, uid: &str, controller: bool) -> OwnerReference {
        OwnerReference {
            kind: kind.into(),
            name: name.into(),
            uid: uid.into(),
            controller: Some(controller),
            ..Default::default()
        }
    }

    #[test]
    fn what_the_app_controls_is_no_conflict() {
        let mine = meta(vec![owner("App", "web", "app-uid", true)], &["readyroll"]);
        assert_eq!(conflict("Service", Some(&mine), "app-uid"), None);
        assert_eq!(conflict("Service", None, "app-uid"), None);
    }

    #[test]
    fn the_owner_is_named_by_controller_owners_or_managers() {
        let cases = [
            (
                meta(vec![owner("HelmRelease", "shop", "x", true)], &["helm"]),
                "HelmRelease/shop",
            ),
            (
                // Another App of the same name (an older one, recreated).
                meta(vec![owner("App", "web", "old-uid", true)], &[]),
                "App/web",
            ),
            (
                meta(vec![owner("ConfigMap", "c", "y", false)], &[]),
                "no controller; owners ConfigMap/c",
            ),
            (
                meta(vec![], &["kubectl-client-side-apply", "helm", "helm"]),
                "no owner; field managers helm, kubectl-client-side-apply",
            ),
            (meta(vec![], &[]), "no owner"),
        ];
        for (existing, want) in cases {
            let found = conflict("Service", Some(&existing), "app-uid").expect("a conflict");
            assert_eq!(found.owner, want);
            let problem = found.problem();
            assert_eq!(problem.reason, reason::OWNERSHIP_CONFLICT);
            assert!(
                problem.message.starts_with("Service web exists"),
                "{problem:?}"
            );
            assert!(problem.message.contains(want), "{problem:?}");
        }
    }
}
