//! The Apps under `examples/` (shown in the README and used by `make demo`)
//! parse as Apps and build into objects, and the ecosystem example converts.

use std::path::{Path, PathBuf};
use std::process::Command;

use readyroll::core::{build, BuildOptions};
use readyroll::crd::App;

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

fn load(name: &str) -> App {
    let path = examples_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let mut app: App = serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    // The API server assigns these; the core needs them for owner references.
    app.metadata.uid = Some("00000000-0000-4000-8000-000000000000".into());
    app.metadata
        .namespace
        .get_or_insert_with(|| "default".into());
    app
}

fn opts() -> BuildOptions {
    BuildOptions {
        shim_image: "readyroll.dev/readyroll:dev".into(),
    }
}

#[test]
fn every_yaml_example_builds() {
    let mut seen = 0;
    for entry in std::fs::read_dir(examples_dir()).expect("examples/ exists") {
        let path = entry.expect("readable entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let app = load(&name);
        build(&app, &[], &opts()).unwrap_or_else(|e| panic!("{name}: {e}"));
        seen += 1;
    }
    assert!(seen >= 2, "expected the YAML examples, found {seen}");
}

#[test]
fn the_demo_app_is_three_instances_behind_a_fixed_node_port() {
    let desired = build(&load("hello.yaml"), &[], &opts()).expect("builds");
    assert_eq!(desired.instances, 3);
    let service = desired.service.expect("a Service");
    let port = &service.spec.expect("spec").ports.expect("ports")[0];
    assert_eq!(port.node_port, Some(30080));
    assert!(
        desired.pdb.is_some(),
        "3 instances get a PodDisruptionBudget"
    );
}

#[test]
fn the_complete_example_uses_the_runtime_shim() {
    let desired = build(&load("complete.yaml"), &[], &opts()).expect("builds");
    let pod = desired
        .deployment
        .spec
        .expect("spec")
        .template
        .spec
        .expect("pod");
    let init = pod.init_containers.expect("init containers");
    assert_eq!(
        init[0].image.as_deref(),
        Some("readyroll.dev/readyroll:dev")
    );
    let container = &pod.containers[0];
    let command = container.command.clone().expect("command");
    assert_eq!(command, ["/readyroll/bin/readyroll-shim"]);
    let args = container.args.clone().expect("the shim's flags");
    assert!(args.contains(&"--wait-ready".to_string()), "{args:?}");
}

#[test]
fn the_ecosystem_example_converts() {
    let out = Command::new(env!("CARGO_BIN_EXE_readyroll"))
        .args(["convert", "--image", "example/app:1"])
        .arg(examples_dir().join("ecosystem.json"))
        .output()
        .expect("readyroll runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let app: App = serde_yaml::from_slice(&out.stdout).expect("an App");
    assert_eq!(app.metadata.name.as_deref(), Some("app-name"));
    assert_eq!(app.spec.listen_timeout, Some(10000));
    assert_eq!(app.spec.kill_timeout, Some(5000));
}
