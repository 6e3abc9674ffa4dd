//! Stopping a pod without dropping requests: first a pre-stop drain while
//! endpoints and proxies stop routing to it, then the stop signal, then
//! `killTimeout` for the app to exit before the kubelet kills it.

use k8s_openapi::api::core::v1::{Lifecycle, LifecycleHandler, SleepAction};

use super::timings::{ceil_seconds, Timings};

/// `terminationGracePeriodSeconds`: the pre-stop sleep as the kubelet runs
/// it (whole seconds, rounded up) plus the kill timeout rounded up. The
/// kubelet counts the pre-stop hook in the grace period, so rounding the
/// two together would take the drain's rounding out of the kill timeout.
pub fn termination_grace_period_seconds(timings: &Timings) -> i64 {
    drain_seconds(timings) + ceil_seconds(timings.kill_timeout_ms)
}

/// The drain as a native `sleep` can do it: whole seconds, rounded up (a
/// sub-second sleep would need an `exec` of a `sleep` binary, which images
/// built `FROM scratch` do not have).
fn drain_seconds(timings: &Timings) -> i64 {
    ceil_seconds(timings.drain_delay_ms)
}

/// A pre-stop `sleep` for the drain (native since Kubernetes 1.30; no binary
/// or shell needed in the image). `None` when the drain is 0.
pub fn pre_stop(timings: &Timings) -> Option<Lifecycle> {
    (timings.drain_delay_ms > 0).then(|| Lifecycle {
        pre_stop: Some(LifecycleHandler {
            sleep: Some(SleepAction {
                seconds: drain_seconds(timings),
            }),
            ..Default::default()
        }),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timings(drain_delay_ms: i64, kill_timeout_ms: i64) -> Timings {
        Timings {
            listen_timeout_ms: 3000,
            kill_timeout_ms,
            min_uptime_ms: 1000,
            drain_delay_ms,
        }
    }

    fn sleep_seconds(t: &Timings) -> Option<i64> {
        pre_stop(t).map(|l| l.pre_stop.unwrap().sleep.unwrap().seconds)
    }

    #[test]
    fn grace_covers_drain_plus_kill_rounded_up() {
        let cases = [
            ("PM2 defaults", 5000, 1600, 7, Some(5)),
            ("kill 1 ms, no drain", 0, 1, 1, None),
            ("kill 0, drain 0: nothing to wait for", 0, 0, 0, None),
            ("kill 0, drain 1 ms", 1, 0, 1, Some(1)),
            ("sub-second parts round each", 400, 700, 2, Some(1)),
            ("drain rounded up keeps all of kill", 2500, 3200, 7, Some(3)),
            ("sub-second drain, whole kill", 1500, 2000, 4, Some(2)),
            ("whole seconds stay whole", 2000, 3000, 5, Some(2)),
            (
                "one day each",
                86_400_000,
                86_400_000,
                172_800,
                Some(86_400),
            ),
        ];
        for (name, drain, kill, grace, sleep) in cases {
            let t = timings(drain, kill);
            assert_eq!(termination_grace_period_seconds(&t), grace, "{name}");
            assert_eq!(sleep_seconds(&t), sleep, "{name}");
        }
    }

    #[test]
    fn kill_timeout_is_never_shortened_by_the_drains_rounding() {
        for drain in [0, 1, 499, 500, 999, 1000, 2500, 5000, 5001] {
            for kill in [1, 999, 1000, 1600, 3200, 5000] {
                let t = timings(drain, kill);
                let sleep_ms = sleep_seconds(&t).unwrap_or(0) * 1000;
                let grace_ms = termination_grace_period_seconds(&t) * 1000;
                assert!(
                    grace_ms - sleep_ms >= kill,
                    "drain {drain} kill {kill}: {grace_ms} - {sleep_ms} < {kill}"
                );
            }
        }
    }

    #[test]
    fn pre_stop_is_a_native_sleep() {
        let lifecycle = pre_stop(&timings(5000, 1600)).unwrap();
        let handler = lifecycle.pre_stop.unwrap();
        assert!(
            handler.exec.is_none() && handler.http_get.is_none() && handler.tcp_socket.is_none()
        );
        assert!(lifecycle.post_start.is_none());
    }
}
