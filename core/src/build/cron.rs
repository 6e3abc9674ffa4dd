//! PM2's `cron_restart`: a rolling restart on a cron schedule, in the App's
//! `cronTimeZone` (UTC by default; PM2 used the host's local time). The
//! time-zone database is compiled into the binary, since the operator's
//! image has none.
//!
//! The core only parses the expression and computes the next time; the
//! controller keeps the clock and records each restart in
//! `status.lastCronRestart`, which the pod template carries as an
//! annotation, so a restart is an ordinary zero-downtime rollout.

use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;
use jiff::tz::TimeZone;
use jiff::Timestamp;

use crate::crd::{App, AppSpec};

use super::error::SpecError;

/// Pod-template annotation holding `status.lastCronRestart`.
pub const RESTARTED_AT_ANNOTATION: &str = "readyroll.dev/restartedAt";
/// Pod-template annotation carrying `spec.restartedAt` (`readyroll reload`).
pub const RELOADED_AT_ANNOTATION: &str = "readyroll.dev/reloadedAt";

/// PM2 reads `cron_restart: "0"` as "no cron restart".
const DISABLED: &str = "0";
const FIELD: &str = "spec.cronRestart";
const TIME_ZONE_FIELD: &str = "spec.cronTimeZone";

/// The parsed schedule, `None` when the App has none. Accepts what PM2's
/// cron library accepts: 5 fields, or 6 with seconds first, names such as
/// `MON`/`JAN`, and nicknames such as `@daily`.
pub fn schedule(spec: &AppSpec) -> Result<Option<Cron>, SpecError> {
    let Some(expression) = spec.cron_restart.as_deref().map(str::trim) else {
        return Ok(None);
    };
    if expression == DISABLED {
        return Ok(None);
    }
    CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build()
        .parse(expression)
        .map(Some)
        .map_err(|e| {
            SpecError::new(
                FIELD,
                format!("{expression:?} is not a cron expression: {e}"),
            )
        })
}

/// The zone `cronRestart` is evaluated in: `cronTimeZone`, or UTC.
pub fn time_zone(spec: &AppSpec) -> Result<TimeZone, SpecError> {
    let Some(name) = spec.cron_time_zone.as_deref() else {
        return Ok(TimeZone::UTC);
    };
    TimeZone::get(name).map_err(|_| {
        SpecError::new(
            TIME_ZONE_FIELD,
            format!(
                "{name:?} is not an IANA time zone name (e.g. Europe/Paris, America/New_York, UTC)"
            ),
        )
    })
}

/// The first cron restart strictly after `after`, or `None` without a
/// schedule. Pure: the caller passes the clock.
pub fn next_cron_restart(app: &App, after: Timestamp) -> Result<Option<Timestamp>, SpecError> {
    let Some(cron) = schedule(&app.spec)? else {
        return Ok(None);
    };
    let zone = time_zone(&app.spec)?;
    cron.find_next_occurrence(&after.to_zoned(zone), false)
        .map(|next| Some(next.timestamp()))
        .map_err(|e| SpecError::new(FIELD, format!("has no next time after {after}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::testing::{app, spec};

    fn with_cron(expression: Option<&str>) -> App {
        app(AppSpec {
            cron_restart: expression.map(Into::into),
            ..spec()
        })
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn next_time_is_strictly_after_and_in_utc() {
        let cases = [
            ("0 3 * * *", "2025-06-01T12:00:00Z", "2025-06-02T03:00:00Z"),
            ("0 3 * * *", "2025-06-02T03:00:00Z", "2025-06-03T03:00:00Z"),
            (
                "*/15 * * * *",
                "2025-06-01T12:07:30Z",
                "2025-06-01T12:15:00Z",
            ),
            (
                "30 */10 * * * *",
                "2025-06-01T12:00:30Z",
                "2025-06-01T12:10:30Z",
            ),
            (
                "0 0 * * MON",
                "2025-06-01T00:00:00Z",
                "2025-06-02T00:00:00Z",
            ),
            ("@daily", "2025-12-31T23:59:59Z", "2026-01-01T00:00:00Z"),
            ("0 0 29 2 *", "2025-03-01T00:00:00Z", "2028-02-29T00:00:00Z"),
        ];
        for (expression, after, next) in cases {
            let got = next_cron_restart(&with_cron(Some(expression)), at(after)).unwrap();
            assert_eq!(got, Some(at(next)), "{expression} after {after}");
        }
    }

    #[test]
    fn the_schedule_runs_in_the_time_zone() {
        let cases = [
            // Paris is UTC+2 in summer, UTC+1 in winter.
            (
                "0 3 * * *",
                "Europe/Paris",
                "2025-06-01T12:00:00Z",
                "2025-06-02T01:00:00Z",
            ),
            (
                "0 3 * * *",
                "Europe/Paris",
                "2025-12-01T12:00:00Z",
                "2025-12-02T02:00:00Z",
            ),
            (
                "0 9 * * MON",
                "America/New_York",
                "2025-06-01T00:00:00Z",
                "2025-06-02T13:00:00Z",
            ),
            (
                "@daily",
                "Asia/Kolkata",
                "2025-06-01T12:00:00Z",
                "2025-06-01T18:30:00Z",
            ),
            (
                "0 3 * * *",
                "UTC",
                "2025-06-01T12:00:00Z",
                "2025-06-02T03:00:00Z",
            ),
        ];
        for (expression, zone, after, next) in cases {
            let app = app(AppSpec {
                cron_restart: Some(expression.into()),
                cron_time_zone: Some(zone.into()),
                ..spec()
            });
            let got = next_cron_restart(&app, at(after)).unwrap();
            assert_eq!(got, Some(at(next)), "{expression} in {zone} after {after}");
        }
    }

    #[test]
    fn an_unknown_time_zone_names_the_field() {
        for bad in ["Mars/Olympus", "", "Europe/", "local"] {
            let spec = AppSpec {
                cron_time_zone: Some(bad.into()),
                ..spec()
            };
            let err = time_zone(&spec).unwrap_err();
            assert_eq!(err.field, "spec.cronTimeZone", "{bad}");
        }
    }

    #[test]
    fn no_schedule_or_pm2s_zero_means_none() {
        for expression in [None, Some("0"), Some(" 0 ")] {
            let app = with_cron(expression);
            assert!(schedule(&app.spec).unwrap().is_none());
            assert_eq!(
                next_cron_restart(&app, at("2025-01-01T00:00:00Z")).unwrap(),
                None
            );
        }
    }

    #[test]
    fn invalid_expressions_name_the_field() {
        for bad in [
            "",
            "* * *",
            "61 * * * *",
            "0 0 * * * * 2030",
            "every day",
            "0 25 * * *",
        ] {
            let err = schedule(&with_cron(Some(bad)).spec).unwrap_err();
            assert_eq!(err.field, "spec.cronRestart", "{bad}");
            assert!(err.to_string().starts_with("spec.cronRestart: "), "{err}");
        }
    }
}
