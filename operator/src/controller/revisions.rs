//! The ControllerRevisions a reconcile reads (an App's last good template
//! and its newest history entry), remembered between reconciles instead of
//! read from the API server each time.
//!
//! A full cache of every revision would hold every pod template readyroll
//! ever saved; this one holds only what was read or written, as JSON (a
//! fraction of the size of the parsed object), and stays correct through a
//! watch on the revisions' metadata: any event for a name, other than the
//! one for the very version remembered, makes the name unknown again, and
//! the next reconcile reads it fresh. What a read or write learns is kept
//! only if no event for that name arrived while it was in flight (the
//! `Stamp`), so an answer overtaken by a newer change is never remembered.
//!
//! The watch covers every ControllerRevision in scope, not only readyroll's
//! (there are few: StatefulSets and DaemonSets keep theirs), so once it has
//! listed, a name it has never seen does not exist and is not read either:
//! a new App's first reconcile asks the API server for no revision. A
//! foreign revision of the same name is seen, stays unknown, and is read,
//! so the plan reports it instead of writing over it.

use std::collections::HashMap;

use k8s_openapi::api::apps::v1::ControllerRevision;
use kube::core::PartialObjectMeta;
use kube::runtime::watcher;
use kube::ResourceExt;

use crate::locked::Locked;

/// What is known of one name.
#[derive(Debug, Default)]
struct Entry {
    /// Events seen for this name.
    events: u64,
    known: Option<Known>,
}

#[derive(Debug)]
enum Known {
    Absent,
    /// The revision as JSON, and its resourceVersion.
    Present {
        json: Box<str>,
        version: String,
    },
}

#[derive(Debug, Default)]
struct Inner {
    /// Bumped when the watch lists again (it may have missed deletions).
    epoch: u64,
    /// The watch's list of this epoch is complete: `entries` has a name
    /// for every revision that exists.
    listed: bool,
    entries: HashMap<String, Entry>,
}

#[derive(Debug, Default)]
pub struct RevisionCache(Locked<Inner>);

/// Taken before a read or write of a revision; what it learns is kept only
/// if the stamp is still the same afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    epoch: u64,
    events: u64,
}

impl RevisionCache {
    /// The stamp of `key` (`namespace/name`) now.
    pub fn stamp(&self, key: &str) -> Stamp {
        let inner = self.0.lock();
        stamp_of(&inner, key)
    }

    /// `Some(revision or None)` when `key` is known, `None` when it must be
    /// read.
    pub fn lookup(&self, key: &str) -> Option<Option<ControllerRevision>> {
        let inner = self.0.lock();
        let Some(entry) = inner.entries.get(key) else {
            // Never seen since the list: there is no such revision.
            return inner.listed.then_some(None);
        };
        match entry.known.as_ref()? {
            Known::Absent => Some(None),
            // Written by `remember` from a typed revision: it parses back; if
            // it ever did not, reading it fresh is the safe answer.
            Known::Present { json, .. } => serde_json::from_str(json).ok().map(Some),
        }
    }

    /// Remembers what the API server answered for `key` (a revision, or
    /// that there is none), unless an event for it arrived since `stamp`.
    /// A revision no App controls is not remembered: the plan reports it
    /// as a conflict, naming its field managers, which the copy drops.
    pub fn remember(&self, key: &str, revision: Option<&ControllerRevision>, stamp: Stamp) {
        let known = match revision {
            None => Known::Absent,
            Some(revision) => {
                let controlled = revision
                    .owner_references()
                    .iter()
                    .any(|o| o.controller == Some(true));
                let Some(version) = revision.resource_version().filter(|_| controlled) else {
                    return self.unknown(key);
                };
                let mut slim = revision.clone();
                slim.metadata.managed_fields = None;
                let Ok(json) = serde_json::to_string(&slim) else {
                    return self.unknown(key);
                };
                Known::Present {
                    json: json.into_boxed_str(),
                    version,
                }
            }
        };
        let mut inner = self.0.lock();
        if stamp_of(&inner, key) == stamp {
            inner.entries.entry(key.to_string()).or_default().known = Some(known);
        }
    }

    /// Makes `key` unknown (a write whose outcome is not known).
    pub fn unknown(&self, key: &str) {
        let mut inner = self.0.lock();
        let entry = inner.entries.entry(key.to_string()).or_default();
        entry.events += 1;
        entry.known = None;
    }

    /// Takes in one event of the revisions' metadata watch.
    pub fn observe(&self, event: &watcher::Event<PartialObjectMeta<ControllerRevision>>) {
        let mut inner = self.0.lock();
        match event {
            watcher::Event::Init => {
                inner.epoch += 1;
                inner.listed = false;
                inner.entries.clear();
            }
            watcher::Event::InitDone => inner.listed = true,
            watcher::Event::Apply(meta) | watcher::Event::InitApply(meta) => {
                let version = meta.resource_version();
                let entry = inner.entries.entry(key_of(meta)).or_default();
                entry.events += 1;
                let current = matches!(
                    &entry.known,
                    Some(Known::Present { version: held, .. }) if Some(held) == version.as_ref()
                );
                if !current {
                    entry.known = None;
                }
            }
            watcher::Event::Delete(meta) => {
                let entry = inner.entries.entry(key_of(meta)).or_default();
                entry.events += 1;
                entry.known = None;
            }
        }
    }
}

fn stamp_of(inner: &Inner, key: &str) -> Stamp {
    Stamp {
        epoch: inner.epoch,
        events: inner.entries.get(key).map_or(0, |e| e.events),
    }
}

fn key_of(meta: &PartialObjectMeta<ControllerRevision>) -> String {
    format!(
        "{}/{}",
        meta.namespace().unwrap_or_default(),
        meta.name_any()
    )
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ManagedFieldsEntry, ObjectMeta};

    use super::*;
    use crate::controller::test_objects::app_owner;

    const KEY: &str = "shop/web-last-good";

    fn revision(version: &str) -> ControllerRevision {
        ControllerRevision {
            metadata: ObjectMeta {
                name: Some("web-last-good".into()),
                namespace: Some("shop".into()),
                resource_version: Some(version.into()),
                owner_references: Some(vec![app_owner()]),
                managed_fields: Some(vec![ManagedFieldsEntry {
                    manager: Some("readyroll".into()),
                    ..Default::default()
                }]),
                ..Default::default()
            },
            revision: 3,
            data: None,
        }
    }

    fn meta(version: &str) -> PartialObjectMeta<ControllerRevision> {
        PartialObjectMeta {
            metadata: revision(version).metadata,
            ..Default::default()
        }
    }

    fn event(version: &str) -> watcher::Event<PartialObjectMeta<ControllerRevision>> {
        watcher::Event::Apply(meta(version))
    }

    #[test]
    fn a_remembered_revision_is_served_until_another_version_is_seen() {
        let cache = RevisionCache::default();
        assert_eq!(cache.lookup(KEY), None, "unknown until read");
        cache.remember(KEY, Some(&revision("7")), cache.stamp(KEY));
        let served = cache.lookup(KEY).expect("known").expect("present");
        assert_eq!(served.revision, 3);
        assert_eq!(served.metadata.managed_fields, None, "kept slim");
        cache.observe(&event("7"));
        assert!(
            cache.lookup(KEY).is_some(),
            "the watch confirms the version held"
        );
        cache.observe(&event("8"));
        assert_eq!(cache.lookup(KEY), None, "changed by someone else");
    }

    #[test]
    fn an_answer_overtaken_by_an_event_is_not_remembered() {
        let cache = RevisionCache::default();
        let before_read = cache.stamp(KEY);
        // The revision is deleted while the read is in flight.
        cache.observe(&watcher::Event::Delete(meta("7")));
        cache.remember(KEY, Some(&revision("7")), before_read);
        assert_eq!(cache.lookup(KEY), None);
        // A relist may have missed deletions: everything is read again.
        cache.remember(KEY, None, cache.stamp(KEY));
        assert_eq!(cache.lookup(KEY), Some(None), "known absent");
        let before_relist = cache.stamp(KEY);
        cache.observe(&watcher::Event::Init);
        assert_eq!(cache.lookup(KEY), None);
        cache.remember(KEY, None, before_relist);
        assert_eq!(cache.lookup(KEY), None, "read from before the relist");
    }

    #[test]
    fn once_listed_a_name_never_seen_is_absent_without_a_read() {
        let cache = RevisionCache::default();
        cache.observe(&watcher::Event::Init);
        cache.observe(&watcher::Event::InitApply(meta("4")));
        assert_eq!(
            cache.lookup("shop/other"),
            None,
            "the list is not complete yet"
        );
        cache.observe(&watcher::Event::InitDone);
        assert_eq!(cache.lookup("shop/other"), Some(None), "never seen: absent");
        assert_eq!(cache.lookup(KEY), None, "listed, so it exists: read it");
        cache.observe(&watcher::Event::Delete(meta("4")));
        assert_eq!(cache.lookup(KEY), None, "seen deleted: read, not assumed");
        cache.observe(&watcher::Event::Init);
        assert_eq!(
            cache.lookup("shop/other"),
            None,
            "a relist is not complete yet"
        );
    }

    #[test]
    fn a_creation_ends_a_known_absence_and_a_foreign_revision_is_not_kept() {
        let cache = RevisionCache::default();
        cache.remember(KEY, None, cache.stamp(KEY));
        cache.observe(&event("1"));
        assert_eq!(cache.lookup(KEY), None);
        let mut foreign = revision("2");
        foreign.metadata.owner_references = None;
        cache.remember(KEY, Some(&foreign), cache.stamp(KEY));
        assert_eq!(cache.lookup(KEY), None);
        cache.remember(KEY, Some(&revision("3")), cache.stamp(KEY));
        cache.unknown(KEY);
        assert_eq!(cache.lookup(KEY), None, "a write of unknown outcome");
    }
}
