//! The pod templates of readyroll's ReplicaSets, by the Deployment that
//! controls them: the templates of earlier revisions, for rollback.
//!
//! Kept from the ReplicaSet watch instead of a cache of whole ReplicaSets:
//! a rollback reads nothing else of them, a template is a fraction of its
//! parsed size as JSON, and a reconcile finds its Deployment's templates
//! by the owner's uid instead of scanning every ReplicaSet there is.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use kube::runtime::watcher;
use kube::ResourceExt;

use crate::locked::Locked;

/// Templates by controlling Deployment uid, then by ReplicaSet
/// `namespace/name`; and each ReplicaSet's owner, so that an event finds
/// the entry it replaces without a scan of every owner.
#[derive(Debug, Default)]
struct ByOwner {
    templates: HashMap<String, BTreeMap<String, Box<str>>>,
    owner_of: HashMap<String, String>,
}

#[derive(Debug, Default)]
struct Inner {
    live: ByOwner,
    /// A list in progress (between `Init` and `InitDone`): it replaces
    /// `live` once complete, so a relist drops what was deleted meanwhile.
    listing: Option<ByOwner>,
}

#[derive(Debug, Default)]
pub struct ReplicaSetTemplates(Locked<Inner>);

impl ReplicaSetTemplates {
    /// The pod templates of the ReplicaSets the Deployment `owner_uid`
    /// controls.
    pub fn of(&self, owner_uid: &str) -> Vec<PodTemplateSpec> {
        let inner = self.0.lock();
        inner
            .live
            .templates
            .get(owner_uid)
            .into_iter()
            .flat_map(BTreeMap::values)
            // Written by `insert` from a typed template: it parses back.
            .filter_map(|json| serde_json::from_str(json).ok())
            .collect()
    }

    /// Takes in one event of the ReplicaSet watch.
    pub fn observe(&self, event: &watcher::Event<ReplicaSet>) {
        let mut inner = self.0.lock();
        match event {
            watcher::Event::Init => inner.listing = Some(ByOwner::default()),
            watcher::Event::InitApply(rs) => {
                if let Some(listing) = inner.listing.as_mut() {
                    listing.insert(rs);
                }
            }
            watcher::Event::InitDone => {
                if let Some(listed) = inner.listing.take() {
                    inner.live = listed;
                }
            }
            watcher::Event::Apply(rs) => {
                inner.live.remove(rs);
                inner.live.insert(rs);
            }
            watcher::Event::Delete(rs) => inner.live.remove(rs),
        }
    }
}

fn key_of(rs: &ReplicaSet) -> String {
    format!("{}/{}", rs.namespace().unwrap_or_default(), rs.name_any())
}

fn controller_uid(rs: &ReplicaSet) -> Option<&str> {
    rs.owner_references()
        .iter()
        .find(|o| o.controller == Some(true))
        .map(|o| o.uid.as_str())
}

impl ByOwner {
    fn insert(&mut self, rs: &ReplicaSet) {
        let Some(owner) = controller_uid(rs) else {
            return;
        };
        let Some(template) = rs.spec.as_ref().and_then(|s| s.template.as_ref()) else {
            return;
        };
        let Ok(json) = serde_json::to_string(template) else {
            return;
        };
        let key = key_of(rs);
        self.templates
            .entry(owner.to_string())
            .or_default()
            .insert(key.clone(), json.into_boxed_str());
        self.owner_of.insert(key, owner.to_string());
    }

    /// Removes `rs` under whichever owner holds it (its owner may have
    /// changed since).
    fn remove(&mut self, rs: &ReplicaSet) {
        let key = key_of(rs);
        let Some(owner) = self.owner_of.remove(&key) else {
            return;
        };
        if let Some(templates) = self.templates.get_mut(&owner) {
            templates.remove(&key);
            if templates.is_empty() {
                self.templates.remove(&owner);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::ReplicaSetSpec;
    use k8s_openapi::api::core::v1::PodSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

    use super::*;

    fn rs(name: &str, owner: &str, image: &str) -> ReplicaSet {
        ReplicaSet {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("shop".into()),
                owner_references: Some(vec![OwnerReference {
                    controller: Some(true),
                    uid: owner.into(),
                    ..Default::default()
                }]),
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                template: Some(PodTemplateSpec {
                    metadata: None,
                    spec: Some(PodSpec {
                        containers: vec![k8s_openapi::api::core::v1::Container {
                            name: "app".into(),
                            image: Some(image.into()),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }),
                }),
                ..Default::default()
            }),
            status: None,
        }
    }

    fn images(templates: &ReplicaSetTemplates, owner: &str) -> Vec<String> {
        templates
            .of(owner)
            .into_iter()
            .filter_map(|t| t.spec?.containers[0].image.clone())
            .collect()
    }

    #[test]
    fn templates_are_found_by_their_deployment_and_follow_the_watch() {
        let templates = ReplicaSetTemplates::default();
        templates.observe(&watcher::Event::Init);
        templates.observe(&watcher::Event::InitApply(rs("web-a", "d1", "web:1")));
        assert!(
            templates.of("d1").is_empty(),
            "the list is not complete yet"
        );
        templates.observe(&watcher::Event::InitApply(rs("api-a", "d2", "api:1")));
        templates.observe(&watcher::Event::InitDone);
        assert_eq!(images(&templates, "d1"), ["web:1"]);

        templates.observe(&watcher::Event::Apply(rs("web-b", "d1", "web:2")));
        assert_eq!(images(&templates, "d1"), ["web:1", "web:2"]);
        templates.observe(&watcher::Event::Delete(rs("web-a", "d1", "web:1")));
        assert_eq!(images(&templates, "d1"), ["web:2"]);
        templates.observe(&watcher::Event::Apply(rs("web-b", "d3", "web:2")));
        assert!(templates.of("d1").is_empty(), "adopted by another owner");

        // A relist replaces everything: what was deleted meanwhile is gone.
        templates.observe(&watcher::Event::Init);
        templates.observe(&watcher::Event::InitApply(rs("api-a", "d2", "api:1")));
        templates.observe(&watcher::Event::InitDone);
        assert!(templates.of("d3").is_empty());
        assert_eq!(images(&templates, "d2"), ["api:1"]);
    }
}
