//! The app container's resources: the App's own, plus a memory limit for
//! PM2's `max_memory_restart`. With the runtime shim the shim restarts the
//! app gracefully at the threshold and the cgroup limit is a safety net
//! above it (`memoryLimitPercent`, default 150 %; an explicit
//! `resources.limits.memory` wins). Without the shim the threshold is the
//! limit itself: the kernel's OOM kill and the kubelet's restart stand in
//! for PM2's memory watchdog.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::crd::{AppSpec, MemorySize};

use super::defaults;
use super::error::SpecError;
use super::quantity::parse_milli;

/// `graceful`: the runtime shim restarts the app at `maxMemoryRestart`.
/// The memory comparisons are also CEL rules of the CRD (`crd::rules`),
/// checked here for Apps admitted before the CRD held them.
pub fn container_resources(
    spec: &AppSpec,
    graceful: bool,
) -> Result<Option<ResourceRequirements>, SpecError> {
    let mut resources = spec.resources.clone();
    if let Some(r) = &resources {
        check_amounts("spec.resources.requests", r.requests.as_ref())?;
        check_amounts("spec.resources.limits", r.limits.as_ref())?;
    }
    let Some(max_memory) = &spec.max_memory_restart else {
        return Ok(resources);
    };
    let threshold_milli = u128::from(max_memory.bytes()).saturating_mul(1000);
    let r = resources.get_or_insert_with(Default::default);
    let explicit_limit = r.limits.as_ref().and_then(|l| l.get("memory"));
    let (limit, limit_milli, limit_name) = match (graceful, explicit_limit) {
        (true, Some(explicit)) => {
            let milli = parse_milli(&explicit.0)
                .map_err(|e| SpecError::new("spec.resources.limits.memory", e.to_string()))?;
            if milli < threshold_milli {
                return Err(SpecError::new(
                    "spec.resources.limits.memory",
                    format!(
                        "{} is below spec.maxMemoryRestart ({max_memory}): the kernel would kill the app before the runtime shim restarts it gracefully",
                        explicit.0
                    ),
                ));
            }
            (explicit.clone(), milli, "spec.resources.limits.memory")
        }
        (true, None) => {
            let bytes = safety_net_bytes(spec, max_memory)?;
            (
                Quantity(bytes_quantity(bytes)),
                u128::from(bytes).saturating_mul(1000),
                "the memory limit (spec.memoryLimitPercent of spec.maxMemoryRestart)",
            )
        }
        (false, _) => (
            Quantity(max_memory.to_quantity()),
            threshold_milli,
            "spec.maxMemoryRestart, which becomes the memory limit without the runtime shim",
        ),
    };
    if let Some(request) = r.requests.as_ref().and_then(|q| q.get("memory")) {
        let request_milli = parse_milli(&request.0)
            .map_err(|e| SpecError::new("spec.resources.requests.memory", e.to_string()))?;
        if request_milli > limit_milli {
            return Err(SpecError::new(
                "spec.resources.requests.memory",
                format!("{} is more than {limit_name} ({})", request.0, limit.0),
            ));
        }
    }
    r.limits
        .get_or_insert_with(BTreeMap::new)
        .insert("memory".into(), limit);
    Ok(resources)
}

/// `maxMemoryRestart` × `memoryLimitPercent` / 100, in bytes.
fn safety_net_bytes(spec: &AppSpec, max_memory: &MemorySize) -> Result<u64, SpecError> {
    let percent = spec
        .memory_limit_percent
        .unwrap_or(defaults::MEMORY_LIMIT_PERCENT);
    if !(100..=1000).contains(&percent) {
        return Err(SpecError::new(
            "spec.memoryLimitPercent",
            format!("{percent} is outside 100..=1000"),
        ));
    }
    // Bounded: at most 1 PiB × 10.
    let bytes = u128::from(max_memory.bytes()) * u128::from(percent.unsigned_abs()) / 100;
    Ok(u64::try_from(bytes).unwrap_or(u64::MAX))
}

/// Bytes as the largest binary unit that divides them (`"450Mi"`).
fn bytes_quantity(bytes: u64) -> String {
    for (unit, size) in [("Gi", 1u64 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)] {
        if bytes.is_multiple_of(size) {
            return format!("{}{unit}", bytes / size);
        }
    }
    bytes.to_string()
}

fn check_amounts(
    field: &str,
    amounts: Option<&BTreeMap<String, Quantity>>,
) -> Result<(), SpecError> {
    for (name, amount) in amounts.into_iter().flatten() {
        parse_milli(&amount.0)
            .map_err(|e| SpecError::new(format!("{field}.{name}"), e.to_string()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::testing::{quantities, spec};

    fn with(
        requests: &[(&str, &str)],
        limits: &[(&str, &str)],
        max_memory: Option<&str>,
    ) -> AppSpec {
        let list = |pairs: &[(&str, &str)]| (!pairs.is_empty()).then(|| quantities(pairs));
        let resources =
            (!requests.is_empty() || !limits.is_empty()).then(|| ResourceRequirements {
                requests: list(requests),
                limits: list(limits),
                claims: None,
            });
        AppSpec {
            resources,
            max_memory_restart: max_memory.map(|m| MemorySize::parse(m).unwrap()),
            ..spec()
        }
    }

    #[test]
    fn resources_pass_through_without_max_memory_restart() {
        assert_eq!(container_resources(&spec(), false).unwrap(), None);
        let spec = with(&[("cpu", "250m")], &[("memory", "1Gi")], None);
        assert_eq!(container_resources(&spec, false).unwrap(), spec.resources);
    }

    #[test]
    fn max_memory_restart_becomes_and_overrides_the_memory_limit() {
        let cases = [
            (
                with(&[], &[], Some("300M")),
                None,
                quantities(&[("memory", "300Mi")]),
            ),
            (
                with(
                    &[("cpu", "1")],
                    &[("cpu", "2"), ("memory", "2Gi")],
                    Some("1G"),
                ),
                Some(quantities(&[("cpu", "1")])),
                quantities(&[("cpu", "2"), ("memory", "1Gi")]),
            ),
            (
                with(&[("memory", "300Mi")], &[], Some("300M")),
                Some(quantities(&[("memory", "300Mi")])),
                quantities(&[("memory", "300Mi")]),
            ),
            (
                with(&[], &[], Some("1048576")),
                None,
                quantities(&[("memory", "1048576")]),
            ),
        ];
        for (spec, requests, limits) in cases {
            let r = container_resources(&spec, false).unwrap().unwrap();
            assert_eq!(r.requests, requests);
            assert_eq!(r.limits, Some(limits));
        }
    }

    #[test]
    fn a_request_above_max_memory_restart_is_an_error_naming_both() {
        let err = container_resources(&with(&[("memory", "301Mi")], &[], Some("300M")), false)
            .unwrap_err();
        assert_eq!(err.field, "spec.resources.requests.memory");
        assert!(err.message.contains("spec.maxMemoryRestart"), "{err}");
        assert!(err.message.contains("without the runtime shim"), "{err}");
        assert!(
            err.message.contains("301Mi") && err.message.contains("300M"),
            "{err}"
        );
        // 300M in PM2 is 300 MiB, more than 300 million bytes.
        assert!(
            container_resources(&with(&[("memory", "300000000")], &[], Some("300M")), false)
                .is_ok()
        );
    }

    #[test]
    fn malformed_amounts_name_the_field() {
        let err = container_resources(&with(&[("cpu", "lots")], &[], None), false).unwrap_err();
        assert_eq!(err.field, "spec.resources.requests.cpu");
        let err = container_resources(&with(&[], &[("memory", "-1Gi")], None), true).unwrap_err();
        assert_eq!(err.field, "spec.resources.limits.memory");
    }

    #[test]
    fn with_the_shim_the_limit_is_a_safety_net_above_the_threshold() {
        let cases = [
            (with(&[], &[], Some("300M")), None, "450Mi"),
            (with(&[], &[], Some("1G")), None, "1536Mi"),
            (with(&[], &[], Some("1000")), None, "1500"),
            (with(&[], &[], Some("1G")), Some(200), "2Gi"),
            (with(&[], &[], Some("1G")), Some(100), "1Gi"),
            (with(&[], &[("memory", "4Gi")], Some("1G")), None, "4Gi"),
            (
                with(&[], &[("memory", "1Gi")], Some("1G")),
                Some(300),
                "1Gi",
            ),
        ];
        for (spec, percent, limit) in cases {
            let spec = AppSpec {
                memory_limit_percent: percent,
                ..spec
            };
            let r = container_resources(&spec, true).unwrap().unwrap();
            assert_eq!(
                r.limits.unwrap().get("memory").map(|q| q.0.as_str()),
                Some(limit),
                "{spec:?}"
            );
        }
    }

    #[test]
    fn with_the_shim_limits_below_the_threshold_are_errors() {
        let err =
            container_resources(&with(&[], &[("memory", "512Mi")], Some("1G")), true).unwrap_err();
        assert_eq!(err.field, "spec.resources.limits.memory");
        assert!(err.message.contains("gracefully"), "{err}");
        let err = container_resources(
            &AppSpec {
                memory_limit_percent: Some(99),
                ..with(&[], &[], Some("1G"))
            },
            true,
        )
        .unwrap_err();
        assert_eq!(err.field, "spec.memoryLimitPercent");
        // A request may exceed the threshold, not the limit above it.
        assert!(container_resources(&with(&[("memory", "1200Mi")], &[], Some("1G")), true).is_ok());
        let err =
            container_resources(&with(&[("memory", "2Gi")], &[], Some("1G")), true).unwrap_err();
        assert_eq!(err.field, "spec.resources.requests.memory");
    }
}
