//! Property tests of the pure core: whatever `App` it is handed, `build`
//! returns objects or an error naming a field, never panics; every App the
//! CRD accepts builds, and what it builds survives a JSON round trip and
//! hands the runtime shim arguments it parses. Cases: `PROPTEST_CASES`
//! (`make fuzz`), else the bounded count below (`make test`).

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Node;
use proptest::prelude::*;
use readyroll_core::build::{
    build, next_cron_restart, BuildOptions, SpecError, APP_CONTAINER, SHIM_BINARY_IN_POD,
};
use readyroll_core::crd::{MemorySize, MAX_MEMORY_BYTES};
use readyroll_shim_contract::ShimArgs;
use readyroll_testkit::app::{valid_app, wild_app};
use serde::de::DeserializeOwned;
use serde::Serialize;

fn options() -> BuildOptions {
    BuildOptions {
        shim_image: "registry.example/readyroll:1".into(),
    }
}

fn nodes() -> Vec<Node> {
    Vec::new()
}

/// An error a user can act on: it names a field of the App.
fn names_a_field(err: &SpecError) -> bool {
    (err.field.starts_with("spec") || err.field.starts_with("metadata."))
        && !err.message.trim().is_empty()
}

fn round_trips<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(value: &T) {
    let json = serde_json::to_string(value).expect("serializes");
    let back: T = serde_json::from_str(&json).expect("deserializes what it serialized");
    assert_eq!(&back, value);
}

/// The app container's args, parsed as the shim parses them, when the
/// shim is its entry point.
fn shim_args(deployment: &Deployment) -> Option<Result<ShimArgs, String>> {
    let pod = deployment.spec.as_ref()?.template.spec.as_ref()?;
    let app = pod.containers.iter().find(|c| c.name == APP_CONTAINER)?;
    if app.command.as_deref() != Some(&[SHIM_BINARY_IN_POD.to_string()][..]) {
        return None;
    }
    let args = app.args.clone().unwrap_or_default();
    Some(ShimArgs::parse(args).map_err(|e| e.to_string()))
}

proptest! {
    #![proptest_config(readyroll_testkit::config(300))]

    #[test]
    fn any_app_builds_or_names_the_field(app in wild_app()) {
        match build(&app, &nodes(), &options()) {
            Ok(desired) => {
                round_trips(&desired.deployment);
                prop_assert!(desired.instances >= 1);
            }
            Err(err) => prop_assert!(names_a_field(&err), "{err:?}"),
        }
        // The cron schedule is parsed from any text without a panic too.
        let _ = next_cron_restart(&app, "2026-01-01T00:00:00Z".parse().unwrap());
    }

    #[test]
    fn every_app_the_crd_accepts_builds(app in valid_app("shop")) {
        round_trips(&app.spec);
        let desired = build(&app, &nodes(), &options());
        let desired = match desired {
            Ok(desired) => desired,
            Err(err) => return Err(TestCaseError::fail(format!("{err}\n{app:#?}"))),
        };
        round_trips(&desired.deployment);
        round_trips(&desired.service);
        round_trips(&desired.pdb);
        if let Some(parsed) = shim_args(&desired.deployment) {
            let parsed = parsed.map_err(TestCaseError::fail)?;
            prop_assert_eq!(parsed.args, app.spec.args.clone());
            prop_assert_eq!(parsed.treekill, app.spec.treekill != Some(false));
        }
        prop_assert!(next_cron_restart(&app, "2026-01-01T00:00:00Z".parse().unwrap()).is_ok());
    }

    #[test]
    fn memory_sizes_parse_any_text_within_bounds(text in "\\PC{0,30}|[0-9]{1,25}[KMG]?") {
        if let Ok(size) = MemorySize::parse(&text) {
            prop_assert!((1..=MAX_MEMORY_BYTES).contains(&size.bytes()));
            prop_assert_eq!(size.to_string(), text.clone());
            prop_assert_eq!(MemorySize::parse(&size.to_string()), Ok(size.clone()));
            let json = serde_json::to_string(&size).unwrap();
            prop_assert_eq!(serde_json::from_str::<MemorySize>(&json).unwrap(), size);
        }
    }

    #[test]
    fn memory_sizes_of_bytes_round_trip(bytes in 1..=MAX_MEMORY_BYTES, unit in 0..4u32) {
        let size = MemorySize::from_bytes(bytes).unwrap();
        prop_assert_eq!(size.bytes(), bytes);
        let scale = [1u64, 1 << 10, 1 << 20, 1 << 30][unit as usize];
        let suffix = ["", "K", "M", "G"][unit as usize];
        let n = (bytes / scale).max(1);
        prop_assert_eq!(MemorySize::parse(&format!("{n}{suffix}")).unwrap().bytes(), n * scale);
        prop_assert!(serde_json::from_str::<MemorySize>(&(MAX_MEMORY_BYTES + bytes).to_string()).is_err());
    }
}
