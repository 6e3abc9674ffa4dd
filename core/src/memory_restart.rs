//! PM2's `max_memory_restart` as the runtime shim does it: above the
//! threshold the shim drains, stops the app gracefully and exits with
//! [`MEMORY_RESTART_EXIT_CODE`], leaving a termination message that starts
//! with [`MEMORY_RESTART_PREFIX`]; the kubelet restarts the container. The
//! Pod status keeps the last termination, which is how a memory restart is
//! told from a crash: it is counted in `status.memoryRestarts` (and an
//! Event), not against `maxRestarts`, as PM2 does not count it as a crash.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
pub use readyroll_shim_contract::{MEMORY_RESTART_EXIT_CODE, MEMORY_RESTART_PREFIX};

use crate::build::APP_CONTAINER;

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

/// How many of `pods` had a memory restart as their app container's last
/// restart: 0 or 1 per pod, since a Pod status keeps one termination.
pub fn memory_restarts(pods: &[Pod]) -> u32 {
    let count = pods.iter().filter_map(memory_restart).count();
    u32::try_from(count).unwrap_or(u32::MAX)
}

/// The app container's restarts that count against `maxRestarts`: its
/// restart count without a last restart that was a memory restart.
pub fn crash_restarts(pod: &Pod) -> i32 {
    let restarts = app_container(pod).map_or(0, |c| c.restart_count);
    match memory_restart(pod) {
        Some(_) => restarts.saturating_sub(1).max(0),
        None => restarts,
    }
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

    #[test]
    fn counted_apart_from_crashes() {
        let pods = [
            pod("app", 3, 75, Some(SHIM_MESSAGE)),
            pod("app", 2, 1, Some("crash")),
            Pod::default(),
        ];
        assert_eq!(memory_restarts(&pods), 1);
        assert_eq!(crash_restarts(&pods[0]), 2);
        assert_eq!(crash_restarts(&pods[1]), 2);
        assert_eq!(crash_restarts(&pods[2]), 0);
    }
}
