//! Shared by the real-node tier (`node_*` tests): the operator runs in the cluster as its
//! chart installs it, pods run on a node with real containers, clients reach Services
//! through NodePorts on a loopback address. Nothing here depends on how the cluster was
//! made, so the same tests run against the local cluster and against kind.
#![allow(dead_code)] // each test binary uses its own part of this module

pub mod baseline;
pub mod pods;
pub mod rollouts;
pub mod stops;
pub mod workload;

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use k8s_openapi::api::core::v1::{Node, ServiceAccount};
use readyroll_e2e::{
    bench::{self, BenchRecord, Environment, FaultRecord, Measurement, Scenario},
    in_cluster::{require_operator, wait_for_workload_node, InstalledOperator},
    load::{self, Answer},
    node_ports::{claim_node_port, node_port_addr},
    wait_for, Cluster, Must, TestNamespace,
};

/// The test HTTP server (e2e/testapp); the tags differ only in the `VERSION` they report.
pub const TESTAPP: &str = "readyroll.dev/testapp";
pub const TESTAPP_PORT: i32 = 8080;
/// The node runtime with a PM2-style app in /app/server.js (e2e/images/node-app).
pub const NODE_APP: &str = "readyroll.dev/node-app";
pub const NODE_APP_PORT: i32 = 3000;

/// How long a node and the operator may take to be there.
const SETUP_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a new Service may take to answer on its node port (kube-proxy sync).
const SERVE_TIMEOUT: Duration = Duration::from_secs(60);

/// One test's world on the real node.
pub struct NodeEnv {
    pub cluster: Cluster,
    pub ns: TestNamespace,
    pub node: Node,
    pub operator: InstalledOperator,
    started: Instant,
}

impl NodeEnv {
    /// Checks the cluster has what the tier needs and makes a namespace.
    pub async fn start(prefix: &str) -> NodeEnv {
        let cluster = Cluster::require().await;
        let node = wait_for_workload_node(&cluster, SETUP_TIMEOUT)
            .await
            .must("a node that runs real containers");
        let operator = require_operator(&cluster, SETUP_TIMEOUT)
            .await
            .must("the operator installed in the cluster");
        let ns = TestNamespace::new(&cluster, prefix)
            .await
            .must("create namespace");
        // Pods are rejected until the namespace's default ServiceAccount exists.
        wait_for(
            &ns.api::<ServiceAccount>(),
            "default",
            |sa: Option<&ServiceAccount>| sa.is_some(),
            SETUP_TIMEOUT,
        )
        .await
        .must("default ServiceAccount");
        NodeEnv {
            cluster,
            ns,
            node,
            operator,
            started: Instant::now(),
        }
    }

    /// A node port no other Service uses, and the loopback address it answers on.
    pub async fn node_port(&self) -> (i32, SocketAddr) {
        let port = claim_node_port(&self.cluster)
            .await
            .must("claim a node port");
        (
            i32::from(port),
            node_port_addr(port).must("node port address"),
        )
    }

    /// What the measurements ran on.
    pub async fn environment(&self) -> Environment {
        let kubernetes = self
            .cluster
            .client()
            .apiserver_version()
            .await
            .map(|v| v.git_version)
            .unwrap_or_else(|e| format!("unknown ({e})"));
        Environment {
            kubernetes,
            node: Environment::describe_node(&self.node),
            host_cpus: Environment::host_cpus(),
            operator_image: self.operator.image.clone(),
            source: Environment::source_of(std::path::Path::new(env!("CARGO_MANIFEST_DIR"))),
        }
    }

    /// Writes this test's benchmark record (see BENCHMARKS.md) and says where.
    pub async fn record(
        &self,
        test: &str,
        scenarios: Vec<Scenario>,
        measurements: Vec<Measurement>,
    ) {
        self.write_record(test, scenarios, measurements, Vec::new())
            .await;
    }

    /// Writes a chaos case's record: the fault survived and its measurements.
    pub async fn record_fault(
        &self,
        test: &str,
        fault: FaultRecord,
        measurements: Vec<Measurement>,
    ) {
        self.write_record(test, Vec::new(), measurements, vec![fault])
            .await;
    }

    async fn write_record(
        &self,
        test: &str,
        scenarios: Vec<Scenario>,
        measurements: Vec<Measurement>,
        faults: Vec<FaultRecord>,
    ) {
        let record = BenchRecord {
            test: test.to_owned(),
            recorded_at: BenchRecord::now_rfc3339(),
            environment: self.environment().await,
            test_duration_ms: bench::millis(self.started.elapsed()),
            scenarios,
            measurements,
            faults,
        };
        let dir = bench::results_dir(env!("CARGO_TARGET_TMPDIR"));
        let path = record.write(&dir).must("write the benchmark record");
        eprintln!("benchmark record: {}", path.display());
    }
}

/// Waits until `addr` answers 200 with `version` (a new Service takes a moment to be
/// programmed into kube-proxy).
pub async fn wait_serving(addr: SocketAddr, version: &str) -> Answer {
    let deadline = Instant::now() + SERVE_TIMEOUT;
    loop {
        match load::get_once(addr, Duration::from_secs(2)).await {
            Ok(answer) if answer.version == version => return answer,
            other if Instant::now() >= deadline => {
                panic!("{addr} did not answer with version {version} within {SERVE_TIMEOUT:?}: last {other:?}")
            }
            _ => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}
