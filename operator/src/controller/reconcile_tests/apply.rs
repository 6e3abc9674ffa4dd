//! What is applied and removed, and what the status says afterwards.

use super::*;
use std::time::Duration;

use kube::runtime::controller::Action;

/// Where the ControllerRevision saving `app`'s spec lives.
fn revision_path(app: &App) -> String {
    format!(
        "/apis/apps/v1/namespaces/shop/controllerrevisions/{}",
        readyroll_core::history::object_name("web", &app.spec)
    )
}

#[tokio::test]
async fn applies_exactly_what_the_core_builds() {
    let h = harness(Vec::new());
    let web = app(spec("web:1", 3), None);
    h.store_app(&web);
    let want = desired(&web);

    h.reconcile().await;

    let writes = h.api.writes();
    assert_eq!(
        writes_summary(&writes),
        [
            (Method::PATCH, DEPLOYMENT.to_string()),
            (Method::PATCH, SERVICE.to_string()),
            (Method::PATCH, PDB.to_string()),
            // The first revision's spec, saved for `readyroll rollback`.
            (Method::PATCH, revision_path(&web)),
            (Method::POST, EVENTS.to_string()),
            (Method::PATCH, format!("{APP}/status")),
        ]
    );
    for (path, object) in [
        (DEPLOYMENT, serde_json::to_value(&want.deployment).unwrap()),
        (
            SERVICE,
            serde_json::to_value(want.service.as_ref().unwrap()).unwrap(),
        ),
        (
            PDB,
            serde_json::to_value(want.pdb.as_ref().unwrap()).unwrap(),
        ),
    ] {
        let patch = write_to(&writes, Method::PATCH, path)[0];
        assert_eq!(patch.body, object, "{path} is applied exactly as built");
        assert!(
            patch.query.contains("fieldManager=readyroll"),
            "{}",
            patch.query
        );
        assert!(patch.query.contains("force=true"), "{}", patch.query);
    }

    let status = h.stored_status();
    assert_eq!(status.observed_generation, Some(1));
    assert_eq!(status.instances, Some(3));
    assert_eq!(
        status.current_revision.as_deref(),
        Some(want.revision.as_str())
    );
    assert_eq!(status.last_good_revision, None);
    assert_eq!(
        condition(&status, "Progressing"),
        pair("True", "RolloutInProgress")
    );
    assert_eq!(
        condition(&status, "Available"),
        pair("False", "InstancesUnavailable")
    );
    assert_eq!(condition(&status, "Degraded"), pair("False", "AsExpected"));
    assert_eq!(event_reasons(&writes), ["RolloutStarted"]);
    let status_patch = write_to(&writes, Method::PATCH, &format!("{APP}/status"))[0];
    assert_eq!(status_patch.body["apiVersion"], "readyroll.dev/v1alpha1");
    assert!(status_patch.query.contains("fieldManager=readyroll"));
}

#[tokio::test]
async fn completion_records_the_last_good_revision_once() {
    let h = harness(Vec::new());
    let web = app(spec("web:1", 2), None);
    let want = desired(&web);
    h.api.put(
        DEPLOYMENT,
        deployment_with_status(
            &want,
            1,
            json!({"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2}),
        ),
    );
    h.store_app(&web);

    h.reconcile().await;
    let status = h.stored_status();
    assert_eq!(
        status.last_good_revision.as_deref(),
        Some(want.revision.as_str())
    );
    assert_eq!(
        (
            status.replicas,
            status.ready_replicas,
            status.updated_replicas,
            status.available_replicas
        ),
        (Some(2), Some(2), Some(2), Some(2))
    );
    assert_eq!(
        condition(&status, "Progressing"),
        pair("False", "RolloutComplete")
    );
    assert_eq!(
        condition(&status, "Available"),
        pair("True", "InstancesAvailable")
    );
    assert_eq!(event_reasons(&h.api.writes()), ["RolloutComplete"]);

    // The next reconcile finds nothing to change: no status write, no event.
    h.api.clear_log();
    h.reconcile().await;
    let writes = h.api.writes();
    assert!(
        write_to(&writes, Method::PATCH, &format!("{APP}/status")).is_empty(),
        "{writes:?}"
    );
    assert!(event_reasons(&writes).is_empty());
}

/// A ReplicaSet of the Deployment carrying `desired`'s template, as the
/// Deployment controller makes it (with its pod-template-hash label).
fn pdb_owned_by(uid: &str) -> Value {
    json!({
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {
            "name": "web", "namespace": "shop", "uid": "pdb-uid",
            "ownerReferences": [{
                "apiVersion": "readyroll.dev/v1alpha1", "kind": "App", "name": "web",
                "uid": uid, "controller": true
            }]
        },
        "spec": { "maxUnavailable": 1 }
    })
}

#[tokio::test]
async fn scaling_to_one_deletes_the_pdb_it_owns() {
    let h = harness(Vec::new());
    let web = app(spec("web:1", 1), None);
    assert!(
        desired(&web).pdb.is_none(),
        "one instance needs no PodDisruptionBudget"
    );
    h.store_owned_pdb(pdb_owned_by(APP_UID));
    h.store_app(&web);

    h.reconcile().await;

    let deletes = write_to(&h.api.writes(), Method::DELETE, PDB)
        .into_iter()
        .cloned()
        .collect::<Vec<_>>();
    assert_eq!(deletes.len(), 1);
    assert_eq!(deletes[0].body["preconditions"]["uid"], json!("pdb-uid"));
    assert!(h.api.get(PDB).is_none());
}

#[tokio::test]
async fn objects_of_someone_else_are_never_deleted() {
    let h = harness(Vec::new());
    let mut web = app(spec("web:1", 1), None);
    web.spec.port = None;
    h.api.put(PDB, pdb_owned_by("another-app"));
    h.api.put(
        SERVICE,
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"}}),
    );
    h.store_app(&web);

    h.reconcile().await;

    let writes = h.api.writes();
    assert!(
        !writes.iter().any(|r| r.method == Method::DELETE),
        "{writes:?}"
    );
    assert!(h.api.get(PDB).is_some() && h.api.get(SERVICE).is_some());
}

#[tokio::test]
async fn a_standby_replica_writes_nothing() {
    let h = harness_with(Vec::new(), Leadership::follower());
    h.store_app(&app(spec("web:1", 3), None));

    h.reconcile().await;

    assert!(h.api.requests().is_empty(), "{:?}", h.api.requests());
}

#[tokio::test]
async fn the_app_is_read_again_only_when_the_cache_may_lack_readyrolls_own_status_write() {
    let h = harness(Vec::new());
    h.store_app(&app(spec("web:1", 3), None));
    h.reconcile().await;
    assert_eq!(h.app_reads(), 1, "nothing written yet: the App is read");

    // The cache now holds the App at the version the status write produced.
    h.api.clear_log();
    h.reconcile().await;
    assert_eq!(h.app_reads(), 0, "the cache holds the status just written");

    // Someone else wrote the App since, at the same generation: a lagging
    // cache would look the same, so it is read fresh.
    h.store_app(&app(spec("web:1", 3), None));
    h.api.clear_log();
    h.reconcile().await;
    assert_eq!(h.app_reads(), 1, "another writer's version is read fresh");

    // A spec edit raises the generation: it came after the last write.
    let mut edited = app(spec("web:2", 3), None);
    edited.metadata.generation = Some(2);
    h.store_app(&edited);
    h.api.clear_log();
    h.reconcile().await;
    assert_eq!(h.app_reads(), 0, "a later generation holds the write");
}

#[tokio::test]
async fn a_reconcile_before_readyrolls_own_status_write_is_delivered_is_left_to_that_delivery() {
    let h = harness(Vec::new());
    h.store_app(&app(spec("web:1", 3), None));
    let before_write = h.stored_app();
    h.reconcile_cached(before_write.clone()).await;
    assert!(
        h.api.get(APP).unwrap()["status"].is_object(),
        "the first reconcile wrote a status"
    );

    // A Deployment event triggers a reconcile while the App cache still
    // holds the App from before that write.
    h.api.clear_log();
    let action = h.reconcile_cached(before_write.clone()).await;
    assert!(
        h.api.requests().is_empty(),
        "nothing read or written: {:?}",
        h.api.requests()
    );
    assert_eq!(action, Action::requeue(Duration::from_secs(1)));

    // Once the watch delivers the write, the cache holds it and is decided on.
    let delivered = h.stored_app();
    h.ctx
        .written
        .observe(&watcher::Event::Apply(DeserializeGuard(Ok(delivered))));
    h.api.clear_log();
    // (`reconcile` delivers whatever this reconcile writes in turn.)
    h.reconcile().await;
    assert!(h.reads().iter().all(|p| p != APP), "{:?}", h.reads());
    assert!(
        !h.api.requests().is_empty(),
        "the reconcile ran: it read what the caches lack"
    );

    // Delivered, yet the cache shows something else: read, not waited for.
    h.api.clear_log();
    h.reconcile_cached(before_write).await;
    assert_eq!(h.app_reads(), 1);
}

#[tokio::test]
async fn a_reconcile_of_an_unchanged_app_reads_from_caches_and_sends_nothing() {
    let h = harness(Vec::new());
    h.store_app(&app(spec("web:1", 3), None));
    h.reconcile().await;
    h.cache_deployment();

    // The Deployment's status moved (the trigger of most reconciles): the
    // cache has it, the revisions are known, and the plan applies the very
    // object the last apply produced.
    h.api.clear_log();
    h.reconcile().await;
    let reads = h.reads();
    assert!(!reads.contains(&DEPLOYMENT.to_string()), "{reads:?}");
    assert!(
        !reads.iter().any(|p| p.contains("/controllerrevisions/")),
        "{reads:?}"
    );
    let writes = h.api.writes();
    assert!(
        write_to(&writes, Method::PATCH, DEPLOYMENT).is_empty(),
        "{:?}",
        writes_summary(&writes)
    );

    // Someone else edits the Deployment's spec: its generation rises, and
    // readyroll's object is applied back.
    let mut edited = h.api.get(DEPLOYMENT).unwrap();
    edited["spec"]["replicas"] = json!(7);
    edited["metadata"]["generation"] = json!(9);
    h.api.put(DEPLOYMENT, edited);
    h.cache_deployment();
    h.api.clear_log();
    h.reconcile().await;
    let writes = h.api.writes();
    let applied = write_to(&writes, Method::PATCH, DEPLOYMENT);
    assert_eq!(applied.len(), 1, "{:?}", writes_summary(&writes));
    assert_eq!(applied[0].body["spec"]["replicas"], json!(3));
}

#[tokio::test]
async fn a_cache_behind_readyrolls_own_apply_is_not_decided_on() {
    let h = harness(Vec::new());
    h.store_app(&app(spec("web:1", 3), None));
    h.reconcile().await;
    // The cache holds the Deployment as first created, then the App's
    // image changes and readyroll applies generation 2.
    h.cache_deployment();
    let mut edited = app(spec("web:2", 3), None);
    edited.metadata.generation = Some(2);
    h.store_app(&edited);
    h.reconcile().await;
    assert_eq!(
        h.api.get(DEPLOYMENT).unwrap()["metadata"]["generation"],
        json!(2)
    );

    // The next reconcile comes before the cache has seen that apply.
    h.api.clear_log();
    h.reconcile().await;
    assert!(
        h.reads().iter().any(|p| p == DEPLOYMENT),
        "the Deployment is read fresh"
    );
}

#[tokio::test]
async fn objects_an_app_does_not_want_are_not_read_when_readyroll_has_none() {
    let h = harness(Vec::new());
    let mut web = app(spec("web:1", 1), None);
    web.spec.port = None;
    h.store_app(&web);

    h.reconcile().await;

    let reads = h.reads();
    assert!(
        !reads.iter().any(|p| p == SERVICE || p == PDB),
        "no port and one instance: neither a Service nor a PDB is read, {reads:?}"
    );
    // Wanted ones are read: another owner's object must be seen, not taken over.
    let mut wide = app(spec("web:1", 3), None);
    wide.metadata.uid = Some(APP_UID.into());
    h.store_app(&wide);
    h.api.clear_log();
    h.reconcile().await;
    let reads = h.reads();
    assert!(reads.iter().any(|p| p == SERVICE), "{reads:?}");
    assert!(reads.iter().any(|p| p == PDB), "{reads:?}");
}

#[tokio::test]
async fn a_new_app_reads_no_revision_once_the_revision_watch_has_listed() {
    use k8s_openapi::api::apps::v1::ControllerRevision;
    use kube::core::PartialObjectMeta;
    use kube::runtime::watcher::Event;

    let h = harness(Vec::new());
    h.ctx.revisions.observe(&Event::Init);
    h.ctx.revisions.observe(&Event::InitDone);
    h.store_app(&app(spec("web:1", 1), None));
    h.reconcile().await;
    let reads = h.reads();
    assert!(
        !reads.iter().any(|p| p.contains("/controllerrevisions/")),
        "no revision of that name was listed: {reads:?}"
    );

    // A revision of the last good template's name that the watch has seen
    // (here someone else's) is read, so the plan sees whose it is.
    let mut foreign = PartialObjectMeta::<ControllerRevision>::default();
    foreign.metadata.name = Some(readyroll_core::last_good::name("web"));
    foreign.metadata.namespace = Some("shop".into());
    foreign.metadata.resource_version = Some("5".into());
    h.ctx.revisions.observe(&Event::Apply(foreign));
    h.api.clear_log();
    h.reconcile().await;
    let reads = h.reads();
    assert!(
        reads
            .iter()
            .any(|p| p.ends_with("/controllerrevisions/web-last-good")),
        "{reads:?}"
    );
}

#[tokio::test]
async fn an_app_this_process_has_not_written_is_read_once_not_on_every_reconcile() {
    let h = harness(Vec::new());
    h.store_app(&app(spec("web:1", 3), None));
    h.reconcile().await;
    h.cache_deployment();
    h.reconcile().await;
    // As after a restart: the App has a status this process did not write.
    h.ctx.written.forget("shop/web");

    h.api.clear_log();
    h.reconcile().await;
    assert_eq!(h.app_reads(), 1, "perhaps written by the last leader");
    let writes = h.api.writes();
    assert!(
        write_to(&writes, Method::PATCH, &format!("{APP}/status")).is_empty(),
        "the status is settled: nothing written that would be trusted anyway"
    );
    h.api.clear_log();
    h.reconcile().await;
    assert_eq!(h.app_reads(), 0, "the cache is at the version read");
}

#[tokio::test]
async fn nothing_more_is_tried_in_a_namespace_being_deleted() {
    let h = harness(Vec::new());
    h.store_app(&app(spec("web:1", 1), None));
    h.reconcile().await;
    // The namespace controller removed the Deployment before the App.
    h.api.terminate_namespace();
    h.api.remove(DEPLOYMENT);
    h.api.clear_log();

    let action = h.reconcile().await;
    assert_eq!(action, kube::runtime::controller::Action::await_change());
    let writes = h.api.writes();
    assert_eq!(
        writes_summary(&writes),
        [(Method::PATCH, DEPLOYMENT.to_string())],
        "the refused creation ends the reconcile: no Event, no status, no retry"
    );
}
