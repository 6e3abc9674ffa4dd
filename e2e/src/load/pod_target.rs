//! The one exception to "loads go to loopback only": a pod of this run's node, reached at
//! its own IP on the pod bridge the cluster scripts created.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use k8s_openapi::api::core::v1::Pod;

/// Why `target` may not be loaded, or `Ok` when it is `pod`'s IP inside `pod_network`.
pub fn check(target: SocketAddr, pod: &Pod, pod_network: &str) -> Result<(), String> {
    let (network, prefix) = parse_cidr(pod_network)?;
    if pod.spec.as_ref().and_then(|s| s.host_network) == Some(true) {
        return Err("the pod uses the host's network".into());
    }
    let pod_ip = pod
        .status
        .as_ref()
        .and_then(|s| s.pod_ip.as_deref())
        .ok_or("the pod has no IP yet")?;
    if pod_ip.parse::<IpAddr>().ok() != Some(target.ip()) {
        return Err(format!("the pod's IP is {pod_ip}"));
    }
    match target.ip() {
        IpAddr::V4(ip) if in_network(ip, network, prefix) => Ok(()),
        ip => Err(format!("{ip} is outside the pod network {pod_network}")),
    }
}

fn parse_cidr(text: &str) -> Result<(Ipv4Addr, u8), String> {
    let bad = || format!("`{text}` is not an IPv4 CIDR such as 10.88.0.0/16");
    let (ip, prefix) = text.split_once('/').ok_or_else(bad)?;
    let ip: Ipv4Addr = ip.parse().map_err(|_| bad())?;
    let prefix: u8 = prefix.parse().map_err(|_| bad())?;
    // A wide network would admit addresses beyond this machine's bridge.
    if !(8..=32).contains(&prefix) || !ip.is_private() {
        return Err(format!(
            "`{text}` is not a private network of /8 or narrower"
        ));
    }
    Ok((ip, prefix))
}

fn in_network(ip: Ipv4Addr, network: Ipv4Addr, prefix: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
    u32::from(ip) & mask == u32::from(network) & mask
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{PodSpec, PodStatus};

    use super::*;

    fn pod(ip: &str, host_network: bool) -> Pod {
        Pod {
            spec: Some(PodSpec {
                host_network: Some(host_network),
                ..Default::default()
            }),
            status: Some(PodStatus {
                pod_ip: Some(ip.into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn only_the_pods_own_ip_inside_a_private_pod_network() {
        let net = "10.88.0.0/16";
        assert_eq!(
            check(addr("10.88.0.6:8080"), &pod("10.88.0.6", false), net),
            Ok(())
        );
        for (target, p, network) in [
            ("10.88.0.7:8080", pod("10.88.0.6", false), net),
            ("10.89.0.6:8080", pod("10.89.0.6", false), net),
            ("10.88.0.6:8080", pod("10.88.0.6", true), net),
            ("8.8.8.8:53", pod("8.8.8.8", false), "8.0.0.0/8"),
            ("10.88.0.6:8080", pod("10.88.0.6", false), "10.0.0.0/4"),
            ("10.88.0.6:8080", pod("10.88.0.6", false), "10.88.0.0"),
        ] {
            assert!(
                check(addr(target), &p, network).is_err(),
                "{target} {network}"
            );
        }
        assert!(check(addr("10.88.0.6:1"), &Pod::default(), net).is_err());
    }
}
