//! The app container's resources: the App's own, with PM2's
//! `max_memory_restart` as the memory limit (the kernel's OOM kill and the
//! kubelet's restart replace PM2's memory watchdog).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::crd::AppSpec;

use super::error::SpecError;
use super::quantity::parse_milli;

pub fn container_resources(spec: &AppSpec) -> Result<Option<ResourceRequirements>, SpecError> {
    let mut resources = spec.resources.clone();
    if let Some(r) = &resources {
        check_amounts("spec.resources.requests", r.requests.as_ref())?;
        check_amounts("spec.resources.limits", r.limits.as_ref())?;
    }
    let Some(max_memory) = &spec.max_memory_restart else {
        return Ok(resources);
    };
    let limit = max_memory.to_quantity();
    let r = resources.get_or_insert_with(Default::default);
    if let Some(request) = r.requests.as_ref().and_then(|q| q.get("memory")) {
        let request_milli = parse_milli(&request.0)
            .map_err(|e| SpecError::new("spec.resources.requests.memory", e.to_string()))?;
        let limit_milli = u128::from(max_memory.bytes()).saturating_mul(1000);
        if request_milli > limit_milli {
            return Err(SpecError::new(
                "spec.resources.requests.memory",
                format!(
                    "{} is more than spec.maxMemoryRestart ({max_memory}), which becomes the memory limit",
                    request.0
                ),
            ));
        }
    }
    r.limits
        .get_or_insert_with(BTreeMap::new)
        .insert("memory".into(), Quantity(limit));
    Ok(resources)
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
    use crate::crd::MemorySize;

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
        assert_eq!(container_resources(&spec()).unwrap(), None);
        let spec = with(&[("cpu", "250m")], &[("memory", "1Gi")], None);
        assert_eq!(container_resources(&spec).unwrap(), spec.resources);
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
            let r = container_resources(&spec).unwrap().unwrap();
            assert_eq!(r.requests, requests);
            assert_eq!(r.limits, Some(limits));
        }
    }

    #[test]
    fn a_request_above_max_memory_restart_is_an_error_naming_both() {
        let err =
            container_resources(&with(&[("memory", "301Mi")], &[], Some("300M"))).unwrap_err();
        assert_eq!(err.field, "spec.resources.requests.memory");
        assert!(err.message.contains("spec.maxMemoryRestart"), "{err}");
        assert!(
            err.message.contains("301Mi") && err.message.contains("300M"),
            "{err}"
        );
        // 300M in PM2 is 300 MiB, more than 300 million bytes.
        assert!(container_resources(&with(&[("memory", "300000000")], &[], Some("300M"))).is_ok());
    }

    #[test]
    fn malformed_amounts_name_the_field() {
        let err = container_resources(&with(&[("cpu", "lots")], &[], None)).unwrap_err();
        assert_eq!(err.field, "spec.resources.requests.cpu");
        let err = container_resources(&with(&[], &[("memory", "-1Gi")], None)).unwrap_err();
        assert_eq!(err.field, "spec.resources.limits.memory");
    }
}
