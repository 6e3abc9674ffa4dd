//! How leader election is tuned, and the `run` flags that set it.

use std::time::Duration;

/// Name of the Lease the replicas compete for, in the operator's namespace.
pub const DEFAULT_LEASE_NAME: &str = "readyroll-leader";

/// Timing of leader election. The defaults match client-go's controllers:
/// a dead leader is replaced within `lease_duration`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderConfig {
    /// Lease object name.
    pub lease_name: String,
    /// Namespace of the Lease (the operator's own).
    pub namespace: String,
    /// This replica's identity in `holderIdentity`; must be unique among
    /// replicas (the pod name).
    pub identity: String,
    /// How long a Lease stays valid after its last renewal, whole seconds.
    pub lease_duration_secs: u64,
    /// The leader renews this long before its Lease would expire, whole seconds.
    pub renew_before_secs: u64,
    /// How often every replica reads the Lease: the leader to confirm it
    /// still holds it, standbys to notice a release at once.
    pub retry_period: Duration,
    /// How far replicas' clocks may disagree: the leader stops writing this
    /// long before its Lease expires.
    pub max_clock_skew: Duration,
}

/// A [`LeaderConfig`] that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("--lease-namespace is empty: set it or POD_NAMESPACE (the chart sets it from the pod's namespace)")]
    NoNamespace,
    #[error(
        "--leader-identity is empty: set it or POD_NAME (the chart sets it from the pod's name)"
    )]
    NoIdentity,
    #[error("--lease-name is empty")]
    NoLeaseName,
    #[error("--lease-renew-before-seconds ({renew_before}) must be at least 1 and less than --lease-duration-seconds ({duration})")]
    RenewBefore { renew_before: u64, duration: u64 },
    #[error("--lease-renew-before-seconds ({renew_before}s) must exceed the lease check period ({retry:?}) plus the allowed clock skew ({skew:?}), or the leader would stop writing between renewals")]
    Margins {
        renew_before: u64,
        retry: Duration,
        skew: Duration,
    },
}

impl LeaderConfig {
    /// Defaults for `identity` in `namespace`: 15 s leases renewed 6 s
    /// before expiry, checked every 2 s, tolerating 2 s of clock skew.
    pub fn new(namespace: impl Into<String>, identity: impl Into<String>) -> Self {
        Self {
            lease_name: DEFAULT_LEASE_NAME.to_owned(),
            namespace: namespace.into(),
            identity: identity.into(),
            lease_duration_secs: 15,
            renew_before_secs: 6,
            retry_period: Duration::from_secs(2),
            max_clock_skew: Duration::from_secs(2),
        }
    }

    /// Checks that the settings are usable together.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.namespace.trim().is_empty() {
            return Err(ConfigError::NoNamespace);
        }
        if self.identity.trim().is_empty() {
            return Err(ConfigError::NoIdentity);
        }
        if self.lease_name.trim().is_empty() {
            return Err(ConfigError::NoLeaseName);
        }
        if self.renew_before_secs == 0 || self.renew_before_secs >= self.lease_duration_secs {
            return Err(ConfigError::RenewBefore {
                renew_before: self.renew_before_secs,
                duration: self.lease_duration_secs,
            });
        }
        // Between the renewal (renew_before before expiry) and the moment we
        // stop writing (max_clock_skew before expiry) at least one Lease
        // check must happen to see the renewal.
        let renew_before = Duration::from_secs(self.renew_before_secs);
        if self.retry_period.is_zero() || self.retry_period + self.max_clock_skew >= renew_before {
            return Err(ConfigError::Margins {
                renew_before: self.renew_before_secs,
                retry: self.retry_period,
                skew: self.max_clock_skew,
            });
        }
        Ok(())
    }
}

/// The `run` flags for leader election, to flatten into the command.
#[derive(Debug, Clone, clap::Args)]
pub struct LeaderElectArgs {
    /// Elect a leader among replicas through a Lease; only the leader writes.
    /// Needed when more than one replica runs.
    #[arg(long)]
    pub leader_elect: bool,

    /// Name of the Lease.
    #[arg(long, default_value = DEFAULT_LEASE_NAME)]
    pub lease_name: String,

    /// Namespace of the Lease (the operator's own namespace).
    #[arg(long, env = "POD_NAMESPACE", default_value = "")]
    pub lease_namespace: String,

    /// This replica's identity in the Lease (unique per replica).
    #[arg(long, env = "POD_NAME", default_value = "")]
    pub leader_identity: String,

    /// Seconds a Lease stays valid after its last renewal.
    #[arg(long, default_value_t = 15)]
    pub lease_duration_seconds: u64,

    /// Seconds before expiry at which the leader renews.
    #[arg(long, default_value_t = 6)]
    pub lease_renew_before_seconds: u64,
}

impl LeaderElectArgs {
    /// The election settings, or `None` when `--leader-elect` is off.
    pub fn config(&self) -> Result<Option<LeaderConfig>, ConfigError> {
        if !self.leader_elect {
            return Ok(None);
        }
        let config = LeaderConfig {
            lease_name: self.lease_name.clone(),
            lease_duration_secs: self.lease_duration_seconds,
            renew_before_secs: self.lease_renew_before_seconds,
            ..LeaderConfig::new(self.lease_namespace.clone(), self.leader_identity.clone())
        };
        config.validate()?;
        Ok(Some(config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        leader: LeaderElectArgs,
    }

    fn parse(args: &[&str]) -> LeaderElectArgs {
        Cli::try_parse_from(std::iter::once("run").chain(args.iter().copied()))
            .expect("valid flags")
            .leader
    }

    #[test]
    fn defaults_are_valid() {
        assert_eq!(LeaderConfig::new("ns", "pod-a").validate(), Ok(()));
    }

    #[test]
    fn without_the_flag_there_is_no_election() {
        assert_eq!(parse(&[]).config(), Ok(None));
    }

    #[test]
    fn flags_become_a_config() {
        let config = parse(&[
            "--leader-elect",
            "--lease-namespace=ops",
            "--leader-identity=pod-a",
            "--lease-name=mine",
            "--lease-duration-seconds=30",
            "--lease-renew-before-seconds=10",
        ])
        .config()
        .expect("valid")
        .expect("enabled");
        assert_eq!(config.namespace, "ops");
        assert_eq!(config.identity, "pod-a");
        assert_eq!(config.lease_name, "mine");
        assert_eq!(config.lease_duration_secs, 30);
        assert_eq!(config.renew_before_secs, 10);
    }

    #[test]
    fn missing_identity_or_namespace_names_the_flag() {
        let no_identity = parse(&[
            "--leader-elect",
            "--lease-namespace=ops",
            "--leader-identity=",
        ]);
        let err = no_identity.config().expect_err("no identity");
        assert!(err.to_string().contains("--leader-identity"), "{err}");
        let no_namespace = parse(&[
            "--leader-elect",
            "--lease-namespace=",
            "--leader-identity=a",
        ]);
        let err = no_namespace.config().expect_err("no namespace");
        assert!(err.to_string().contains("--lease-namespace"), "{err}");
    }

    #[test]
    fn inconsistent_timings_are_refused() {
        let base = LeaderConfig::new("ns", "a");
        for (duration, renew_before) in [(15, 0), (15, 15), (15, 20)] {
            let config = LeaderConfig {
                lease_duration_secs: duration,
                renew_before_secs: renew_before,
                ..base.clone()
            };
            assert!(
                matches!(config.validate(), Err(ConfigError::RenewBefore { .. })),
                "{duration}/{renew_before}"
            );
        }
        let tight = LeaderConfig {
            renew_before_secs: 4,
            ..base.clone()
        };
        assert!(matches!(tight.validate(), Err(ConfigError::Margins { .. })));
    }
}
