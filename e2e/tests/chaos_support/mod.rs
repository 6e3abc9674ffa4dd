//! Shared by the chaos tier (`chaos.rs`): each case runs against the operator installed with
//! two replicas (leader election on, short Leases; see `make test-chaos`), under the
//! continuous load of the node tier, and ends with the same three checks: no request
//! failed, every App settled (the case waits for it, with a bound), and the API server's
//! audit log holds no write by a replica that did not hold the leader Lease.
#![allow(dead_code)] // the cases use different parts

pub mod app;
pub mod component;
pub mod operator;
pub mod seed;

use std::{net::SocketAddr, time::Duration};

use k8s_openapi::{api::core::v1::Event, jiff::Timestamp};
use kube::api::ListParams;
use readyroll_e2e::{
    audit::OperatorAudit,
    bench::{FaultRecord, Measurement},
    load::{EndedBy, Load, LoadConfig, LoadRun},
    Must,
};

use crate::node_support::{pods::PodTracker, wait_serving, NodeEnv};
use app::{ChaosApp, Release};
use operator::Operator;

/// Operator replicas `make test-chaos` installs.
pub const OPERATOR_REPLICAS: usize = 2;
/// How long an App may take to settle after a fault: past it, the App is stuck.
pub const SETTLE_BOUND: Duration = Duration::from_secs(120);
/// How long the operator may take to be whole again between cases (new pods, a Lease).
const OPERATOR_BOUND: Duration = Duration::from_secs(120);

/// One chaos case: its namespace on the real node, the operator, and when it began (the
/// audit log is read from then on).
pub struct Case {
    pub env: NodeEnv,
    pub operator: Operator,
    pub tracker: PodTracker,
    test: &'static str,
    began: Timestamp,
}

/// What a case reports for the faults table.
pub struct Outcome {
    pub scenario: String,
    pub rollouts: usize,
    pub recovery: Duration,
    pub detail: String,
    pub measurements: Vec<Measurement>,
}

impl Case {
    /// Waits for a whole operator (every replica Ready, a Lease holder) and makes the
    /// case's namespace. `test` names its benchmark record.
    pub async fn start(test: &'static str, prefix: &str) -> Case {
        let env = NodeEnv::start(prefix).await;
        let operator = Operator::new(&env.cluster, &env.operator);
        let holder = operator
            .wait_healthy(OPERATOR_REPLICAS, OPERATOR_BOUND)
            .await;
        eprintln!("chaos {test}: operator healthy, Lease held by {holder}");
        let tracker = PodTracker::start(env.ns.api());
        Case {
            env,
            operator,
            tracker,
            test,
            began: Timestamp::now(),
        }
    }

    /// An App of two test servers on its own node port, created and serving `v1`.
    pub async fn app(&self, name: &str, progress_deadline_s: u32) -> (ChaosApp, SocketAddr) {
        let (node_port, addr) = self.env.node_port().await;
        let app = ChaosApp::new(&self.env.ns, name, node_port, progress_deadline_s);
        let first = Release::good("v1");
        app.apply(&first).await;
        app.wait_settled(&first, SETTLE_BOUND).await;
        wait_serving(addr, "v1").await;
        (app, addr)
    }

    /// The Events of object `name` in the case's namespace, as (reason, message).
    pub async fn events(&self, name: &str) -> Vec<(String, String)> {
        let events = self
            .env
            .ns
            .api::<Event>()
            .list(&ListParams::default().fields(&format!("involvedObject.name={name}")))
            .await
            .must("list Events");
        events
            .items
            .into_iter()
            .map(|e| (e.reason.unwrap_or_default(), e.message.unwrap_or_default()))
            .collect()
    }

    /// The checks every case ends with, then its record. `load` ran through the whole case.
    pub async fn finish(self, load: Load, outcome: Outcome) {
        let run = load.finish();
        let total = run.tally();
        assert_eq!(
            run.ended_by,
            EndedBy::Stopped,
            "the load stopped by itself before the case ended"
        );
        assert!(total.requests > 0, "no request was sent");
        assert_eq!(
            total.failed,
            0,
            "{} of {} requests failed:\n{}",
            total.failed,
            total.requests,
            failure_lines(&run, 20)
        );
        let (writes, without_lease) = self.assert_only_the_leader_wrote().await;
        eprintln!(
            "chaos {}: {}: {} rollouts, {} requests, {} failed, recovery {:.1} s, {writes} operator writes, {without_lease} without the Lease; {}",
            self.test,
            outcome.scenario,
            outcome.rollouts,
            total.requests,
            total.failed,
            outcome.recovery.as_secs_f64(),
            outcome.detail
        );
        let fault = FaultRecord {
            scenario: outcome.scenario,
            rollouts: outcome.rollouts,
            requests: total.requests,
            failed: total.failed,
            recovery_ms: readyroll_e2e::bench::millis(outcome.recovery),
            operator_writes: writes,
            writes_without_lease: without_lease,
            detail: outcome.detail,
        };
        self.env
            .record_fault(self.test, fault, outcome.measurements)
            .await;
    }

    /// Reads the audit log: every write an operator replica made since the case began was
    /// received while that replica held a valid Lease. Returns (writes, violations).
    async fn assert_only_the_leader_wrote(&self) -> (usize, usize) {
        // The API server writes an event once the response is complete.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let path = component::audit_log();
        let audit = OperatorAudit::read(&path, &self.operator.namespace, &self.operator.lease)
            .unwrap_or_else(|e| {
                panic!("{e} (the chaos tier needs the audit log of e2e/cluster/up.sh)")
            })
            .since(self.began);
        let changes = audit.holder_changes(self.began);
        eprintln!(
            "chaos {}: Lease holders since the start: {changes:?}; writes per replica (source addresses): {:?}",
            self.test,
            audit.writers()
        );
        assert!(
            !audit.writes.is_empty(),
            "the audit log {} holds no write of the operator since {}: is the audit policy in place?",
            path.display(),
            self.began
        );
        let violations = audit.writes_without_leadership();
        let shown: Vec<String> = violations.iter().take(20).map(|v| v.to_string()).collect();
        assert!(
            violations.is_empty(),
            "{} of {} operator writes were made without holding the Lease:\n{}",
            violations.len(),
            audit.writes.len(),
            shown.join("\n")
        );
        (audit.writes.len(), violations.len())
    }
}

/// The continuous load of the node tier against `addr`.
pub fn start_load(addr: SocketAddr) -> Load {
    Load::start(LoadConfig::new(addr)).must("start the load")
}

fn failure_lines(run: &LoadRun, limit: usize) -> String {
    run.failures()
        .take(limit)
        .map(|(sample, failure)| {
            format!(
                "  at {:>8.3} s {:?}: {} ({})",
                sample.at.as_secs_f64(),
                sample.client,
                failure.kind,
                failure.detail
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}
