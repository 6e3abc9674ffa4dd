//! PM2's `listen_timeout` as readyroll reads it: the time a new pod is
//! expected to take to become ready. A pod of the desired revision whose
//! app container has run longer than that without becoming ready is a slow
//! start. It is reported (`Progressing` with reason `SlowStart`, and an
//! Event), never restarted for it; the old pods keep serving, and the
//! rollout's progress deadline, derived from `listenTimeout`, decides
//! whether the release has failed.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;

use crate::build::{SpecError, APP_CONTAINER, REVISION_ANNOTATION};
use crate::crd::App;

/// One pod that is slower to become ready than `listenTimeout`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlowStart {
    /// The pod's name.
    pub pod: String,
    /// When its app container (last) started.
    pub started_at: Timestamp,
    /// How long it has been running without being ready, at `now`.
    pub not_ready_for: Duration,
}

/// The App's `listenTimeout` with PM2's default applied (0 or unset: 3 s).
pub fn listen_timeout(app: &App) -> Result<Duration, SpecError> {
    let ms = crate::build::listen_timeout_ms(&app.spec)?;
    Ok(Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
}

/// Pods of `revision` (their `readyroll.dev/revision` annotation) whose app
/// container is running, not ready, and started more than `listen_timeout`
/// before `now`; sorted by pod name. Terminating and finished pods are left
/// out, and so are containers that are not running (waiting, crash-looping:
/// those are restarts, not slow starts).
pub fn slow_starts(
    pods: &[Pod],
    revision: &str,
    listen_timeout: Duration,
    now: Timestamp,
) -> Vec<SlowStart> {
    let mut slow: Vec<SlowStart> = pods
        .iter()
        .filter(|pod| of_revision(pod, revision) && !terminating(pod))
        .filter_map(|pod| {
            let status = pod.status.as_ref()?;
            if matches!(status.phase.as_deref(), Some("Succeeded" | "Failed")) {
                return None;
            }
            let container = status
                .container_statuses
                .as_ref()?
                .iter()
                .find(|c| c.name == APP_CONTAINER)?;
            if container.ready {
                return None;
            }
            let started_at = container
                .state
                .as_ref()?
                .running
                .as_ref()?
                .started_at
                .as_ref()?
                .0;
            let not_ready_for = Duration::try_from(now.duration_since(started_at)).ok()?;
            (not_ready_for > listen_timeout).then(|| SlowStart {
                pod: pod.metadata.name.clone().unwrap_or_default(),
                started_at,
                not_ready_for,
            })
        })
        .collect();
    slow.sort_by(|a, b| a.pod.cmp(&b.pod));
    slow
}

/// A condition message or Event note for the slow starts, e.g. `pod web-1
/// not ready 8 s after its container started (listenTimeout 3000 ms); the
/// old pods keep serving until it is ready or the progress deadline
/// passes`.
pub fn message(slow: &[SlowStart], listen_timeout: Duration) -> Option<String> {
    let first = slow.first()?;
    let others = match slow.len() {
        1 => String::new(),
        2 => " and 1 more pod".to_string(),
        n => format!(" and {} more pods", n - 1),
    };
    Some(format!(
        "pod {}{others} not ready {} s after its container started (listenTimeout {} ms); the old pods keep serving until it is ready or the progress deadline passes",
        first.pod,
        first.not_ready_for.as_secs(),
        listen_timeout.as_millis()
    ))
}

fn of_revision(pod: &Pod, revision: &str) -> bool {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(REVISION_ANNOTATION))
        .is_some_and(|r| r == revision)
}

fn terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::core::v1::{
        ContainerState, ContainerStateRunning, ContainerStateWaiting, ContainerStatus, PodStatus,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

    use super::*;

    const NOW: &str = "2026-01-01T12:00:10Z";

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    enum State {
        Running(&'static str),
        Waiting,
    }

    fn pod(name: &str, revision: &str, ready: bool, state: State) -> Pod {
        let state = match state {
            State::Running(started) => ContainerState {
                running: Some(ContainerStateRunning {
                    started_at: Some(Time(at(started))),
                }),
                ..Default::default()
            },
            State::Waiting => ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some("CrashLoopBackOff".into()),
                    message: None,
                }),
                ..Default::default()
            },
        };
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                annotations: Some(BTreeMap::from([(
                    REVISION_ANNOTATION.to_string(),
                    revision.to_string(),
                )])),
                ..Default::default()
            },
            spec: None,
            status: Some(PodStatus {
                phase: Some("Running".into()),
                container_statuses: Some(vec![ContainerStatus {
                    name: APP_CONTAINER.into(),
                    ready,
                    state: Some(state),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
        }
    }

    fn names(pods: &[Pod], listen: Duration) -> Vec<String> {
        slow_starts(pods, "new", listen, at(NOW))
            .into_iter()
            .map(|s| s.pod)
            .collect()
    }

    #[test]
    fn only_unready_running_pods_of_the_revision_past_the_timeout() {
        let three = Duration::from_millis(3000);
        let cases: Vec<(&str, Pod, bool)> = vec![
            (
                "8 s unready",
                pod("a", "new", false, State::Running("2026-01-01T12:00:02Z")),
                true,
            ),
            (
                "just past",
                pod(
                    "b",
                    "new",
                    false,
                    State::Running("2026-01-01T12:00:06.999Z"),
                ),
                true,
            ),
            (
                "exactly the timeout",
                pod("c", "new", false, State::Running("2026-01-01T12:00:07Z")),
                false,
            ),
            (
                "within the timeout",
                pod("d", "new", false, State::Running("2026-01-01T12:00:09Z")),
                false,
            ),
            (
                "ready",
                pod("e", "new", true, State::Running("2026-01-01T11:00:00Z")),
                false,
            ),
            (
                "old revision",
                pod("f", "old", false, State::Running("2026-01-01T11:00:00Z")),
                false,
            ),
            ("not running", pod("g", "new", false, State::Waiting), false),
            (
                "started in the future",
                pod("h", "new", false, State::Running("2026-01-01T12:01:00Z")),
                false,
            ),
        ];
        for (what, pod, slow) in cases {
            let got = names(std::slice::from_ref(&pod), three);
            assert_eq!(!got.is_empty(), slow, "{what}");
        }
    }

    #[test]
    fn terminating_finished_and_statusless_pods_are_not_slow() {
        let started = State::Running("2026-01-01T11:00:00Z");
        let mut terminating = pod("a", "new", false, started);
        terminating.metadata.deletion_timestamp = Some(Time(at(NOW)));
        let mut failed = pod("b", "new", false, State::Running("2026-01-01T11:00:00Z"));
        failed.status.as_mut().unwrap().phase = Some("Failed".into());
        let mut statusless = pod("c", "new", false, State::Running("2026-01-01T11:00:00Z"));
        statusless.status = None;
        let mut unannotated = pod("d", "new", false, State::Running("2026-01-01T11:00:00Z"));
        unannotated.metadata.annotations = None;
        let pods = [terminating, failed, statusless, unannotated];
        assert!(names(&pods, Duration::from_secs(1)).is_empty());
    }

    #[test]
    fn sorted_with_how_long_and_a_message() {
        let pods = [
            pod(
                "web-b",
                "new",
                false,
                State::Running("2026-01-01T12:00:00Z"),
            ),
            pod(
                "web-a",
                "new",
                false,
                State::Running("2026-01-01T12:00:02Z"),
            ),
            pod(
                "web-c",
                "new",
                false,
                State::Running("2026-01-01T12:00:05Z"),
            ),
        ];
        let listen = Duration::from_millis(3000);
        let slow = slow_starts(&pods, "new", listen, at(NOW));
        assert_eq!(
            slow,
            [
                SlowStart {
                    pod: "web-a".into(),
                    started_at: at("2026-01-01T12:00:02Z"),
                    not_ready_for: Duration::from_secs(8),
                },
                SlowStart {
                    pod: "web-b".into(),
                    started_at: at("2026-01-01T12:00:00Z"),
                    not_ready_for: Duration::from_secs(10),
                },
                SlowStart {
                    pod: "web-c".into(),
                    started_at: at("2026-01-01T12:00:05Z"),
                    not_ready_for: Duration::from_secs(5),
                },
            ]
        );
        assert_eq!(
            message(&slow, listen).unwrap(),
            "pod web-a and 2 more pods not ready 8 s after its container started (listenTimeout 3000 ms); the old pods keep serving until it is ready or the progress deadline passes"
        );
        assert_eq!(message(&[], listen), None);
    }

    #[test]
    fn listen_timeout_zero_is_pm2s_default() {
        use crate::crd::AppSpec;
        let app = |listen_timeout| {
            App::new(
                "web",
                AppSpec {
                    image: "x".into(),
                    listen_timeout,
                    ..Default::default()
                },
            )
        };
        assert_eq!(listen_timeout(&app(None)).unwrap(), Duration::from_secs(3));
        assert_eq!(
            listen_timeout(&app(Some(0))).unwrap(),
            Duration::from_secs(3)
        );
        assert_eq!(
            listen_timeout(&app(Some(8000))).unwrap(),
            Duration::from_secs(8)
        );
        assert!(listen_timeout(&app(Some(-1))).is_err());
    }
}
