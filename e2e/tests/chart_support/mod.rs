//! Charts made in a test's scratch directory from the repository's chart: an
//! umbrella chart that depends on it by `file://` path, and a copy whose CRD
//! schema differs (for the upgrade path).

use std::path::{Path, PathBuf};

use readyroll_e2e::{Helm, Must};
use serde_yaml::Value;

/// The generated CRD inside the chart, rendered by `templates/crds.yaml`.
pub const CRD_FILE: &str = "files/apps.readyroll.dev.yaml";

/// A directory removed again on drop.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "readyroll-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).must("create scratch directory");
        Self(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Name of the umbrella chart; its values nest readyroll's under `readyroll`.
pub const UMBRELLA: &str = "platform";

/// The umbrella chart's own object, to tell that its templates rendered too.
pub const UMBRELLA_CONFIGMAP: &str = "platform-settings";

/// Writes an umbrella chart that depends on `charts/readyroll` by `file://`
/// path (switched by `readyroll.enabled`), sets `global` values, and fetches
/// the dependency with `helm dependency update` (no repository, no network);
/// then proves `helm dependency build` rebuilds it from the lock file.
pub fn umbrella_chart(helm: &Helm, scratch: &Scratch, readyroll_values: &str) -> PathBuf {
    let chart = scratch.path().join(UMBRELLA);
    std::fs::create_dir_all(chart.join("templates")).must("umbrella templates dir");
    let dependency = Helm::chart_dir()
        .canonicalize()
        .must("canonical chart path");
    let chart_yaml = format!(
        "apiVersion: v2\nname: {UMBRELLA}\nversion: 1.0.0\ndependencies:\n  - name: readyroll\n    \
         version: \">=0.0.0-0\"\n    repository: \"file://{}\"\n    condition: readyroll.enabled\n",
        dependency.display()
    );
    std::fs::write(chart.join("Chart.yaml"), chart_yaml).must("umbrella Chart.yaml");
    let values = format!(
        "global:\n  imageRegistry: registry.example.com\n  team: platform\nreadyroll:\n  enabled: true\n{}",
        indent(readyroll_values)
    );
    std::fs::write(chart.join("values.yaml"), values).must("umbrella values.yaml");
    std::fs::write(
        chart.join("templates").join("settings.yaml"),
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {UMBRELLA_CONFIGMAP}\n  \
             namespace: {{{{ .Release.Namespace }}}}\ndata:\n  team: {{{{ .Values.global.team | quote }}}}\n"
        ),
    )
    .must("umbrella template");

    let chart_arg = chart.to_str().expect("UTF-8 scratch path");
    helm.run(["dependency", "update", "--skip-refresh", chart_arg])
        .must("helm dependency update");
    assert!(
        chart.join("Chart.lock").is_file(),
        "helm dependency update wrote no Chart.lock"
    );
    let packaged = chart.join("charts");
    std::fs::remove_dir_all(&packaged).must("remove the fetched dependency");
    helm.run(["dependency", "build", "--skip-refresh", chart_arg])
        .must("helm dependency build");
    let fetched: Vec<_> = std::fs::read_dir(&packaged)
        .must("charts/ of the umbrella chart")
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        fetched.iter().any(|name| name.starts_with("readyroll-")),
        "no readyroll package in charts/: {fetched:?}"
    );
    chart
}

fn indent(values: &str) -> String {
    values.lines().map(|line| format!("  {line}\n")).collect()
}

/// The chart's generated CRD, parsed.
pub fn generated_crd() -> Value {
    let text = std::fs::read_to_string(Helm::chart_dir().join(CRD_FILE)).must("read the CRD");
    serde_yaml::from_str(&text).must("parse the CRD")
}

/// The property added to the App's `spec` schema by [`chart_with_changed_crd`].
pub const EXTRA_PROPERTY: &str = "upgradeProbe";

/// A copy of the chart whose CRD has one more optional field in the App's
/// spec schema: what a new chart version with a changed schema looks like.
pub fn chart_with_changed_crd(scratch: &Scratch) -> PathBuf {
    let copy = scratch.path().join("readyroll");
    copy_dir(&Helm::chart_dir(), &copy);
    let mut crd = generated_crd();
    let spec = &mut crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        ["properties"];
    let Value::Mapping(properties) = spec else {
        panic!("the CRD has no spec properties: {spec:?}");
    };
    properties.insert(
        Value::from(EXTRA_PROPERTY),
        serde_yaml::from_str("{type: string, description: Added by the upgrade test.}")
            .must("extra property"),
    );
    let text = serde_yaml::to_string(&crd).must("serialize the CRD");
    std::fs::write(copy.join(CRD_FILE), text).must("write the changed CRD");
    copy
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).must("create chart copy");
    for entry in std::fs::read_dir(from).must("read chart dir") {
        let entry = entry.must("chart dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().must("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).must("copy chart file");
        }
    }
}
