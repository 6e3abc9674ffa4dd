//! Counts over a set of requests: what the tests assert on and the benchmarks report.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ClientKind, Sample};

/// Requests, failures by kind, and who answered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tally {
    pub requests: u64,
    pub ok: u64,
    pub failed: u64,
    /// Requests resent once after a reused keep-alive connection turned out closed.
    pub retried: u64,
    pub keep_alive: ClientTally,
    pub new_connection: ClientTally,
    /// Failed requests by kind (the kind's display text).
    pub failures: BTreeMap<String, u64>,
    /// Successful answers by `X-Version`.
    pub versions: BTreeMap<String, u64>,
    /// Successful answers by `X-Hostname` (the pod).
    pub hosts: BTreeMap<String, u64>,
}

/// Requests and failures of one kind of client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientTally {
    pub requests: u64,
    pub failed: u64,
}

impl Tally {
    pub fn of<'a>(samples: impl Iterator<Item = &'a Sample>) -> Tally {
        let mut tally = Tally::default();
        for sample in samples {
            tally.requests += 1;
            tally.retried += u64::from(sample.retried);
            let client = match sample.client {
                ClientKind::KeepAlive => &mut tally.keep_alive,
                ClientKind::NewConnection => &mut tally.new_connection,
            };
            client.requests += 1;
            match &sample.outcome {
                Ok(answer) => {
                    tally.ok += 1;
                    *tally.versions.entry(answer.version.clone()).or_default() += 1;
                    *tally.hosts.entry(answer.host.clone()).or_default() += 1;
                }
                Err(failure) => {
                    tally.failed += 1;
                    client.failed += 1;
                    *tally.failures.entry(failure.kind.to_string()).or_default() += 1;
                }
            }
        }
        tally
    }

    /// Versions that answered at least once, in order.
    pub fn versions_seen(&self) -> Vec<&str> {
        self.versions.keys().map(String::as_str).collect()
    }
}
