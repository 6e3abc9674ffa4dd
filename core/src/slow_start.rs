//! PM2's `listen_timeout` as readyroll reads it: the time a new pod is
//! expected to take to become ready. A pod of the desired revision whose
//! app container has run longer than that without becoming ready is a slow
//! start. It is reported (`Progressing` with reason `SlowStart`, and one
//! Event per pod and container start), never restarted for it; the old pods
//! keep serving, and the rollout's progress deadline, derived from
//! `listenTimeout`, decides whether the release has failed.
//!
//! Which starts were reported lives in `status.slowStarts`, so an Event is
//! sent once, not on every reconcile. The plan asks to be woken when the
//! next starting pod crosses `listenTimeout`: a slow start is reported on
//! time even when nothing else changes.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;

use crate::build::{SpecError, APP_CONTAINER};
use crate::crd::{App, SlowStartRecord};
use crate::notes::Note;
use crate::observed::PodRestarts;
use crate::reason;

/// Pods named in a condition message; the rest are counted.
const NAMED_PODS: usize = 3;

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

/// When the pod's app container started, if it is running and not ready
/// and the pod is neither terminating nor finished. Containers that are not
/// running (waiting, crash-looping) are left out: those are restarts, not
/// slow starts.
pub fn unready_since(pod: &Pod) -> Option<Timestamp> {
    if pod.metadata.deletion_timestamp.is_some() {
        return None;
    }
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
    Some(
        container
            .state
            .as_ref()?
            .running
            .as_ref()?
            .started_at
            .as_ref()?
            .0,
    )
}

/// Pods of `revision` whose app container started, unready, more than
/// `listen_timeout` before `now`; sorted by pod name.
pub fn slow_starts(
    pods: &[PodRestarts],
    revision: &str,
    listen_timeout: Duration,
    now: Timestamp,
) -> Vec<SlowStart> {
    let mut slow: Vec<SlowStart> = starting(pods, revision, now)
        .filter(|(_, _, not_ready_for)| *not_ready_for > listen_timeout)
        .map(|(pod, started_at, not_ready_for)| SlowStart {
            pod: pod.name.clone(),
            started_at,
            not_ready_for,
        })
        .collect();
    slow.sort_by(|a, b| a.pod.cmp(&b.pod));
    slow
}

/// How long until the next pod of `revision` that is starting now crosses
/// `listen_timeout`, if one is: the plan wakes then, so the slow start is
/// reported on time without a watch event. The extra millisecond puts the
/// wake-up strictly past the timeout.
pub fn next_crossing(
    pods: &[PodRestarts],
    revision: &str,
    listen_timeout: Duration,
    now: Timestamp,
) -> Option<Duration> {
    starting(pods, revision, now)
        .filter(|(_, _, not_ready_for)| *not_ready_for <= listen_timeout)
        .map(|(_, _, not_ready_for)| listen_timeout - not_ready_for + Duration::from_millis(1))
        .min()
}

/// Pods of `revision` that are starting, with when and for how long at
/// `now`. A start in the future (clock skew) counts as just begun.
fn starting<'a>(
    pods: &'a [PodRestarts],
    revision: &'a str,
    now: Timestamp,
) -> impl Iterator<Item = (&'a PodRestarts, Timestamp, Duration)> + 'a {
    pods.iter()
        .filter(move |pod| pod.revision.as_deref() == Some(revision))
        .filter_map(move |pod| {
            let started_at = pod.unready_since?;
            let not_ready_for =
                Duration::try_from(now.duration_since(started_at)).unwrap_or(Duration::ZERO);
            Some((pod, started_at, not_ready_for))
        })
}

/// What a reconcile reports about slow starts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// `status.slowStarts`: the slow starts now.
    pub records: Vec<SlowStartRecord>,
    /// The `Progressing` message while any pod is slow.
    pub message: Option<String>,
    /// One Event per slow start not reported before.
    pub notes: Vec<Note>,
    /// When the next starting pod crosses `listenTimeout`.
    pub wake_in: Option<Duration>,
}

/// The report for `revision`'s pods, given the slow starts already reported
/// (`previous`, from the status) and the progress deadline (seconds), which
/// the messages name because it decides what happens next.
pub fn report(
    previous: &[SlowStartRecord],
    pods: &[PodRestarts],
    revision: &str,
    listen_timeout: Duration,
    progress_deadline: Option<i32>,
    now: Timestamp,
) -> Report {
    let slow = slow_starts(pods, revision, listen_timeout, now);
    let records: Vec<SlowStartRecord> = slow.iter().map(record).collect();
    let notes = slow
        .iter()
        .zip(&records)
        .filter(|(_, r)| !previous.contains(r))
        .map(|(s, _)| {
            Note::warning(
                reason::SLOW_START,
                note(s, listen_timeout, progress_deadline),
            )
        })
        .collect();
    Report {
        message: message(&slow, listen_timeout, progress_deadline),
        records,
        notes,
        wake_in: next_crossing(pods, revision, listen_timeout, now),
    }
}

fn record(slow: &SlowStart) -> SlowStartRecord {
    SlowStartRecord {
        pod: slow.pod.clone(),
        started_at: slow.started_at.to_string(),
    }
}

/// The Event for one slow start, with how long the pod has been unready at
/// the moment it is reported, e.g. `pod web-1 not ready 3.0 s after its
/// container started (listenTimeout 3000 ms); it is not restarted: the old
/// pods keep serving until it is ready or the progress deadline (64 s)
/// passes`.
pub fn note(slow: &SlowStart, listen_timeout: Duration, progress_deadline: Option<i32>) -> String {
    format!(
        "pod {} not ready {:.1} s after its container started (listenTimeout {} ms); it is not restarted: {}",
        slow.pod,
        slow.not_ready_for.as_secs_f64(),
        listen_timeout.as_millis(),
        outcome(progress_deadline)
    )
}

/// The `Progressing` message for the slow starts. It names the pods and
/// when they started rather than a running duration, so it stays the same
/// from one reconcile to the next and does not rewrite the status, e.g.
/// `pod web-1 (started 2026-01-01T12:00:02Z) not ready after listenTimeout
/// 3000 ms; ...`.
pub fn message(
    slow: &[SlowStart],
    listen_timeout: Duration,
    progress_deadline: Option<i32>,
) -> Option<String> {
    if slow.is_empty() {
        return None;
    }
    let mut named: Vec<String> = slow
        .iter()
        .take(NAMED_PODS)
        .map(|s| format!("{} (started {})", s.pod, s.started_at))
        .collect();
    if slow.len() > NAMED_PODS {
        named.push(format!("{} more", slow.len() - NAMED_PODS));
    }
    let pods = if slow.len() == 1 { "pod" } else { "pods" };
    Some(format!(
        "{pods} {} not ready after listenTimeout {} ms; not restarted: {}",
        named.join(", "),
        listen_timeout.as_millis(),
        outcome(progress_deadline)
    ))
}

fn outcome(progress_deadline: Option<i32>) -> String {
    let deadline = progress_deadline
        .map(|s| format!("the progress deadline ({s} s)"))
        .unwrap_or_else(|| "the progress deadline".to_string());
    format!("the old pods keep serving until it is ready or {deadline} passes")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::core::v1::{
        ContainerState, ContainerStateRunning, ContainerStateWaiting, ContainerStatus, PodStatus,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

    use super::*;
    use crate::build::REVISION_ANNOTATION;

    const NOW: &str = "2026-01-01T12:00:10Z";
    const THREE: Duration = Duration::from_millis(3000);

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

    fn observed(pods: &[Pod]) -> Vec<PodRestarts> {
        pods.iter().map(PodRestarts::from_pod).collect()
    }

    fn names(pods: &[Pod], listen: Duration) -> Vec<String> {
        slow_starts(&observed(pods), "new", listen, at(NOW))
            .into_iter()
            .map(|s| s.pod)
            .collect()
    }

    #[test]
    fn only_unready_running_pods_of_the_revision_past_the_timeout() {
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
            let got = names(std::slice::from_ref(&pod), THREE);
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

    fn three_pods() -> Vec<PodRestarts> {
        observed(&[
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
        ])
    }

    #[test]
    fn sorted_with_how_long_and_a_message_that_does_not_tick() {
        let slow = slow_starts(&three_pods(), "new", THREE, at(NOW));
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
            message(&slow, THREE, Some(64)).unwrap(),
            "pods web-a (started 2026-01-01T12:00:02Z), web-b (started 2026-01-01T12:00:00Z), web-c (started 2026-01-01T12:00:05Z) not ready after listenTimeout 3000 ms; not restarted: the old pods keep serving until it is ready or the progress deadline (64 s) passes"
        );
        let later = slow_starts(&three_pods(), "new", THREE, at("2026-01-01T12:00:30Z"));
        assert_eq!(
            message(&later, THREE, Some(64)),
            message(&slow, THREE, Some(64)),
            "the same slow starts, the same message"
        );
        assert_eq!(
            note(&slow[0], THREE, Some(64)),
            "pod web-a not ready 8.0 s after its container started (listenTimeout 3000 ms); it is not restarted: the old pods keep serving until it is ready or the progress deadline (64 s) passes"
        );
        assert_eq!(message(&[], THREE, None), None);
        let many: Vec<SlowStart> = (0..5)
            .map(|i| SlowStart {
                pod: format!("p{i}"),
                ..slow[0].clone()
            })
            .collect();
        let text = message(&many, THREE, None).unwrap();
        assert!(
            text.contains("p2 (started") && text.contains(", 2 more not ready"),
            "{text}"
        );
        assert!(!text.contains("p3"), "{text}");
    }

    #[test]
    fn wakes_when_the_next_starting_pod_crosses_the_timeout() {
        let pods = three_pods();
        let now = at("2026-01-01T12:00:01Z");
        // web-b started 1 s ago, web-a 1 s from now (clock skew: just begun),
        // web-c in 4 s; the first to cross is web-b, 2 s from now.
        assert_eq!(
            next_crossing(&pods, "new", THREE, now),
            Some(Duration::from_millis(2001))
        );
        // At 12:00:04 web-b is slow; web-a crosses 1 s later.
        assert_eq!(
            next_crossing(&pods, "new", THREE, at("2026-01-01T12:00:04Z")),
            Some(Duration::from_millis(1001))
        );
        assert_eq!(next_crossing(&pods, "new", THREE, at(NOW)), None);
        assert_eq!(next_crossing(&pods, "other", THREE, now), None);
    }

    #[test]
    fn each_start_is_reported_once() {
        let pods = three_pods();
        let first = report(&[], &pods, "new", THREE, None, at("2026-01-01T12:00:06Z"));
        let reported: Vec<&str> = first.notes.iter().map(|n| n.reason).collect();
        assert_eq!(reported, [reason::SLOW_START, reason::SLOW_START]);
        assert!(first.notes.iter().all(|n| n.warning));
        assert_eq!(
            first.records,
            [
                SlowStartRecord {
                    pod: "web-a".into(),
                    started_at: "2026-01-01T12:00:02Z".into()
                },
                SlowStartRecord {
                    pod: "web-b".into(),
                    started_at: "2026-01-01T12:00:00Z".into()
                },
            ]
        );
        assert_eq!(first.wake_in, Some(Duration::from_millis(2001)), "web-c");

        let second = report(&first.records, &pods, "new", THREE, None, at(NOW));
        assert_eq!(
            second.notes.len(),
            1,
            "only web-c is new: {:?}",
            second.notes
        );
        assert!(second.notes[0].message.starts_with("pod web-c "));
        assert_eq!(second.wake_in, None);

        // web-a's container restarted: a new start, reported again.
        let mut restarted = pods.clone();
        restarted[1].unready_since = Some(at("2026-01-01T12:00:05Z"));
        let third = report(&second.records, &restarted, "new", THREE, None, at(NOW));
        assert_eq!(third.notes.len(), 1);
        assert!(third.notes[0].message.starts_with("pod web-a "));

        let none = report(&third.records, &[], "new", THREE, None, at(NOW));
        assert_eq!(none, Report::default());
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
