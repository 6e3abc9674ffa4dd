//! The core stays pure because its dependencies say so: no client, no
//! runtime, no async. A dependency added here must be one that does no I/O.

const MANIFEST: &str = include_str!("../Cargo.toml");

const ALLOWED: [&str; 11] = [
    "croner",
    "jiff",
    "k8s-openapi",
    "kube",
    // The shim's command-line contract: plain data, no dependencies of its own.
    "readyroll-shim-contract",
    "schemars",
    "serde",
    "serde_json",
    "serde_yaml",
    "sha2",
    "thiserror",
];

fn dependencies() -> Vec<&'static str> {
    MANIFEST
        .split("\n[")
        .find(|section| section.starts_with("dependencies]"))
        .expect("a [dependencies] section")
        .lines()
        .skip(1)
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect()
}

#[test]
fn only_io_free_dependencies() {
    for line in dependencies() {
        let name = line.split(['.', ' ', '=']).next().unwrap_or_default();
        assert!(
            ALLOWED.contains(&name),
            "readyroll-core must not depend on {name:?}: the core does no I/O"
        );
    }
}

#[test]
fn kube_brings_its_types_and_derive_only() {
    let kube = dependencies()
        .into_iter()
        .find(|line| line.starts_with("kube ") || line.starts_with("kube="))
        .expect("kube is a dependency");
    assert!(kube.contains("default-features = false"), "{kube}");
    assert!(kube.contains(r#"features = ["derive"]"#), "{kube}");
}
