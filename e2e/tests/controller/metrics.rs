//! The per-App metrics as a Prometheus scrape of the controller's
//! `/metrics` sees them: through a rollout, a failed release rolled back,
//! and the App's deletion.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use kube::api::DeleteParams;
use readyroll::crd::{App, RolloutSpec};
use readyroll::telemetry::{probe, Health, Metrics, TelemetryServer};
use readyroll_e2e::kwok::NEVER_READY_ANNOTATION;
use readyroll_e2e::{wait_for, Must};
use tokio::sync::oneshot;

use crate::harness::{Env, MustSome, TIMEOUT};
use crate::observe::{app_status, rolled_out};

/// The controller's metrics served on a loopback port, as `readyroll run`
/// serves them.
struct Scraper {
    url: String,
    _stop: oneshot::Sender<()>,
}

impl Scraper {
    async fn start(metrics: Metrics) -> Scraper {
        let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let server = TelemetryServer::bind(loopback, metrics, Health::new())
            .await
            .must("bind the metrics server");
        let url = format!("http://{}/metrics", server.local_addr());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        Scraper { url, _stop: stop }
    }

    async fn scrape(&self) -> String {
        let response = probe(&self.url, Duration::from_secs(5))
            .await
            .must("scrape /metrics");
        assert_eq!(response.status, 200, "{}", response.body);
        response.body
    }

    /// The value of `series` (name and labels exactly as exported).
    async fn sample(&self, series: &str) -> Option<f64> {
        sample(&self.scrape().await, series)
    }

    /// Scrapes until `done` holds for the text, or fails after [`TIMEOUT`].
    async fn until(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let body = self.scrape().await;
            if done(&body) {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "{what} within {TIMEOUT:?}:\n{body}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn sample(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

fn revision(app: &App) -> String {
    app.status
        .as_ref()
        .and_then(|s| s.current_revision.clone())
        .must_some("current revision")
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a cluster: run by the api tier"]
async fn per_app_metrics_follow_rollouts_rollbacks_and_deletion() {
    let env = Env::start("app-metrics", 8).await;
    let scraper = Scraper::start(env.metrics()).await;
    let apps = env.ns.api::<App>();
    let ns = env.ns.name().to_string();
    let of_app = format!("namespace=\"{ns}\",app=\"web\"");
    let condition =
        |type_: &str| format!("readyroll_app_condition{{{of_app},condition=\"{type_}\"}}");
    let info = |revision: &str| format!("readyroll_app_info{{{of_app},revision=\"{revision}\"}}");
    let rollouts = format!("readyroll_app_rollout_duration_seconds_count{{{of_app}}}");
    let rollbacks = format!("readyroll_app_rollbacks_total{{{of_app}}}");

    // The first rollout: from no pods to two Ready ones.
    let mut web = env.app("web", 2);
    web.spec.rollout = Some(RolloutSpec {
        progress_deadline_seconds: Some(10),
        ..Default::default()
    });
    env.apply(&web).await;
    let first = revision(
        &wait_for(&apps, "web", app_status(rolled_out), TIMEOUT)
            .await
            .must("first revision rolled out"),
    );
    let body = scraper
        .until("the first rollout timed", |b| {
            sample(b, &rollouts) == Some(1.0)
        })
        .await;
    assert_eq!(sample(&body, &info(&first)), Some(1.0), "{body}");
    assert_eq!(sample(&body, &condition("Ready")), Some(1.0));
    assert_eq!(sample(&body, &condition("Available")), Some(1.0));
    assert_eq!(sample(&body, &condition("Degraded")), Some(0.0));
    assert_eq!(sample(&body, &condition("Reconciling")), Some(0.0));
    assert_eq!(sample(&body, &rollbacks), Some(0.0));
    let first_took = sample(
        &body,
        &format!("readyroll_app_rollout_duration_seconds_sum{{{of_app}}}"),
    )
    .must_some("rollout duration sum");
    assert!(
        first_took > 0.0 && first_took < TIMEOUT.as_secs_f64(),
        "{first_took}"
    );

    // A second revision: the info series moves to it, a second rollout is timed.
    web.spec.env.insert("RELEASE".into(), "2".into());
    env.apply(&web).await;
    let second = revision(
        &wait_for(
            &apps,
            "web",
            app_status(|a| rolled_out(a) && revision(a) != first),
            TIMEOUT,
        )
        .await
        .must("second revision rolled out"),
    );
    let body = scraper
        .until("the second rollout timed", |b| {
            sample(b, &rollouts) == Some(2.0)
        })
        .await;
    assert_eq!(sample(&body, &info(&second)), Some(1.0), "{body}");
    assert_eq!(
        sample(&body, &info(&first)),
        None,
        "old revision's info gone"
    );
    let both_took = sample(
        &body,
        &format!("readyroll_app_rollout_duration_seconds_sum{{{of_app}}}"),
    )
    .must_some("rollout duration sum");
    eprintln!(
        "rollout durations: first {first_took:.2}s, second {:.2}s",
        both_took - first_took
    );

    // A release that never gets Ready: Degraded, rolled back once.
    web.spec
        .annotations
        .insert(NEVER_READY_ANNOTATION.into(), "true".into());
    env.apply(&web).await;
    let body = scraper
        .until("the rollback counted", |b| {
            sample(b, &rollbacks) == Some(1.0) && sample(b, &condition("Degraded")) == Some(1.0)
        })
        .await;
    assert_eq!(sample(&body, &condition("Stalled")), Some(1.0), "{body}");
    assert_eq!(sample(&body, &condition("Ready")), Some(0.0));
    assert_eq!(
        sample(&body, &rollouts),
        Some(2.0),
        "a failed rollout is not timed"
    );
    assert_eq!(scraper.sample("readyroll_rollbacks_total").await, Some(1.0));

    // Deleted: every series of the App goes, the controller's own stay.
    apps.delete("web", &DeleteParams::default())
        .await
        .must("delete the App");
    let body = scraper
        .until("the App's series removed", |b| !b.contains(&of_app))
        .await;
    assert_eq!(
        sample(&body, "readyroll_rollouts_failed_total"),
        Some(1.0),
        "{body}"
    );
    assert!(
        sample(&body, "readyroll_reconciliations_total{result=\"success\"}")
            .is_some_and(|n| n > 0.0),
        "{body}"
    );
}
