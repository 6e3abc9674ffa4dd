//! The `readyroll` binary the process-level tests run.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::Must;

/// The `readyroll` binary: `$READYROLL_BIN`, else built by cargo once per test process.
pub fn readyroll_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        if let Some(path) = std::env::var_os("READYROLL_BIN") {
            return path.into();
        }
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let output = Command::new(env!("CARGO"))
            .current_dir(&workspace)
            .args([
                "build",
                "--quiet",
                "-p",
                "readyroll",
                "--bin",
                "readyroll",
                "--message-format=json",
            ])
            .stderr(Stdio::inherit())
            .output()
            .must("cargo build -p readyroll");
        assert!(output.status.success(), "building readyroll failed");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|m| m["target"]["name"] == "readyroll" && m["target"]["kind"][0] == "bin")
            .find_map(|m| m["executable"].as_str().map(PathBuf::from))
            .expect("cargo names the readyroll executable")
    })
}
