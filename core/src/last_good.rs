//! The last good pod template, saved in a ControllerRevision the App owns.
//!
//! A rollback takes the last good template from the Deployment's
//! ReplicaSets. Those go with the Deployment: deleted by hand while a
//! failed release is held, it would be recreated from the spec, which asks
//! for the failed template. The saved copy outlives the Deployment (and,
//! owned by the App, goes with the App), so the hold survives.

use k8s_openapi::api::apps::v1::{ControllerRevision, Deployment};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;

use crate::observed::revision_of;

/// Appended to the App's name; no other controller names a revision so
/// (StatefulSets and DaemonSets append a hash).
const SUFFIX: &str = "-last-good";

/// The ControllerRevision of the App named `app`.
pub fn name(app: &str) -> String {
    format!("{app}{SUFFIX}")
}

/// The saved template, when `saved` holds one readyroll can read.
pub fn template(saved: &ControllerRevision) -> Option<PodTemplateSpec> {
    let data = saved.data.as_ref()?;
    serde_json::from_value(data.0.clone()).ok()
}

/// The revision the saved template carries.
pub fn saved_revision(saved: &ControllerRevision) -> Option<String> {
    template(saved).and_then(|t| revision_of(&t).map(str::to_string))
}

/// The ControllerRevision saving `deployment`'s template, which just proved
/// good; labelled and owned like the Deployment. Its number counts the
/// saves.
pub fn save(
    deployment: &Deployment,
    previous: Option<&ControllerRevision>,
) -> Option<ControllerRevision> {
    let template = &deployment.spec.as_ref()?.template;
    let mut metadata = deployment.metadata.clone();
    metadata.name = Some(name(metadata.name.as_deref()?));
    metadata.annotations = None;
    Some(ControllerRevision {
        metadata,
        data: Some(RawExtension(serde_json::to_value(template).ok()?)),
        revision: previous.map_or(1, |p| p.revision.saturating_add(1)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::{build, BuildOptions};
    use crate::crd::{App, AppSpec};

    #[test]
    fn a_saved_template_reads_back_with_its_revision() {
        let opts = BuildOptions {
            shim_image: "readyroll:test".into(),
        };
        let mut app = App::new(
            "web",
            AppSpec {
                image: "web:1".into(),
                ..Default::default()
            },
        );
        app.metadata.namespace = Some("shop".into());
        app.metadata.uid = Some("app-uid".into());
        let desired = build(&app, &[], &opts).unwrap();
        let saved = save(&desired.deployment, None).expect("saved");
        assert_eq!(saved.metadata.name.as_deref(), Some("web-last-good"));
        assert_eq!(
            saved.metadata.owner_references,
            desired.deployment.metadata.owner_references
        );
        assert_eq!(saved.revision, 1);
        assert_eq!(
            template(&saved),
            Some(desired.deployment.spec.clone().unwrap().template)
        );
        assert_eq!(saved_revision(&saved), Some(desired.revision.clone()));
        assert_eq!(save(&desired.deployment, Some(&saved)).unwrap().revision, 2);
    }
}
