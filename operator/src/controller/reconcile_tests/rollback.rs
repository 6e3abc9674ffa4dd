//! Failed releases: the rollback to the last good template and the hold.

use super::*;

fn replica_set(desired: &Desired, hash: &str) -> Value {
    let mut template =
        serde_json::to_value(&desired.deployment.spec.as_ref().unwrap().template).unwrap();
    template["metadata"]["labels"]["pod-template-hash"] = json!(hash);
    let mut labels = template["metadata"]["labels"].clone();
    labels["pod-template-hash"] = json!(hash);
    json!({
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": format!("web-{hash}"),
            "namespace": "shop",
            "labels": labels,
            "ownerReferences": [{
                "apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                "uid": "deployment-uid", "controller": true
            }]
        },
        "spec": { "replicas": 0, "selector": { "matchLabels": labels }, "template": template }
    })
}

#[tokio::test]
async fn failed_rollout_applies_the_last_good_template_and_holds_it() {
    let h = harness(Vec::new());
    let good = desired(&app(spec("web:1", 3), None));
    let bad_app = app(
        spec("web:2", 3),
        Some(AppStatus {
            last_good_revision: Some(good.revision.clone()),
            ..Default::default()
        }),
    );
    let bad = desired(&bad_app);
    assert_ne!(good.revision, bad.revision);
    h.api.put(
        DEPLOYMENT,
        deployment_with_status(
            &bad,
            2,
            json!({
                "observedGeneration": 2, "replicas": 4, "updatedReplicas": 1, "readyReplicas": 3, "availableReplicas": 3,
                "conditions": [{
                    "type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                    "message": "ReplicaSet \"web-bbb\" has timed out progressing."
                }]
            }),
        ),
    );
    h.cache_replica_set(replica_set(&good, "aaa"));
    h.cache_replica_set(replica_set(&bad, "bbb"));
    h.store_app(&bad_app);

    h.reconcile().await;

    let writes = h.api.writes();
    let status_writes = write_to(&writes, Method::PATCH, &format!("{APP}/status"));
    assert_eq!(
        status_writes[0].body["status"]["failedRevision"],
        json!(bad.revision),
        "the failure is recorded before the rollback is applied"
    );
    let early: AppStatus = serde_json::from_value(status_writes[0].body["status"].clone()).unwrap();
    assert_eq!(
        condition(&early, "Degraded"),
        pair("True", "ProgressDeadlineExceeded"),
        "the early write already says why"
    );
    let first_status_write = writes
        .iter()
        .position(|r| r.path.ends_with("/status"))
        .unwrap();
    let deployment_write = writes.iter().position(|r| r.path == DEPLOYMENT).unwrap();
    assert!(first_status_write < deployment_write);

    let applied = &write_to(&writes, Method::PATCH, DEPLOYMENT)[0].body;
    let good_template =
        serde_json::to_value(&good.deployment.spec.as_ref().unwrap().template).unwrap();
    assert_eq!(
        applied["spec"]["template"], good_template,
        "last good template, without pod-template-hash"
    );
    assert_eq!(applied["spec"]["replicas"], json!(3));

    let status = h.stored_status();
    assert_eq!(
        status.failed_revision.as_deref(),
        Some(bad.revision.as_str())
    );
    assert_eq!(
        status.last_good_revision.as_deref(),
        Some(good.revision.as_str())
    );
    assert_eq!(
        status.current_revision.as_deref(),
        Some(good.revision.as_str())
    );
    assert_eq!(
        condition(&status, "Degraded"),
        pair("True", "ProgressDeadlineExceeded")
    );
    assert_eq!(
        condition(&status, "Progressing"),
        pair("True", "RolledBack")
    );
    assert_eq!(event_reasons(&writes), ["RolloutFailed", "RolledBack"]);

    // The spec still asks for the bad revision: the good template stays,
    // read from the Deployment now, and nothing is announced again. The
    // Deployment is what the last apply produced, so it is not sent again.
    h.api.clear_log();
    h.reconcile().await;
    let writes = h.api.writes();
    assert!(
        write_to(&writes, Method::PATCH, DEPLOYMENT).is_empty(),
        "an apply that changes nothing is left out: {:?}",
        writes_summary(&writes)
    );
    let held = h.api.get(DEPLOYMENT).expect("Deployment stored");
    assert_eq!(
        held["spec"]["template"]["metadata"]["annotations"][REVISION_ANNOTATION],
        json!(good.revision)
    );
    assert!(
        event_reasons(&writes).is_empty(),
        "{:?}",
        event_reasons(&writes)
    );
    assert!(
        !h.api.requests().iter().any(|r| r.path == REPLICA_SETS),
        "the template came from the Deployment"
    );

    // A new spec proceeds normally.
    let mut fixed = bad_app.clone();
    fixed.spec.image = "web:3".into();
    fixed.status = Some(h.stored_status());
    h.store_app(&fixed);
    h.api.clear_log();
    h.reconcile().await;
    let writes = h.api.writes();
    let applied = &write_to(&writes, Method::PATCH, DEPLOYMENT)[0].body;
    assert_eq!(
        applied,
        &serde_json::to_value(&desired(&fixed).deployment).unwrap()
    );
    assert_eq!(event_reasons(&writes), ["RolloutStarted"]);
}

fn pod_of(revision: &str, restarts: i32) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(format!("web-{revision}-{restarts}")),
            namespace: Some("shop".into()),
            labels: Some(BTreeMap::from([(
                "app.kubernetes.io/instance".to_string(),
                "web".to_string(),
            )])),
            annotations: Some(BTreeMap::from([(
                REVISION_ANNOTATION.to_string(),
                revision.to_string(),
            )])),
            ..Default::default()
        },
        status: Some(PodStatus {
            container_statuses: Some(vec![ContainerStatus {
                name: "app".into(),
                restart_count: restarts,
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn crash_looping_new_pods_roll_back_unless_disabled() {
    for auto_rollback in [true, false] {
        let good = desired(&app(spec("web:1", 2), None));
        let mut bad_spec = spec("web:2", 2);
        bad_spec.max_restarts = Some(2);
        bad_spec.rollout = Some(RolloutSpec {
            auto_rollback: Some(auto_rollback),
            ..Default::default()
        });
        let bad_app = app(
            bad_spec,
            Some(AppStatus {
                last_good_revision: Some(good.revision.clone()),
                ..Default::default()
            }),
        );
        let bad = desired(&bad_app);
        let h = harness(vec![pod_of(&good.revision, 9), pod_of(&bad.revision, 3)]);
        h.api.put(
            DEPLOYMENT,
            deployment_with_status(
                &bad,
                2,
                json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 1, "readyReplicas": 2, "availableReplicas": 2}),
            ),
        );
        h.cache_replica_set(replica_set(&good, "aaa"));
        h.store_app(&bad_app);

        h.reconcile().await;

        let writes = h.api.writes();
        let applied = &write_to(&writes, Method::PATCH, DEPLOYMENT)[0].body;
        let expected = if auto_rollback { &good } else { &bad };
        assert_eq!(
            applied["spec"]["template"]["metadata"]["annotations"][REVISION_ANNOTATION],
            json!(expected.revision),
            "autoRollback {auto_rollback}"
        );
        let status = h.stored_status();
        assert_eq!(
            condition(&status, "Degraded"),
            pair("True", "TooManyRestarts")
        );
        assert_eq!(
            status.failed_revision.as_deref(),
            Some(bad.revision.as_str())
        );
        assert_eq!(
            status.restarts,
            Some(9),
            "restarts count every pod of the App"
        );
        let expected_events: &[&str] = if auto_rollback {
            &["RolloutFailed", "RolledBack"]
        } else {
            &["RolloutFailed"]
        };
        assert_eq!(event_reasons(&writes), expected_events);
    }
}

#[tokio::test]
async fn decides_on_the_app_as_stored_not_a_stale_cached_copy() {
    let h = harness(Vec::new());
    let good = desired(&app(spec("web:1", 2), None));
    let stale = app(
        spec("web:2", 2),
        Some(AppStatus {
            last_good_revision: Some(good.revision.clone()),
            ..Default::default()
        }),
    );
    let bad = desired(&stale);
    // The API server already has the failure recorded and the rollback
    // applied; the cache has not seen the status write yet.
    let mut stored = stale.clone();
    stored.status.as_mut().unwrap().failed_revision = Some(bad.revision.clone());
    h.store_app(&stored);
    h.api.put(
        DEPLOYMENT,
        deployment_with_status(
            &good,
            3,
            json!({"observedGeneration": 3, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2}),
        ),
    );

    reconcile(Arc::new(DeserializeGuard(Ok(stale))), h.ctx.clone())
        .await
        .expect("reconcile succeeds");

    let writes = h.api.writes();
    let applied = &write_to(&writes, Method::PATCH, DEPLOYMENT)[0].body;
    assert_eq!(
        applied["spec"]["template"]["metadata"]["annotations"][REVISION_ANNOTATION],
        json!(good.revision),
        "the failed revision is not retried"
    );
    assert!(
        event_reasons(&writes).is_empty(),
        "{:?}",
        event_reasons(&writes)
    );
}
