use crate::build::testing::spec;
use crate::crd::RolloutSpec;

use super::*;

fn timings(listen_timeout_ms: i64, min_uptime_ms: i64) -> Timings {
    Timings {
        listen_timeout_ms,
        kill_timeout_ms: 1600,
        min_uptime_ms,
        drain_max_ms: 30_000,
        drain_delay_ms: 5000,
    }
}

fn with_rollout(rollout: RolloutSpec) -> AppSpec {
    AppSpec {
        rollout: Some(rollout),
        ..spec()
    }
}

#[test]
fn min_uptime_becomes_min_ready_seconds_rounded_up() {
    for (ms, seconds) in [(0, 0), (1, 1), (1000, 1), (1500, 2), (86_400_000, 86_400)] {
        assert_eq!(min_ready_seconds(&timings(3000, ms)), seconds, "{ms} ms");
    }
}

#[test]
fn progress_deadline_is_listen_plus_uptime_plus_slack() {
    let cases = [
        ("PM2 defaults", 3000, 1000, 3 + 1 + 60),
        ("fractions round up", 10_001, 1, 11 + 1 + 60),
        ("no uptime", 1, 0, 1 + 60),
        ("one day each", 86_400_000, 86_400_000, 86_400 * 2 + 60),
    ];
    for (name, listen, uptime, expected) in cases {
        let t = timings(listen, uptime);
        let got = progress_deadline_seconds(&spec(), &t, min_ready_seconds(&t)).unwrap();
        assert_eq!(got, expected, "{name}");
        assert!(got > min_ready_seconds(&t), "{name}");
    }
}

#[test]
fn explicit_progress_deadline_must_exceed_min_ready_seconds() {
    let t = timings(3000, 5000);
    let explicit = |seconds| {
        with_rollout(RolloutSpec {
            progress_deadline_seconds: Some(seconds),
            ..Default::default()
        })
    };
    assert_eq!(progress_deadline_seconds(&explicit(6), &t, 5).unwrap(), 6);
    let err = progress_deadline_seconds(&explicit(5), &t, 5).unwrap_err();
    assert_eq!(err.field, "spec.rollout.progressDeadlineSeconds");
    assert!(err.message.contains("spec.minUptime"), "{err}");
}

#[test]
fn max_surge_defaults_to_one_and_must_allow_progress() {
    let surge = |value: Option<IntOrString>| {
        max_surge(&with_rollout(RolloutSpec {
            max_surge: value,
            ..Default::default()
        }))
    };
    assert_eq!(surge(None).unwrap(), IntOrString::Int(1));
    assert_eq!(
        surge(Some(IntOrString::Int(3))).unwrap(),
        IntOrString::Int(3)
    );
    assert_eq!(
        surge(Some(IntOrString::String("25%".into()))).unwrap(),
        IntOrString::String("25%".into())
    );
    for bad in [
        IntOrString::Int(0),
        IntOrString::Int(-1),
        IntOrString::String("0%".into()),
        IntOrString::String("00%".into()),
        IntOrString::String("%".into()),
        IntOrString::String("3".into()),
        IntOrString::String("1.5%".into()),
    ] {
        let err = surge(Some(bad.clone())).unwrap_err();
        assert_eq!(err.field, "spec.rollout.maxSurge", "{bad:?}");
    }
}

#[test]
fn revision_history_defaults_to_ten_and_keeps_one_for_rollback() {
    assert_eq!(revision_history_limit(&spec()).unwrap(), 10);
    let limit = |n| {
        revision_history_limit(&with_rollout(RolloutSpec {
            revision_history_limit: Some(n),
            ..Default::default()
        }))
    };
    assert_eq!(limit(3).unwrap(), 3);
    assert_eq!(
        limit(0).unwrap_err().field,
        "spec.rollout.revisionHistoryLimit"
    );
}
