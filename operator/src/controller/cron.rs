//! `cronRestart`: when the next scheduled rolling restart is due.
//!
//! The restart itself is a template change: the core copies
//! `status.lastCronRestart` into a pod-template annotation, so setting it to
//! "now" rolls every pod the zero-downtime way.

use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;
use k8s_openapi::jiff::tz::TimeZone;
use k8s_openapi::jiff::{Timestamp, Zoned};

/// Where the schedule stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CronPlan {
    /// A restart is due now: `status.lastCronRestart` becomes `now`.
    pub restart_now: bool,
    /// The following due time, for `status.nextCronRestart` and the requeue.
    pub next: Timestamp,
}

/// A cron expression that cannot be used; the message names the field.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("spec.cronRestart: {0}")]
pub struct CronError(String);

/// Parses a schedule of 5 fields, or 6 with seconds first, in UTC.
pub fn parse(expression: &str) -> Result<Cron, CronError> {
    CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build()
        .parse(expression)
        .map_err(|e| CronError(format!("{expression:?} is not a cron expression: {e}")))
}

/// Plans the schedule: a restart is due once `now` has reached the first
/// scheduled time after `since` (the last cron restart, or the App's
/// creation). Missed runs while the operator was away collapse into one.
pub fn plan(expression: &str, since: Timestamp, now: Timestamp) -> Result<CronPlan, CronError> {
    let cron = parse(expression)?;
    let due = next_after(&cron, since)?;
    if now >= due {
        Ok(CronPlan {
            restart_now: true,
            next: next_after(&cron, now)?,
        })
    } else {
        Ok(CronPlan {
            restart_now: false,
            next: due,
        })
    }
}

fn next_after(cron: &Cron, after: Timestamp) -> Result<Timestamp, CronError> {
    let start = Zoned::new(after, TimeZone::UTC);
    cron.find_next_occurrence(&start, false)
        .map(|z| z.timestamp())
        .map_err(|e| {
            CronError(format!(
                "{:?} never fires after {after}: {e}",
                cron.pattern.to_string()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn due_times_follow_the_schedule() {
        let cases = [
            // expression, since, now, restart_now, next
            (
                "0 3 * * *",
                "2030-01-01T00:00:00Z",
                "2030-01-01T02:59:59Z",
                false,
                "2030-01-01T03:00:00Z",
            ),
            (
                "0 3 * * *",
                "2030-01-01T00:00:00Z",
                "2030-01-01T03:00:00Z",
                true,
                "2030-01-02T03:00:00Z",
            ),
            (
                "0 3 * * *",
                "2030-01-01T03:00:00Z",
                "2030-01-01T03:00:05Z",
                false,
                "2030-01-02T03:00:00Z",
            ),
            // Three missed days restart once, then wait for the next slot.
            (
                "0 3 * * *",
                "2030-01-01T00:00:00Z",
                "2030-01-04T12:00:00Z",
                true,
                "2030-01-05T03:00:00Z",
            ),
            // Six fields: seconds first.
            (
                "*/30 * * * * *",
                "2030-01-01T00:00:00Z",
                "2030-01-01T00:00:10Z",
                false,
                "2030-01-01T00:00:30Z",
            ),
            (
                "*/30 * * * * *",
                "2030-01-01T00:00:00Z",
                "2030-01-01T00:00:31Z",
                true,
                "2030-01-01T00:01:00Z",
            ),
        ];
        for (expr, since, now, restart_now, next) in cases {
            let plan = plan(expr, t(since), t(now)).unwrap();
            assert_eq!(
                plan,
                CronPlan {
                    restart_now,
                    next: t(next)
                },
                "{expr} since {since} at {now}"
            );
        }
    }

    #[test]
    fn bad_expressions_name_the_field() {
        for bad in ["", "every day", "61 * * * *", "0 0 * * * * 2030"] {
            let err = plan(bad, t("2030-01-01T00:00:00Z"), t("2030-01-01T00:00:00Z")).unwrap_err();
            assert!(
                err.to_string().starts_with("spec.cronRestart: "),
                "{bad}: {err}"
            );
        }
    }
}
