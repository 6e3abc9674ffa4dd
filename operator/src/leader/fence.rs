//! What one look at the Lease says about our right to write. Pure: the
//! elector feeds it the Lease and the clock.

use std::time::{Duration, SystemTime};

use k8s_openapi::api::coordination::v1::Lease;

/// Who holds the Lease, as seen in one read of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Observation {
    /// We hold it; we may write until `writes_until` (wall clock).
    Ours { writes_until: SystemTime },
    /// Someone else holds it and has not let it expire.
    Theirs { holder: String },
    /// Nobody holds it (released), or the holder let it expire: a standby
    /// should try to take it now.
    Free,
}

/// Reads `lease` as `identity` at wall-clock `now`.
///
/// `renewTime` was written by the holder with the holder's own clock. When
/// we are the holder it is our clock too, so `renewTime + leaseDuration` is
/// exactly when the others may take over, give or take their clock skew;
/// we stop writing `max_clock_skew` earlier so that a replica whose clock
/// runs ahead of ours by less than that never overlaps with us.
pub(crate) fn observe(
    lease: &Lease,
    identity: &str,
    now: SystemTime,
    max_clock_skew: Duration,
) -> Observation {
    let Some(spec) = lease.spec.as_ref() else {
        return Observation::Free;
    };
    let Some(holder) = spec.holder_identity.as_deref().filter(|h| !h.is_empty()) else {
        return Observation::Free;
    };
    let expires = match (&spec.renew_time, spec.lease_duration_seconds) {
        (Some(renewed), Some(seconds)) if seconds > 0 => {
            let renewed: SystemTime = renewed.0.into();
            renewed.checked_add(Duration::from_secs(seconds.unsigned_abs().into()))
        }
        // A holder without a renew time or duration cannot be trusted to
        // be alive: treat it as expired, as kube-lease-manager does.
        _ => None,
    };
    let Some(expires) = expires else {
        return Observation::Free;
    };
    if holder == identity {
        let writes_until = expires
            .checked_sub(max_clock_skew)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        if writes_until > now {
            return Observation::Ours { writes_until };
        }
        return Observation::Free;
    }
    if expires > now {
        Observation::Theirs {
            holder: holder.to_owned(),
        }
    } else {
        Observation::Free
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::coordination::v1::LeaseSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
    use k8s_openapi::jiff::Timestamp;

    const SKEW: Duration = Duration::from_secs(2);

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + seconds)
    }

    fn lease(holder: Option<&str>, renewed: Option<u64>, duration: Option<i32>) -> Lease {
        Lease {
            spec: Some(LeaseSpec {
                holder_identity: holder.map(str::to_owned),
                renew_time: renewed
                    .map(|s| MicroTime(Timestamp::try_from(at(s)).expect("valid time"))),
                lease_duration_seconds: duration,
                ..LeaseSpec::default()
            }),
            ..Lease::default()
        }
    }

    #[test]
    fn our_fresh_lease_lets_us_write_until_expiry_minus_skew() {
        let ours = lease(Some("me"), Some(100), Some(15));
        assert_eq!(
            observe(&ours, "me", at(101), SKEW),
            Observation::Ours {
                writes_until: at(113)
            }
        );
    }

    #[test]
    fn our_lease_inside_the_skew_margin_is_no_longer_ours() {
        let ours = lease(Some("me"), Some(100), Some(15));
        assert_eq!(observe(&ours, "me", at(113), SKEW), Observation::Free);
        assert_eq!(observe(&ours, "me", at(200), SKEW), Observation::Free);
    }

    #[test]
    fn a_live_lease_of_another_replica_is_theirs() {
        let theirs = lease(Some("other"), Some(100), Some(15));
        assert_eq!(
            observe(&theirs, "me", at(114), SKEW),
            Observation::Theirs {
                holder: "other".to_owned()
            }
        );
    }

    #[test]
    fn an_expired_lease_of_another_replica_is_free() {
        let theirs = lease(Some("other"), Some(100), Some(15));
        assert_eq!(observe(&theirs, "me", at(116), SKEW), Observation::Free);
    }

    #[test]
    fn released_empty_or_incomplete_leases_are_free() {
        let now = at(100);
        for (lease, why) in [
            (Lease::default(), "no spec"),
            (lease(None, None, None), "released"),
            (lease(Some(""), Some(100), Some(15)), "empty holder"),
            (lease(Some("other"), None, Some(15)), "no renew time"),
            (lease(Some("other"), Some(100), None), "no duration"),
            (lease(Some("other"), Some(100), Some(0)), "zero duration"),
            (lease(Some("me"), Some(100), Some(-5)), "negative duration"),
        ] {
            assert_eq!(observe(&lease, "me", now, SKEW), Observation::Free, "{why}");
        }
    }
}
