//! The Helm chart ships the CRD in `charts/readyroll/files/` (rendered by
//! `templates/crds.yaml`, so `helm upgrade` applies it): it must be the same
//! generated YAML as `crds/` (see crd_drift.rs), never a hand edit.

const CHART_COPY: &str = include_str!("../../charts/readyroll/files/apps.readyroll.dev.yaml");

#[test]
fn chart_crd_matches_the_types() {
    let generated = readyroll::crd::crd_yaml().expect("the CRD renders");
    if generated != CHART_COPY {
        let first_difference = CHART_COPY
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .map_or_else(
                || "one is a prefix of the other".to_owned(),
                |index| format!("first difference at line {}", index + 1),
            );
        panic!(
            "charts/readyroll/files/apps.readyroll.dev.yaml is stale ({first_difference}). Run `make crds` and commit the result."
        );
    }
}
