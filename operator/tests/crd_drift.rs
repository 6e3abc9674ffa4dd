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
