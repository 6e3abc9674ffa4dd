//! The probes the tests send before a Service serves (`load::get_once`, as in
//! `wait_serving`) are refused on purpose, and each refusal leaves a conntrack entry with no
//! NAT that refuses the next SYN of the same 4-tuple for two minutes (see
//! e2e/src/load/source_port.rs). This shows, on the real node, that every such entry holds a
//! source port below the kernel's ephemeral range, which the load's connections never use.
//! Needs `conntrack` and the node's network namespace (the local cluster; not a kind node).
mod node_support;

use std::process::Command;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Service;
use kube::api::PostParams;
use node_support::NodeEnv;
use readyroll_e2e::load::{configured_ephemeral_low, get_once, Answer, Failure, FailureKind};
use readyroll_e2e::Must;
use serde_json::json;

const PROBES: usize = 20;
const PROGRAMMED_WITHIN: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real node: run by the node tier"]
async fn probes_refused_before_a_service_serves_leave_no_entry_the_load_could_reuse() {
    let env = NodeEnv::start("probes").await;
    let (node_port, addr) = env.node_port().await;
    let service: Service = serde_json::from_value(json!({
        "metadata": {"name": "nobody-home"},
        "spec": {
            "type": "NodePort",
            "selector": {"app": "nobody-home"},
            "ports": [{"port": 80, "targetPort": 8080, "nodePort": node_port}],
        }
    }))
    .must("Service");
    env.ns
        .api::<Service>()
        .create(&PostParams::default(), &service)
        .await
        .must("create the Service");

    // Until kube-proxy has programmed the Service, a probe reaches the node's own port and
    // is reset, which leaves no entry; from then on its REJECT answers, which does.
    let deadline = Instant::now() + PROGRAMMED_WITHIN;
    while conntrack_source_ports(node_port).is_empty() {
        assert_refused(get_once(addr, Duration::from_secs(2)).await);
        assert!(
            Instant::now() < deadline,
            "no conntrack entry towards :{node_port} within {PROGRAMMED_WITHIN:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    for _ in 0..PROBES {
        assert_refused(get_once(addr, Duration::from_secs(2)).await);
    }

    let ports = conntrack_source_ports(node_port);
    let ephemeral_low = ephemeral_low();
    eprintln!("conntrack entries towards :{node_port} from ports {ports:?}");
    assert!(
        ports.len() > PROBES,
        "each refused probe leaves an entry: {ports:?}"
    );
    let reusable: Vec<u16> = ports.into_iter().filter(|p| *p >= ephemeral_low).collect();
    assert!(
        reusable.is_empty(),
        "refused probes left entries on ports the kernel gives to the load's connects \
         (from {ephemeral_low}): {reusable:?}"
    );
}

fn assert_refused(probe: Result<Answer, Failure>) {
    assert!(
        matches!(&probe, Err(f) if f.kind == FailureKind::ConnectRefused),
        "a Service with no endpoint must refuse: {probe:?}"
    );
}

/// The source ports of the node's conntrack entries towards `node_port`.
fn conntrack_source_ports(node_port: i32) -> Vec<u16> {
    let output = Command::new("conntrack")
        .args(["-L", "-p", "tcp", "--dport", &node_port.to_string()])
        .output()
        .must("run conntrack (the node tier needs it: scripts/install-deps.sh)");
    assert!(
        output.status.success(),
        "conntrack -L: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let sport = line.split_whitespace().find(|f| f.starts_with("sport="))?;
            sport.trim_start_matches("sport=").parse().ok()
        })
        .collect()
}

fn ephemeral_low() -> u16 {
    configured_ephemeral_low()
        .unwrap_or_else(|| panic!("the kernel's ephemeral port range is not readable"))
}
