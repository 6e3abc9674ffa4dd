//! The CRD YAML kept in the repository (`crds/`) and shipped in the Helm
//! chart (`charts/readyroll/crds/`) is generated: it must be exactly what
//! `readyroll crd` prints for the current Rust types.

use std::path::{Path, PathBuf};

const REGENERATE: &str = "regenerate with `make crds`";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the operator crate lives one level below the repository root")
        .to_path_buf()
}

fn assert_current(relative: &str) {
    let path = repo_root().join(relative);
    let generated = readyroll::crd::crd_yaml().expect("the CRD renders");
    let committed = std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("{}: {err}; {REGENERATE}", path.display()));
    if committed != generated {
        let first_difference = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .map_or_else(
                || "one is a prefix of the other".to_owned(),
                |index| format!("first difference at line {}", index + 1),
            );
        panic!("{relative} is stale ({first_difference}); {REGENERATE}");
    }
}

#[test]
fn crds_directory_matches_the_types() {
    assert_current("crds/apps.readyroll.dev.yaml");
}

#[test]
fn chart_crd_matches_the_types() {
    assert_current("charts/readyroll/crds/apps.readyroll.dev.yaml");
}

#[test]
fn the_binary_prints_the_same_crd() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_readyroll"))
        .arg("crd")
        .output()
        .expect("run readyroll crd");
    assert!(output.status.success(), "readyroll crd failed: {output:?}");
    let printed = String::from_utf8(output.stdout).expect("UTF-8 YAML");
    assert_eq!(
        printed,
        readyroll::crd::crd_yaml().expect("the CRD renders")
    );
}
