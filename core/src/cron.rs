//! `cronRestart`: whether a scheduled rolling restart is due.
//!
//! The core parses the schedule; this step keeps the clock. The restart
//! itself is a template change: the core copies `status.lastCronRestart`
//! into a pod-template annotation, so setting it to "now" rolls every pod
//! the zero-downtime way.

use k8s_openapi::jiff::Timestamp;

use crate::build::{next_cron_restart, SpecError};
use crate::crd::App;

/// Where the schedule stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CronPlan {
    /// A restart is due now: `status.lastCronRestart` becomes `now`.
    pub restart_now: bool,
    /// The following due time, for `status.nextCronRestart` and the requeue.
    pub next: Timestamp,
}

/// Plans the schedule: a restart is due once `now` has reached the first
/// scheduled time after `since` (the last cron restart, or the App's
/// creation). Missed runs while the operator was away collapse into one.
/// `None` when the App has no schedule.
pub fn plan(app: &App, since: Timestamp, now: Timestamp) -> Result<Option<CronPlan>, SpecError> {
    let Some(due) = next_cron_restart(app, since)? else {
        return Ok(None);
    };
    if now < due {
        return Ok(Some(CronPlan {
            restart_now: false,
            next: due,
        }));
    }
    Ok(next_cron_restart(app, now)?.map(|next| CronPlan {
        restart_now: true,
        next,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::AppSpec;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn app(cron: &str) -> App {
        App::new(
            "web",
            AppSpec {
                image: "web:1".into(),
                cron_restart: Some(cron.into()),
                ..Default::default()
            },
        )
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
            let plan = plan(&app(expr), t(since), t(now)).unwrap();
            assert_eq!(
                plan,
                Some(CronPlan {
                    restart_now,
                    next: t(next)
                }),
                "{expr} since {since} at {now}"
            );
        }
    }

    #[test]
    fn no_schedule_plans_nothing() {
        let mut none = app("0");
        assert_eq!(
            plan(&none, t("2030-01-01T00:00:00Z"), t("2031-01-01T00:00:00Z")),
            Ok(None)
        );
        none.spec.cron_restart = None;
        assert_eq!(
            plan(&none, t("2030-01-01T00:00:00Z"), t("2031-01-01T00:00:00Z")),
            Ok(None)
        );
    }

    #[test]
    fn bad_expressions_name_the_field() {
        for bad in ["every day", "61 * * * *", "0 0 * * * * 2030"] {
            let err = plan(
                &app(bad),
                t("2030-01-01T00:00:00Z"),
                t("2030-01-01T00:00:00Z"),
            )
            .unwrap_err();
            assert!(
                err.to_string().starts_with("spec.cronRestart"),
                "{bad}: {err}"
            );
        }
    }
}
