//! The App's PM2 durations with defaults applied and ranges checked, so the
//! rest of the core can do arithmetic on them without overflow.

use crate::crd::{AppSpec, MAX_DURATION_MS};

use super::defaults;
use super::error::SpecError;

/// Durations in milliseconds, each within `0..=MAX_DURATION_MS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timings {
    pub listen_timeout_ms: i64,
    pub kill_timeout_ms: i64,
    pub min_uptime_ms: i64,
    pub drain_delay_ms: i64,
    /// The longest drain the shim may stretch to; at least `drain_delay_ms`.
    pub drain_max_ms: i64,
}

impl Timings {
    pub fn of(spec: &AppSpec) -> Result<Self, SpecError> {
        let drain = spec.rollout.as_ref().and_then(|r| r.drain_delay_ms);
        let drain_delay_ms = checked(
            "spec.rollout.drainDelayMs",
            drain,
            defaults::DRAIN_DELAY_MS,
            0,
        )?;
        let drain_max = spec.rollout.as_ref().and_then(|r| r.drain_max_ms);
        // Also a CEL rule of the CRD, checked here for Apps admitted before it.
        let drain_max_ms = checked(
            "spec.rollout.drainMaxMs",
            drain_max,
            (drain_delay_ms + defaults::DRAIN_EXTENSION_MS).min(MAX_DURATION_MS),
            drain_delay_ms,
        )?;
        Ok(Timings {
            listen_timeout_ms: pm2_timeout(
                "spec.listenTimeout",
                spec.listen_timeout,
                defaults::LISTEN_TIMEOUT_MS,
            )?,
            kill_timeout_ms: pm2_timeout(
                "spec.killTimeout",
                spec.kill_timeout,
                defaults::KILL_TIMEOUT_MS,
            )?,
            min_uptime_ms: checked(
                "spec.minUptime",
                spec.min_uptime,
                defaults::MIN_UPTIME_MS,
                0,
            )?,
            drain_delay_ms,
            drain_max_ms,
        })
    }
}

/// PM2 reads a `listen_timeout` or `kill_timeout` of 0 as its default.
fn pm2_timeout(field: &str, value: Option<i64>, default: i64) -> Result<i64, SpecError> {
    match checked(field, value, default, 0)? {
        0 => Ok(default),
        ms => Ok(ms),
    }
}

fn checked(field: &str, value: Option<i64>, default: i64, min: i64) -> Result<i64, SpecError> {
    let value = value.unwrap_or(default);
    if (min..=MAX_DURATION_MS).contains(&value) {
        Ok(value)
    } else {
        Err(SpecError::new(
            field,
            format!("{value} ms is outside {min}..={MAX_DURATION_MS} ms"),
        ))
    }
}

/// Milliseconds to whole seconds, rounded up: Kubernetes counts in seconds
/// and a budget must never shrink.
pub fn ceil_seconds(ms: i64) -> i64 {
    (ms.max(0) + 999) / 1000
}

/// [`ceil_seconds`] for `i32` fields; the durations are bounded by one day.
pub fn ceil_seconds_i32(ms: i64) -> i32 {
    i32::try_from(ceil_seconds(ms)).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::RolloutSpec;

    #[test]
    fn defaults_are_pm2s() {
        let t = Timings::of(&AppSpec::default()).unwrap();
        assert_eq!(
            t,
            Timings {
                listen_timeout_ms: 3000,
                kill_timeout_ms: 1600,
                min_uptime_ms: 1000,
                drain_delay_ms: 5000,
                drain_max_ms: 30_000,
            }
        );
    }

    #[test]
    fn the_longest_drain_follows_the_shortest_unless_set() {
        let of = |delay, max| {
            let t = Timings::of(&AppSpec {
                rollout: Some(RolloutSpec {
                    drain_delay_ms: delay,
                    drain_max_ms: max,
                    ..Default::default()
                }),
                ..Default::default()
            })
            .unwrap();
            (t.drain_delay_ms, t.drain_max_ms)
        };
        assert_eq!(of(Some(2000), None), (2000, 27_000));
        assert_eq!(of(Some(2000), Some(2000)), (2000, 2000), "a fixed drain");
        assert_eq!(of(None, Some(60_000)), (5000, 60_000));
        assert_eq!(
            of(Some(MAX_DURATION_MS), None),
            (MAX_DURATION_MS, MAX_DURATION_MS),
            "capped, not overflowing"
        );
    }

    #[test]
    fn zero_timeouts_mean_pm2s_defaults() {
        let t = Timings::of(&AppSpec {
            listen_timeout: Some(0),
            kill_timeout: Some(0),
            min_uptime: Some(0),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(t.listen_timeout_ms, 3000);
        assert_eq!(t.kill_timeout_ms, 1600);
        assert_eq!(t.min_uptime_ms, 0, "min_uptime 0 stays 0");
    }

    #[test]
    fn out_of_range_values_name_their_field() {
        let cases: Vec<(AppSpec, &str)> = vec![
            (
                AppSpec {
                    listen_timeout: Some(-1),
                    ..Default::default()
                },
                "spec.listenTimeout",
            ),
            (
                AppSpec {
                    kill_timeout: Some(-1),
                    ..Default::default()
                },
                "spec.killTimeout",
            ),
            (
                AppSpec {
                    min_uptime: Some(MAX_DURATION_MS + 1),
                    ..Default::default()
                },
                "spec.minUptime",
            ),
            (
                AppSpec {
                    rollout: Some(RolloutSpec {
                        drain_delay_ms: Some(i64::MAX),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                "spec.rollout.drainDelayMs",
            ),
            (
                AppSpec {
                    rollout: Some(RolloutSpec {
                        drain_delay_ms: Some(4000),
                        drain_max_ms: Some(3999),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                "spec.rollout.drainMaxMs",
            ),
        ];
        for (spec, field) in cases {
            assert_eq!(Timings::of(&spec).unwrap_err().field, field);
        }
    }

    #[test]
    fn seconds_round_up() {
        for (ms, s) in [
            (0, 0),
            (1, 1),
            (999, 1),
            (1000, 1),
            (1001, 2),
            (86_400_000, 86_400),
        ] {
            assert_eq!(ceil_seconds(ms), s, "{ms} ms");
        }
    }
}
