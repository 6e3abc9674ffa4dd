//! The committed CRD YAML must be exactly what the Rust types generate.

use std::process::Command;

const COMMITTED: &str = include_str!("../../crds/apps.readyroll.dev.yaml");

#[test]
fn committed_crd_matches_the_types() {
    let generated = readyroll::crd::crd_yaml().expect("the CRD renders");
    assert!(
        generated == COMMITTED,
        "crds/apps.readyroll.dev.yaml is stale: the App types changed. Run `make crds` and commit the result."
    );
}

#[test]
fn readyroll_crd_prints_the_committed_file() {
    let output = Command::new(env!("CARGO_BIN_EXE_readyroll"))
        .arg("crd")
        .output()
        .expect("readyroll runs");
    assert!(output.status.success(), "{output:?}");
    assert!(
        output.stdout == COMMITTED.as_bytes(),
        "`readyroll crd` differs from crds/apps.readyroll.dev.yaml. Run `make crds` and commit the result."
    );
}

/// `kubectl explain app` prints the root schema's description.
#[test]
fn the_root_schema_describes_the_app() {
    let crd: serde_json::Value =
        serde_json::to_value(<readyroll::crd::App as kube::CustomResourceExt>::crd())
            .expect("the CRD serializes");
    let description = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["description"]
        .as_str()
        .unwrap_or_default();
    assert!(
        description.contains("PM2") && !description.contains("Auto-generated"),
        "root description: {description:?}"
    );
}
