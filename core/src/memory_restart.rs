//! PM2's `max_memory_restart` as the runtime shim does it: above the
//! threshold the shim drains, stops the app gracefully and exits with
//! [`MEMORY_RESTART_EXIT_CODE`], leaving a termination message that starts
//! with [`MEMORY_RESTART_PREFIX`]; the kubelet restarts the container. The
//! Pod status keeps the last termination, which is how a memory restart is
//! told from a crash: it is counted in `status.memoryRestarts` (and an
//! Event), not against `maxRestarts`, as PM2 does not count it as a crash.
//!
//! Counting across reconciles: a Pod status shows only the last
//! termination, and many reconciles see the same one. So the status keeps,
//! per current pod (by uid), the app container's restart count at the last
//! memory restart counted and how many were counted ([`tally`]). A memory
//! restart at a higher restart count is a new one; one at the same count was
//! counted already. The per-pod count is what is taken off the pod's
//! restart count before it is held against `maxRestarts`, so a pod that is
//! memory-restarted again and again never fails its rollout. Should two
//! restarts happen between two looks, only the last is known: it is counted
//! as a memory restart, the one before as a crash (the safe side).

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
pub use readyroll_shim_contract::{MEMORY_RESTART_EXIT_CODE, MEMORY_RESTART_PREFIX};

use crate::build::APP_CONTAINER;
use crate::crd::{AppStatus, LastMemoryRestart, PodMemoryRestarts};
use crate::notes::Note;
use crate::observed::PodRestarts;
use crate::reason;

/// The last restart of a pod's app container, when it was a memory restart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryRestart {
    /// The pod's name.
    pub pod: String,
    /// The pod's uid: with `restart_count`, identifies this restart, so a
    /// caller counting across reconciles counts each once.
    pub pod_uid: Option<String>,
    /// The app container's restart count, this restart included.
    pub restart_count: i32,
    /// When the app exited.
    pub finished_at: Option<Timestamp>,
    /// The shim's termination message (`readyroll-shim: memory restart:
    /// rss_bytes=N threshold_bytes=M`).
    pub message: String,
}

/// The pod's app container's last termination, if it was a memory restart.
pub fn memory_restart(pod: &Pod) -> Option<MemoryRestart> {
    let container = app_container(pod)?;
    let terminated = container.last_state.as_ref()?.terminated.as_ref()?;
    let message = terminated.message.as_deref()?;
    (terminated.exit_code == MEMORY_RESTART_EXIT_CODE && message.starts_with(MEMORY_RESTART_PREFIX))
        .then(|| MemoryRestart {
            pod: pod.metadata.name.clone().unwrap_or_default(),
            pod_uid: pod.metadata.uid.clone(),
            restart_count: container.restart_count,
            finished_at: terminated.finished_at.as_ref().map(|t| t.0),
            message: message.lines().next().unwrap_or(message).to_string(),
        })
}

/// The memory restarts of a reconcile: the status fields and the restarts
/// seen for the first time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// `status.memoryRestarts`.
    pub total: Option<i32>,
    /// `status.lastMemoryRestart`.
    pub last: Option<LastMemoryRestart>,
    /// `status.memoryRestartsByPod`: current pods only, by pod name.
    pub by_pod: Vec<PodMemoryRestarts>,
    /// The memory restarts not counted before, one Event each.
    pub new: Vec<MemoryRestart>,
}

/// Counts the memory restarts `pods` show that `previous` (the App's
/// status) has not counted yet.
pub fn tally(previous: &AppStatus, pods: &[PodRestarts]) -> Tally {
    let mut by_pod = Vec::new();
    let mut new = Vec::new();
    for pod in pods {
        let Some(uid) = pod.uid.as_deref() else {
            continue;
        };
        let counted = previous
            .memory_restarts_by_pod
            .iter()
            .find(|m| m.uid == uid);
        let fresh = pod
            .memory_restart
            .as_ref()
            .filter(|r| counted.is_none_or(|c| r.restart_count > c.restart_count));
        match (fresh, counted) {
            (Some(restart), _) => {
                by_pod.push(PodMemoryRestarts {
                    pod: pod.name.clone(),
                    uid: uid.to_string(),
                    restart_count: restart.restart_count,
                    count: counted.map_or(0, |c| c.count).saturating_add(1),
                });
                new.push(restart.clone());
            }
            (None, Some(counted)) => by_pod.push(counted.clone()),
            (None, None) => {}
        }
    }
    by_pod.sort_by(|a, b| a.pod.cmp(&b.pod).then_with(|| a.uid.cmp(&b.uid)));
    new.sort_by_key(|r| r.finished_at);
    let added = i32::try_from(new.len()).unwrap_or(i32::MAX);
    let total = match added {
        0 => previous.memory_restarts,
        n => Some(previous.memory_restarts.unwrap_or(0).saturating_add(n)),
    };
    let last = new
        .last()
        .map(|r| LastMemoryRestart {
            pod: r.pod.clone(),
            at: r.finished_at.map(|t| t.to_string()),
            message: r.message.clone(),
        })
        .or_else(|| previous.last_memory_restart.clone());
    Tally {
        total,
        last,
        by_pod,
        new,
    }
}

/// The Event for one memory restart.
pub fn note(restart: &MemoryRestart) -> Note {
    let measured = restart
        .message
        .strip_prefix(MEMORY_RESTART_PREFIX)
        .unwrap_or(&restart.message)
        .trim();
    Note::warning(
        reason::MEMORY_RESTART,
        format!(
            "pod {}: the app used more memory than maxMemoryRestart ({measured}) and was restarted gracefully (restart {}); memory restarts do not count against maxRestarts",
            restart.pod, restart.restart_count
        ),
    )
}

fn app_container(pod: &Pod) -> Option<&ContainerStatus> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .find(|c| c.name == APP_CONTAINER)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{ContainerState, ContainerStateTerminated, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

    use super::*;

    fn pod(container: &str, restarts: i32, exit_code: i32, message: Option<&str>) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some("web-1".into()),
                uid: Some("u1".into()),
                ..Default::default()
            },
            spec: None,
            status: Some(PodStatus {
                container_statuses: Some(vec![ContainerStatus {
                    name: container.into(),
                    restart_count: restarts,
                    last_state: Some(ContainerState {
                        terminated: Some(ContainerStateTerminated {
                            exit_code,
                            message: message.map(Into::into),
                            finished_at: Some(Time("2026-01-01T12:00:00Z".parse().unwrap())),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
        }
    }

    const SHIM_MESSAGE: &str =
        "readyroll-shim: memory restart: rss_bytes=320000000 threshold_bytes=314572800\n";

    #[test]
    fn exit_75_with_the_shims_message_is_a_memory_restart() {
        let cases = [
            (
                "the shim's restart",
                pod("app", 3, 75, Some(SHIM_MESSAGE)),
                true,
            ),
            (
                "exit 75, another message",
                pod("app", 3, 75, Some("bye")),
                false,
            ),
            ("exit 75, no message", pod("app", 3, 75, None), false),
            (
                "the message, another exit",
                pod("app", 3, 137, Some(SHIM_MESSAGE)),
                false,
            ),
            (
                "another container",
                pod("sidecar", 3, 75, Some(SHIM_MESSAGE)),
                false,
            ),
        ];
        for (what, pod, expected) in cases {
            assert_eq!(memory_restart(&pod).is_some(), expected, "{what}");
        }
        let restart = memory_restart(&pod("app", 3, 75, Some(SHIM_MESSAGE))).unwrap();
        assert_eq!(
            restart,
            MemoryRestart {
                pod: "web-1".into(),
                pod_uid: Some("u1".into()),
                restart_count: 3,
                finished_at: Some("2026-01-01T12:00:00Z".parse().unwrap()),
                message: SHIM_MESSAGE.trim_end().into(),
            }
        );
    }

    fn observed(pod: &Pod) -> PodRestarts {
        PodRestarts::from_pod(pod)
    }

    fn with_uid(mut pod: Pod, uid: &str) -> Pod {
        pod.metadata.uid = Some(uid.into());
        pod
    }

    #[test]
    fn each_memory_restart_is_counted_once() {
        let first = [observed(&pod("app", 1, 75, Some(SHIM_MESSAGE)))];
        let once = tally(&AppStatus::default(), &first);
        assert_eq!(once.total, Some(1));
        assert_eq!(once.new.len(), 1);
        assert_eq!(
            once.by_pod,
            [PodMemoryRestarts {
                pod: "web-1".into(),
                uid: "u1".into(),
                restart_count: 1,
                count: 1,
            }]
        );
        assert_eq!(
            once.last,
            Some(LastMemoryRestart {
                pod: "web-1".into(),
                at: Some("2026-01-01T12:00:00Z".into()),
                message: SHIM_MESSAGE.trim_end().into(),
            })
        );
        let status = AppStatus {
            memory_restarts: once.total,
            last_memory_restart: once.last.clone(),
            memory_restarts_by_pod: once.by_pod.clone(),
            ..Default::default()
        };

        let again = tally(&status, &first);
        assert_eq!((again.total, again.new.len()), (Some(1), 0), "seen before");
        assert_eq!(again.by_pod, once.by_pod);
        assert_eq!(again.last, once.last);

        let next = [observed(&pod("app", 2, 75, Some(SHIM_MESSAGE)))];
        let twice = tally(&status, &next);
        assert_eq!((twice.total, twice.new.len()), (Some(2), 1));
        assert_eq!(twice.by_pod[0].count, 2);
        assert_eq!(twice.by_pod[0].restart_count, 2);

        // A crash after the memory restart: the count stays, still subtracted.
        let crashed = [observed(&pod("app", 3, 1, Some("crash")))];
        let after_crash = tally(&status, &crashed);
        assert_eq!((after_crash.total, after_crash.new.len()), (Some(1), 0));
        assert_eq!(after_crash.by_pod, once.by_pod);
        assert_eq!(crashed[0].crash_restarts(after_crash.by_pod[0].count), 2);

        // The same name with a new uid is another pod.
        let recreated = [observed(&with_uid(
            pod("app", 1, 75, Some(SHIM_MESSAGE)),
            "u2",
        ))];
        let other = tally(&status, &recreated);
        assert_eq!((other.total, other.new.len()), (Some(2), 1));
        assert_eq!(other.by_pod.len(), 1, "the gone pod's record is dropped");
        assert_eq!(other.by_pod[0].uid, "u2");
    }

    #[test]
    fn crashes_and_pods_without_restarts_count_nothing() {
        let pods = [
            observed(&pod("app", 2, 1, Some("crash"))),
            observed(&Pod::default()),
        ];
        let none = tally(&AppStatus::default(), &pods);
        assert_eq!(none, Tally::default());
        assert_eq!(pods[0].crash_restarts(0), 2);
        assert_eq!(pods[1].crash_restarts(0), 0);
    }

    #[test]
    fn memory_restarts_are_not_crashes() {
        let mut repeated = observed(&pod("app", 20, 75, Some(SHIM_MESSAGE)));
        assert_eq!(repeated.crash_restarts(20), 0);
        assert_eq!(repeated.crash_restarts(25), 0, "never below zero");
        repeated.other_restarts = 4;
        assert_eq!(repeated.crash_restarts(20), 4, "a sidecar's crashes stay");
    }

    #[test]
    fn the_event_says_what_was_measured() {
        let restart = memory_restart(&pod("app", 3, 75, Some(SHIM_MESSAGE))).unwrap();
        let note = note(&restart);
        assert!(note.warning);
        assert_eq!(note.reason, reason::MEMORY_RESTART);
        assert_eq!(
            note.message,
            "pod web-1: the app used more memory than maxMemoryRestart (rss_bytes=320000000 threshold_bytes=314572800) and was restarted gracefully (restart 3); memory restarts do not count against maxRestarts"
        );
    }
}
