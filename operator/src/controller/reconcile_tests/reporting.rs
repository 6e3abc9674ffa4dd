//! What cannot be rolled out is reported: invalid and unreadable Apps, cron.

use super::*;

#[tokio::test]
async fn an_invalid_spec_is_reported_once_and_not_retried() {
    let h = harness(Vec::new());
    let mut web = app(spec("web:1", 2), None);
    web.spec.cron_restart = Some("every day at noon".into());
    h.store_app(&web);

    let action = h.reconcile().await;

    assert_eq!(action, kube::runtime::controller::Action::await_change());
    let writes = h.api.writes();
    assert_eq!(
        writes_summary(&writes),
        [
            (Method::POST, EVENTS.to_string()),
            (Method::PATCH, format!("{APP}/status"))
        ],
        "nothing is applied for an invalid spec"
    );
    let status = h.stored_status();
    assert_eq!(condition(&status, "Degraded"), pair("True", "InvalidSpec"));
    let degraded = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Degraded")
        .unwrap();
    assert!(
        degraded.message.starts_with("spec.cronRestart: "),
        "{}",
        degraded.message
    );
    assert_eq!(event_reasons(&writes), ["InvalidSpec"]);

    h.api.clear_log();
    h.reconcile().await;
    assert!(h.api.writes().is_empty(), "{:?}", h.api.writes());
}

#[tokio::test]
async fn a_due_cron_restart_is_recorded_before_the_rollout() {
    let h = harness(Vec::new());
    let mut web = app(spec("web:1", 2), None);
    web.spec.cron_restart = Some("* * * * * *".into());
    web.metadata.creation_timestamp = Some(Time("2020-01-01T00:00:00Z".parse().unwrap()));
    h.store_app(&web);

    let action = h.reconcile().await;

    let writes = h.api.writes();
    assert_eq!(
        writes[0].path,
        format!("{APP}/status"),
        "{:?}",
        writes_summary(&writes)
    );
    let restarted_at = writes[0].body["status"]["lastCronRestart"]
        .as_str()
        .unwrap()
        .to_string();
    let applied = &write_to(&writes, Method::PATCH, DEPLOYMENT)[0].body;
    let mut with_restart = web.clone();
    with_restart.status = Some(AppStatus {
        last_cron_restart: Some(restarted_at.clone()),
        ..Default::default()
    });
    assert_eq!(
        applied,
        &serde_json::to_value(&desired(&with_restart).deployment).unwrap()
    );
    assert_eq!(event_reasons(&writes), ["CronRestart", "RolloutStarted"]);
    let last: Timestamp = restarted_at.parse().unwrap();
    let next: Timestamp = h
        .stored_status()
        .next_cron_restart
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        next > last && next.duration_since(last).as_secs_f64() <= 1.0,
        "{last} -> {next}"
    );
    assert_ne!(action, kube::runtime::controller::Action::await_change());
}

#[tokio::test]
async fn an_app_that_does_not_parse_is_reported_on_its_status() {
    let h = harness(Vec::new());
    let mut raw = serde_json::to_value(app(spec("web:1", 2), None)).unwrap();
    raw["spec"]["instances"] = json!("lots");
    raw["status"] = json!({"lastGoodRevision": "abc"});
    h.api.put(APP, raw.clone());
    let guard: DeserializeGuard<App> = serde_json::from_value(raw).unwrap();
    assert!(guard.0.is_err(), "the fixture must not parse");

    let action = reconcile(Arc::new(guard), h.ctx.clone())
        .await
        .expect("reported, not failed");

    assert_eq!(action, kube::runtime::controller::Action::await_change());
    let writes = h.api.writes();
    assert_eq!(
        writes_summary(&writes),
        [
            (Method::POST, EVENTS.to_string()),
            (Method::PATCH, format!("{APP}/status"))
        ]
    );
    let status: AppStatus = serde_json::from_value(writes[1].body["status"].clone()).unwrap();
    assert_eq!(condition(&status, "Degraded"), pair("True", "InvalidSpec"));
    assert_eq!(
        status.last_good_revision.as_deref(),
        Some("abc"),
        "what was known is kept"
    );
    let message = &status
        .conditions
        .iter()
        .find(|c| c.type_ == "Degraded")
        .unwrap()
        .message;
    assert!(message.contains("lots"), "{message}");
    assert_eq!(event_reasons(&writes), ["InvalidSpec"]);
}

#[tokio::test]
async fn a_standby_neither_reports_nor_retries_an_app_that_does_not_parse() {
    let h = harness_with(Vec::new(), Leadership::follower());
    let mut raw = serde_json::to_value(app(spec("web:1", 2), None)).unwrap();
    raw["spec"]["instances"] = json!("lots");
    h.api.put(APP, raw.clone());
    let guard: DeserializeGuard<App> = serde_json::from_value(raw).unwrap();

    let action = reconcile(Arc::new(guard), h.ctx.clone())
        .await
        .expect("a standby waits, it does not fail (which would retry with backoff)");

    assert_eq!(action, kube::runtime::controller::Action::await_change());
    assert!(
        h.api.requests().is_empty(),
        "{:?}",
        writes_summary(&h.api.requests())
    );
}
