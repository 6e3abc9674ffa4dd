//! What readyroll's last apply of each App's Deployment produced, so a
//! reconcile can (a) tell whether the Deployment cache has caught up with
//! that apply and (b) leave out an apply that would change nothing.
//!
//! Most reconciles are triggered by the Deployment's own status moving
//! (its ReplicaSet scaling, a pod turning ready) and plan the very object
//! they applied last time. Sending it again costs the API server a full
//! server-side apply each time; skipping it is safe only while the API
//! server still holds exactly what that apply produced: the same object
//! (uid), untouched spec (generation: any spec change by anyone bumps it)
//! and the labels, annotations and owner references readyroll set (metadata
//! changes do not bump the generation, so they are compared).

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::locked::Locked;

#[derive(Debug, Default)]
pub struct AppliedDeployments(Locked<HashMap<String, Applied>>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct Applied {
    uid: String,
    generation: i64,
    /// The object readyroll sent.
    intended: Fingerprint,
}

/// A hash of a Deployment readyroll means to apply, taken once per apply
/// and used both to compare it with the last one and to record it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint(u64);

impl Fingerprint {
    pub fn of(object: &Deployment) -> Self {
        let mut h = DefaultHasher::new();
        // Serializing cannot fail for a typed object; an empty body would only
        // make two different objects look alike if both failed.
        serde_json::to_vec(object).unwrap_or_default().hash(&mut h);
        Fingerprint(h.finish())
    }
}

impl AppliedDeployments {
    /// Records that applying the Deployment `intended` fingerprints to App
    /// `key`'s Deployment was answered with `answer`.
    pub fn record(&self, key: &str, intended: Fingerprint, answer: &Deployment) {
        let (Some(uid), Some(generation)) =
            (answer.metadata.uid.clone(), answer.metadata.generation)
        else {
            self.forget(key);
            return;
        };
        let applied = Applied {
            uid,
            generation,
            intended,
        };
        self.0.lock().insert(key.to_string(), applied);
    }

    /// Forgets an App that is gone.
    pub fn forget(&self, key: &str) {
        self.0.lock().remove(key);
    }

    /// Whether `cached` (the watch's copy) is at least as new as
    /// readyroll's last apply: the same object at the same or a later
    /// generation. With no apply recorded (e.g. right after start-up, when
    /// the cache was listed after any earlier write) the cache is current.
    pub fn cache_has_caught_up(&self, key: &str, cached: &Deployment) -> bool {
        match self.0.lock().get(key) {
            None => true,
            Some(applied) => {
                cached.metadata.uid.as_deref() == Some(applied.uid.as_str())
                    && cached.metadata.generation.unwrap_or(0) >= applied.generation
            }
        }
    }

    /// Whether applying `intended` (fingerprinted as `fingerprint`) would
    /// change nothing: the last apply sent the same object and `observed` is
    /// still what it produced.
    pub fn unchanged(
        &self,
        key: &str,
        intended: &Deployment,
        fingerprint: Fingerprint,
        observed: &Deployment,
    ) -> bool {
        let map = self.0.lock();
        let Some(applied) = map.get(key) else {
            return false;
        };
        observed.metadata.uid.as_deref() == Some(applied.uid.as_str())
            && observed.metadata.generation == Some(applied.generation)
            && applied.intended == fingerprint
            && keeps_metadata(&intended.metadata, &observed.metadata)
    }
}

/// Whether `observed` still carries every label and annotation `intended`
/// sets, with the same values, and every owner reference it sets.
pub fn keeps_metadata(intended: &ObjectMeta, observed: &ObjectMeta) -> bool {
    let holds = |wanted: &Option<std::collections::BTreeMap<String, String>>,
                 held: &Option<std::collections::BTreeMap<String, String>>| {
        wanted
            .iter()
            .flatten()
            .all(|(k, v)| held.as_ref().and_then(|h| h.get(k)) == Some(v))
    };
    let owners_kept = intended.owner_references.iter().flatten().all(|wanted| {
        observed
            .owner_references
            .iter()
            .flatten()
            .any(|o| o == wanted)
    });
    holds(&intended.labels, &observed.labels)
        && holds(&intended.annotations, &observed.annotations)
        && owners_kept
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::apps::v1::DeploymentSpec;

    use super::*;
    use crate::controller::test_objects::app_owner;

    fn intended(image: &str) -> Deployment {
        Deployment {
            metadata: ObjectMeta {
                name: Some("web".into()),
                labels: Some(BTreeMap::from([("app".into(), "web".into())])),
                annotations: Some(BTreeMap::from([("note".into(), image.into())])),
                owner_references: Some(vec![app_owner()]),
                ..Default::default()
            },
            spec: Some(DeploymentSpec {
                replicas: Some(2),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn unchanged(
        applied: &AppliedDeployments,
        intended: &Deployment,
        observed: &Deployment,
    ) -> bool {
        applied.unchanged("shop/web", intended, Fingerprint::of(intended), observed)
    }

    fn record(applied: &AppliedDeployments, intended: &Deployment, answer: &Deployment) {
        applied.record("shop/web", Fingerprint::of(intended), answer)
    }

    /// The intended object as the API server answers it: server fields added.
    fn answered(intended: &Deployment, generation: i64) -> Deployment {
        let mut d = intended.clone();
        d.metadata.uid = Some("deployment-uid".into());
        d.metadata.generation = Some(generation);
        d.metadata
            .labels
            .as_mut()
            .unwrap()
            .insert("added-by-someone".into(), "x".into());
        d
    }

    #[test]
    fn the_same_object_over_what_the_last_apply_produced_is_not_sent_again() {
        let applied = AppliedDeployments::default();
        let web = intended("web:1");
        assert!(
            !unchanged(&applied, &web, &answered(&web, 1)),
            "nothing applied yet in this process"
        );
        record(&applied, &web, &answered(&web, 3));
        assert!(unchanged(&applied, &web, &answered(&web, 3)));
        assert!(
            !unchanged(&applied, &intended("web:2"), &answered(&web, 3)),
            "a different intended object"
        );
        assert!(
            !unchanged(&applied, &web, &answered(&web, 4)),
            "someone changed the spec since"
        );
        let mut recreated = answered(&web, 3);
        recreated.metadata.uid = Some("other-uid".into());
        assert!(!unchanged(&applied, &web, &recreated), "recreated");
        applied.forget("shop/web");
        assert!(!unchanged(&applied, &web, &answered(&web, 3)));
    }

    #[test]
    fn metadata_taken_off_by_someone_else_is_applied_back() {
        let applied = AppliedDeployments::default();
        let web = intended("web:1");
        record(&applied, &web, &answered(&web, 1));
        let mut label_gone = answered(&web, 1);
        label_gone.metadata.labels.as_mut().unwrap().remove("app");
        assert!(!unchanged(&applied, &web, &label_gone));
        let mut annotation_changed = answered(&web, 1);
        annotation_changed
            .metadata
            .annotations
            .as_mut()
            .unwrap()
            .insert("note".into(), "edited".into());
        assert!(!unchanged(&applied, &web, &annotation_changed));
        let mut owner_gone = answered(&web, 1);
        owner_gone.metadata.owner_references = None;
        assert!(!unchanged(&applied, &web, &owner_gone));
    }

    #[test]
    fn a_cache_behind_the_last_apply_is_not_trusted() {
        let applied = AppliedDeployments::default();
        let web = intended("web:1");
        assert!(
            applied.cache_has_caught_up("shop/web", &answered(&web, 1)),
            "no apply in this process: the cache was listed after any earlier one"
        );
        record(&applied, &web, &answered(&web, 5));
        assert!(!applied.cache_has_caught_up("shop/web", &answered(&web, 4)));
        assert!(applied.cache_has_caught_up("shop/web", &answered(&web, 5)));
        assert!(applied.cache_has_caught_up("shop/web", &answered(&web, 6)));
        let mut older_object = answered(&web, 9);
        older_object.metadata.uid = Some("deleted-uid".into());
        assert!(!applied.cache_has_caught_up("shop/web", &older_object));
    }
}
