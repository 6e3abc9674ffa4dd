//! The krew manifest as `scripts/krew-manifest.sh` makes it at release
//! time, from real archives of the built `readyroll` binary: a valid krew
//! Plugin (apiVersion, kind, the four platforms, `bin` among the files),
//! each sha256 the digest of its archive, and the linux/amd64 archive a
//! working `kubectl-readyroll` once unpacked as krew does. The archives of
//! the other platforms hold the same (linux) binary: only their digests are
//! under test here, since no cross-built binary exists outside a release.
//! Runs in the unit tier (no cluster).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_yaml::Value;
use sha2::{Digest, Sha256};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/krew-manifest.sh");
/// The binary cargo built for this test run.
const BINARY: &str = env!("CARGO_BIN_EXE_readyroll");
const VERSION: &str = "v0.1.0";
const PLATFORMS: [(&str, &str, &str); 4] = [
    ("linux", "amd64", "x86_64-unknown-linux-gnu"),
    ("linux", "arm64", "aarch64-unknown-linux-gnu"),
    ("darwin", "amd64", "x86_64-apple-darwin"),
    ("darwin", "arm64", "aarch64-apple-darwin"),
];

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("readyroll-krew-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// `readyroll-VERSION-TARGET.tar.gz` for every platform, each with the
/// built binary at its root and a file naming its target, so that each
/// archive differs, as real per-platform archives do.
fn archives(dir: &Path) {
    let stage = dir.join("stage");
    std::fs::create_dir_all(&stage).expect("stage dir");
    // Stripped, as a release binary is: a fraction of the size to pack.
    std::fs::copy(BINARY, stage.join("readyroll")).expect("copy binary");
    let stripped = Command::new("strip")
        .arg(stage.join("readyroll"))
        .status()
        .expect("strip");
    assert!(stripped.success());
    for (_, _, target) in PLATFORMS {
        std::fs::write(stage.join("TARGET"), target).expect("tag file");
        let archive = dir.join(format!("readyroll-{VERSION}-{target}.tar.gz"));
        let ok = Command::new("tar")
            .args(["-I", "gzip -1", "-cf"])
            .arg(&archive)
            .arg("-C")
            .arg(&stage)
            .args(["readyroll", "TARGET"])
            .status()
            .expect("tar");
        assert!(ok.success(), "tar {}", archive.display());
    }
}

fn manifest(version: &str, dir: &Path) -> std::process::Output {
    Command::new("bash")
        .arg(SCRIPT)
        .arg(version)
        .arg(dir)
        .output()
        .expect("run krew-manifest.sh")
}

fn sha256(path: &Path) -> String {
    let bytes = std::fs::read(path).expect("read archive");
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn the_release_manifest_is_a_krew_plugin_with_the_archives_digests() {
    let dir = scratch("ok");
    archives(&dir);
    let out = manifest(VERSION, &dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(!text.contains('@'), "a placeholder is left:\n{text}");
    let plugin: Value = serde_yaml::from_str(&text).expect("manifest is YAML");

    assert_eq!(
        plugin["apiVersion"].as_str(),
        Some("krew.googlecontainertools.github.com/v1alpha2")
    );
    assert_eq!(plugin["kind"].as_str(), Some("Plugin"));
    assert_eq!(plugin["metadata"]["name"].as_str(), Some("readyroll"));
    let spec = &plugin["spec"];
    assert_eq!(spec["version"].as_str(), Some(VERSION));
    for field in ["homepage", "shortDescription", "description"] {
        assert!(
            spec[field].as_str().is_some_and(|s| !s.trim().is_empty()),
            "spec.{field}"
        );
    }
    // krew's own limit for the one-line description.
    assert!(spec["shortDescription"].as_str().unwrap().len() <= 50);
    let platforms = spec["platforms"].as_sequence().expect("spec.platforms");
    assert_eq!(platforms.len(), PLATFORMS.len());
    for ((os, arch, target), platform) in PLATFORMS.iter().zip(platforms) {
        let labels = &platform["selector"]["matchLabels"];
        assert_eq!(
            (labels["os"].as_str(), labels["arch"].as_str()),
            (Some(*os), Some(*arch))
        );
        let archive = format!("readyroll-{VERSION}-{target}.tar.gz");
        assert_eq!(
            platform["uri"].as_str(),
            Some(
                format!(
                    "https://github.com/readyroll/readyroll/releases/download/{VERSION}/{archive}"
                )
                .as_str()
            )
        );
        assert_eq!(
            platform["sha256"].as_str(),
            Some(sha256(&dir.join(&archive)).as_str()),
            "{os}/{arch}"
        );
        let bin = platform["bin"].as_str().expect("bin");
        let files = platform["files"].as_sequence().expect("files");
        assert!(
            files
                .iter()
                .any(|f| f["from"].as_str() == Some(bin) && f["to"].as_str() == Some(".")),
            "bin {bin} is among the files of {os}/{arch}"
        );
    }
    let digests: std::collections::BTreeSet<&str> = platforms
        .iter()
        .filter_map(|p| p["sha256"].as_str())
        .collect();
    assert_eq!(digests.len(), 4, "each archive has its own digest");

    // Installed as krew does: the archive unpacked, `bin` linked as
    // kubectl-readyroll; the plugin calls itself `kubectl readyroll`.
    let unpacked = dir.join("unpacked");
    std::fs::create_dir_all(&unpacked).expect("unpack dir");
    let ok = Command::new("tar")
        .arg("-xzf")
        .arg(dir.join(format!(
            "readyroll-{VERSION}-x86_64-unknown-linux-gnu.tar.gz"
        )))
        .arg("-C")
        .arg(&unpacked)
        .status()
        .expect("untar");
    assert!(ok.success());
    let link = unpacked.join("kubectl-readyroll");
    std::os::unix::fs::symlink(unpacked.join("readyroll"), &link).expect("link");
    let help = Command::new(&link)
        .arg("--help")
        .output()
        .expect("run plugin");
    assert!(help.status.success());
    assert!(
        String::from_utf8_lossy(&help.stdout).contains("kubectl readyroll"),
        "{}",
        String::from_utf8_lossy(&help.stdout)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn no_manifest_without_every_archive_or_with_a_bad_version() {
    let dir = scratch("missing");
    archives(&dir);
    std::fs::remove_file(dir.join(format!("readyroll-{VERSION}-aarch64-apple-darwin.tar.gz")))
        .expect("remove one archive");
    let out = manifest(VERSION, &dir);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("darwin/arm64 archive"), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing is written on error");

    let out = manifest("0.1", &dir);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("VERSION must be a release tag"));
    let _ = std::fs::remove_dir_all(&dir);
}
