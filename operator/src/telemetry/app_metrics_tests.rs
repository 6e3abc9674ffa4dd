use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use prometheus_client::encoding::text::encode;
use readyroll_core::crd::SlowStartRecord;

use super::*;

struct Fixture {
    registry: Registry,
    metrics: AppMetrics,
    start: Instant,
}

impl Fixture {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("readyroll");
        let metrics = AppMetrics::register(&mut registry);
        Fixture {
            registry,
            metrics,
            start: Instant::now(),
        }
    }

    fn observe_at(&self, app: &str, seconds: u64, status: &AppStatus) {
        self.metrics.observe(
            "shop",
            app,
            None,
            status,
            self.start + Duration::from_secs(seconds),
        );
    }

    fn text(&self) -> String {
        let mut body = String::new();
        encode(&mut body, &self.registry).expect("encode");
        body
    }

    fn sample(&self, series: &str) -> Option<f64> {
        self.text()
            .lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
            .and_then(|value| value.trim().parse().ok())
    }

    /// The series lines naming `app` (`# HELP` and `# TYPE` left out).
    fn series_of(&self, app: &str) -> Vec<String> {
        let label = format!("app=\"{app}\"");
        self.text()
            .lines()
            .filter(|line| !line.starts_with('#') && line.contains(&label))
            .map(str::to_owned)
            .collect()
    }
}

fn condition(type_: &str, status: bool, reason: &str) -> Condition {
    Condition {
        type_: type_.into(),
        status: if status { "True" } else { "False" }.into(),
        reason: reason.into(),
        message: String::new(),
        last_transition_time: Time(Timestamp::UNIX_EPOCH),
        observed_generation: Some(1),
    }
}

/// A status of `revision` with every condition readyroll writes.
fn status(revision: &str, ready: bool, degraded: bool, progressing_reason: &str) -> AppStatus {
    let rolling = !ready && !degraded;
    AppStatus {
        current_revision: Some(revision.into()),
        conditions: vec![
            condition(CONDITION_AVAILABLE, ready, "InstancesAvailable"),
            condition(CONDITION_PROGRESSING, rolling, progressing_reason),
            condition(CONDITION_DEGRADED, degraded, "AsExpected"),
            condition(CONDITION_READY, ready, progressing_reason),
            condition(CONDITION_RECONCILING, rolling, progressing_reason),
            condition(CONDITION_STALLED, degraded, "AsExpected"),
        ],
        ..Default::default()
    }
}

fn complete(revision: &str) -> AppStatus {
    status(revision, true, false, reason::ROLLOUT_COMPLETE)
}

fn rolling(revision: &str) -> AppStatus {
    status(revision, false, false, reason::ROLLOUT_IN_PROGRESS)
}

#[test]
fn an_app_has_one_series_per_metric_and_condition_type() {
    let fixture = Fixture::new();
    let mut web = complete("5d8f");
    web.memory_restarts = Some(2);
    web.slow_starts = vec![SlowStartRecord {
        pod: "web-1".into(),
        started_at: "2026-01-01T00:00:00Z".into(),
    }];
    // A type readyroll does not know is not exported.
    web.conditions
        .push(condition("SomethingElse", true, "Whatever"));
    fixture.observe_at("web", 0, &web);

    let info = "readyroll_app_info{namespace=\"shop\",app=\"web\",revision=\"5d8f\"}";
    assert_eq!(fixture.sample(info), Some(1.0));
    let condition = |type_: &str| {
        fixture.sample(&format!(
            "readyroll_app_condition{{namespace=\"shop\",app=\"web\",condition=\"{type_}\"}}"
        ))
    };
    assert_eq!(condition("Available"), Some(1.0));
    assert_eq!(condition("Ready"), Some(1.0));
    assert_eq!(condition("Progressing"), Some(0.0));
    assert_eq!(condition("Degraded"), Some(0.0));
    assert_eq!(condition("Reconciling"), Some(0.0));
    assert_eq!(condition("Stalled"), Some(0.0));
    assert_eq!(condition("SomethingElse"), None);
    let app = "{namespace=\"shop\",app=\"web\"}";
    assert_eq!(
        fixture.sample(&format!("readyroll_app_memory_restarts_total{app}")),
        Some(2.0)
    );
    assert_eq!(
        fixture.sample(&format!("readyroll_app_slow_starts{app}")),
        Some(1.0)
    );
    // Present at 0 from the start, so increase() has a baseline.
    assert_eq!(
        fixture.sample(&format!("readyroll_app_rollbacks_total{app}")),
        Some(0.0)
    );
    // 1 info + 6 conditions + memory restarts + slow starts + rollbacks;
    // no histogram before the first timed rollout.
    assert_eq!(fixture.series_of("web").len(), 10, "{}", fixture.text());

    // Observing the same status again changes nothing.
    fixture.observe_at("web", 5, &web);
    assert_eq!(fixture.series_of("web").len(), 10);
    assert_eq!(
        fixture.sample(&format!("readyroll_app_memory_restarts_total{app}")),
        Some(2.0)
    );
}

#[test]
fn a_new_revision_replaces_the_info_series() {
    let fixture = Fixture::new();
    fixture.observe_at("web", 0, &complete("aaaa"));
    fixture.observe_at("web", 1, &rolling("bbbb"));
    let info = |revision: &str| {
        fixture.sample(&format!(
            "readyroll_app_info{{namespace=\"shop\",app=\"web\",revision=\"{revision}\"}}"
        ))
    };
    assert_eq!(info("aaaa"), None);
    assert_eq!(info("bbbb"), Some(1.0));
}

#[test]
fn a_rollout_is_timed_from_its_first_status_to_ready() {
    let fixture = Fixture::new();
    fixture.observe_at("web", 0, &complete("aaaa"));
    fixture.observe_at("web", 100, &rolling("bbbb"));
    fixture.observe_at("web", 110, &rolling("bbbb"));
    fixture.observe_at("web", 142, &complete("bbbb"));
    // Still Ready later: the rollout is not counted twice.
    fixture.observe_at("web", 200, &complete("bbbb"));

    let series = |suffix: &str| {
        fixture.sample(&format!(
            "readyroll_app_rollout_duration_seconds_{suffix}{{namespace=\"shop\",app=\"web\"}}"
        ))
    };
    assert_eq!(series("count"), Some(1.0));
    assert_eq!(series("sum"), Some(42.0));
    let bucket = |le: &str| {
        fixture.sample(&format!(
            "readyroll_app_rollout_duration_seconds_bucket{{le=\"{le}\",namespace=\"shop\",app=\"web\"}}"
        ))
    };
    assert_eq!(bucket("30.0"), Some(0.0), "{}", fixture.text());
    assert_eq!(bucket("60.0"), Some(1.0));
    assert_eq!(bucket("+Inf"), Some(1.0));
}

#[test]
fn a_failed_rollout_is_not_timed_and_its_rollback_counts_once() {
    let fixture = Fixture::new();
    let rollbacks =
        || fixture.sample("readyroll_app_rollbacks_total{namespace=\"shop\",app=\"web\"}");
    fixture.observe_at("web", 0, &complete("good"));
    fixture.observe_at("web", 10, &rolling("bad"));

    // The plan fails the release: Degraded, rolling back to the good one.
    let mut failed = status("bad", false, true, reason::ROLLED_BACK);
    failed.conditions[1] = condition(CONDITION_PROGRESSING, true, reason::ROLLED_BACK);
    failed.failed_revision = Some("bad".into());
    fixture.observe_at("web", 20, &failed);
    // The same reconcile writes its final status; later ones hold.
    fixture.observe_at("web", 20, &failed);
    let mut held = status("good", false, true, reason::ROLLED_BACK);
    held.failed_revision = Some("bad".into());
    fixture.observe_at("web", 30, &held);
    assert_eq!(rollbacks(), Some(1.0));

    // Back on the good revision and Ready: no rollout was completed.
    let mut back = complete("good");
    back.failed_revision = Some("bad".into());
    fixture.observe_at("web", 40, &back);
    assert_eq!(
        fixture
            .sample("readyroll_app_rollout_duration_seconds_count{namespace=\"shop\",app=\"web\"}"),
        None
    );
    assert_eq!(rollbacks(), Some(1.0));
}

#[test]
fn a_rollback_recorded_before_the_operator_started_is_not_counted() {
    let fixture = Fixture::new();
    let mut failed = status("bad", false, true, reason::ROLLED_BACK);
    failed.conditions[1] = condition(CONDITION_PROGRESSING, true, reason::ROLLED_BACK);
    failed.failed_revision = Some("bad".into());
    fixture
        .metrics
        .observe("shop", "web", Some(&failed), &failed, fixture.start);
    assert_eq!(
        fixture.sample("readyroll_app_rollbacks_total{namespace=\"shop\",app=\"web\"}"),
        Some(0.0)
    );
}

#[test]
fn memory_restarts_follow_the_status_and_never_go_down() {
    let fixture = Fixture::new();
    let with = |count: i32| AppStatus {
        memory_restarts: Some(count),
        ..complete("aaaa")
    };
    let counter =
        || fixture.sample("readyroll_app_memory_restarts_total{namespace=\"shop\",app=\"web\"}");
    fixture.observe_at("web", 0, &with(1));
    fixture.observe_at("web", 1, &with(4));
    assert_eq!(counter(), Some(4.0));
    // A stale status (an older read) does not take the counter back.
    fixture.observe_at("web", 2, &with(3));
    fixture.observe_at("web", 3, &with(4));
    assert_eq!(counter(), Some(4.0));
    fixture.observe_at("web", 4, &with(5));
    assert_eq!(counter(), Some(5.0));
}

#[test]
fn a_condition_that_is_gone_leaves_no_series() {
    let fixture = Fixture::new();
    fixture.observe_at("web", 0, &complete("aaaa"));
    let mut fewer = complete("aaaa");
    fewer.conditions.retain(|c| c.type_ != CONDITION_STALLED);
    fixture.observe_at("web", 1, &fewer);
    assert!(
        !fixture.text().contains("condition=\"Stalled\""),
        "{}",
        fixture.text()
    );
}

#[test]
fn forgetting_an_app_removes_its_series_and_only_its() {
    let fixture = Fixture::new();
    fixture.observe_at("web", 0, &complete("aaaa"));
    fixture.observe_at("web", 1, &rolling("bbbb"));
    fixture.observe_at("web", 2, &complete("bbbb"));
    fixture.observe_at("api", 0, &complete("cccc"));
    assert!(!fixture.series_of("web").is_empty());

    fixture.metrics.forget("shop", "web");
    assert_eq!(fixture.series_of("web"), Vec::<String>::new());
    assert_eq!(fixture.series_of("api").len(), 10);

    // Seen again (an App of the same name created anew): starts afresh.
    fixture.observe_at("web", 3, &complete("dddd"));
    assert_eq!(fixture.series_of("web").len(), 10);

    fixture.metrics.forget_all();
    assert_eq!(fixture.series_of("web"), Vec::<String>::new());
    assert_eq!(fixture.series_of("api"), Vec::<String>::new());
    // The families stay registered: an App seen afterwards is exported.
    fixture.observe_at("api", 4, &complete("eeee"));
    assert_eq!(fixture.series_of("api").len(), 10);
}
