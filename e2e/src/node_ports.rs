//! Where the tests reach NodePort Services: a loopback address of the machine running the
//! tests, and a range of node ports that address forwards. The local cluster's kube-proxy
//! serves NodePorts on 127.0.0.1 itself; a kind cluster maps the range with
//! `extraPortMappings` (e2e/kind/cluster.yaml), so both are set by configuration, never
//! assumed.
use std::{
    collections::BTreeSet,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    ops::RangeInclusive,
    sync::Mutex,
};

use k8s_openapi::api::core::v1::Service;
use kube::{api::ListParams, Api};

use crate::{Cluster, Error};

/// The address NodePorts answer on; must be a loopback address. Default 127.0.0.1.
pub const NODE_HOST_ENV: &str = "READYROLL_E2E_NODE_HOST";
/// The node ports tests may give their Services, `FIRST-LAST`. Default 30100-30119.
pub const NODE_PORTS_ENV: &str = "READYROLL_E2E_NODE_PORTS";
pub const DEFAULT_NODE_PORTS: RangeInclusive<u16> = 30100..=30119;

/// Ports handed out by this process and not yet seen on a Service: tests of one binary run
/// in parallel and must not pick the same one.
static CLAIMED: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// The loopback address NodePorts are reached on.
pub fn node_host() -> Result<IpAddr, Error> {
    let Some(value) = std::env::var_os(NODE_HOST_ENV) else {
        return Ok(IpAddr::V4(Ipv4Addr::LOCALHOST));
    };
    let text = value.to_string_lossy().into_owned();
    match text.parse::<IpAddr>() {
        Ok(ip) if ip.is_loopback() => Ok(ip),
        _ => Err(Error::BadSetting {
            variable: NODE_HOST_ENV,
            value: text,
            expected:
                "a loopback IP address such as 127.0.0.1 (tests send traffic only to loopback)",
        }),
    }
}

/// The node ports tests may use.
pub fn node_port_range() -> Result<RangeInclusive<u16>, Error> {
    match std::env::var_os(NODE_PORTS_ENV) {
        None => Ok(DEFAULT_NODE_PORTS),
        Some(value) => parse_range(&value.to_string_lossy()),
    }
}

fn parse_range(text: &str) -> Result<RangeInclusive<u16>, Error> {
    let bad = || Error::BadSetting {
        variable: NODE_PORTS_ENV,
        value: text.to_owned(),
        expected: "FIRST-LAST, two node ports with FIRST <= LAST, e.g. 30100-30119",
    };
    let (first, last) = text.split_once('-').ok_or_else(bad)?;
    let first: u16 = first.trim().parse().map_err(|_| bad())?;
    let last: u16 = last.trim().parse().map_err(|_| bad())?;
    if first == 0 || first > last {
        return Err(bad());
    }
    Ok(first..=last)
}

/// The address of node port `port`.
pub fn node_port_addr(port: u16) -> Result<SocketAddr, Error> {
    Ok(SocketAddr::new(node_host()?, port))
}

/// A node port of the range that no Service in the cluster uses and this process has not
/// handed out yet.
pub async fn claim_node_port(cluster: &Cluster) -> Result<u16, Error> {
    let range = node_port_range()?;
    let services = Api::<Service>::all(cluster.client())
        .list(&ListParams::default())
        .await?;
    let used: BTreeSet<u16> = services
        .iter()
        .filter_map(|s| s.spec.as_ref()?.ports.as_ref())
        .flatten()
        .filter_map(|p| p.node_port.and_then(|n| u16::try_from(n).ok()))
        .collect();
    let mut claimed = CLAIMED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let free = range
        .clone()
        .find(|p| !used.contains(p) && !claimed.contains(p))
        .ok_or_else(|| Error::NoFreeNodePort {
            first: *range.start(),
            last: *range.end(),
        })?;
    claimed.insert(free);
    Ok(free)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_and_bad_ones_name_the_variable() {
        assert_eq!(parse_range("30100-30119").expect("valid"), 30100..=30119);
        assert_eq!(
            parse_range(" 30000 - 30000 ").expect("valid"),
            30000..=30000
        );
        for bad in ["30100", "30119-30100", "0-5", "a-b", "30100-70000"] {
            let err = parse_range(bad).expect_err(bad);
            assert!(err.to_string().contains(NODE_PORTS_ENV), "{err}");
            assert!(err.to_string().contains(bad), "{err}");
        }
    }
}
