//! Runs the real `kubectl`, for what only kubectl itself can show (`kubectl
//! wait`, `kubectl scale`, its plugin mechanism).
//!
//! The binary is `$READYROLL_KUBECTL` when set, else the one `make binaries`
//! builds into the cache (`$CACHE/bin/kubernetes-$KUBERNETES_VERSION/kubectl`,
//! version from `e2e/versions.env`, the directory `e2e/cluster/env.sh` puts
//! on `PATH`), else `kubectl` on `PATH`.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::cluster::cache_dir;

/// Path of a kubectl binary to use instead of the pinned one.
pub const KUBECTL_ENV: &str = "READYROLL_KUBECTL";

const VERSIONS_ENV: &str = include_str!("../versions.env");

/// The kubectl binary and the cluster it talks to.
#[derive(Debug, Clone)]
pub struct Kubectl {
    program: PathBuf,
    kubeconfig: PathBuf,
    /// Directories put first on kubectl's `PATH` (where it finds plugins).
    path_prefix: Vec<PathBuf>,
}

/// What one kubectl run did.
#[derive(Debug)]
pub struct Run {
    pub output: Output,
    pub took: Duration,
}

impl Run {
    pub fn success(&self) -> bool {
        self.output.status.success()
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
}

impl Kubectl {
    /// kubectl for the cluster of `kubeconfig`.
    ///
    /// # Panics
    /// When no kubectl can be found: a requested test must fail rather than
    /// pass without running it.
    pub fn require(kubeconfig: &Path) -> Self {
        let program = locate().unwrap_or_else(|cached| {
            panic!(
                "no kubectl: set {KUBECTL_ENV}, or run `make binaries` to build it into {}",
                cached.display()
            )
        });
        Self {
            program,
            kubeconfig: kubeconfig.to_path_buf(),
            path_prefix: Vec::new(),
        }
    }

    /// The same kubectl with `dir` first on its `PATH`, where it looks for
    /// `kubectl-*` plugins.
    pub fn with_path_prefix(mut self, dir: &Path) -> Self {
        self.path_prefix.push(dir.to_path_buf());
        self
    }

    pub fn program(&self) -> &Path {
        &self.program
    }

    /// Runs kubectl with `args` and waits for it; a non-zero exit is not an
    /// error here, the caller looks at it.
    ///
    /// # Panics
    /// When kubectl cannot be started.
    pub fn run<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let started = Instant::now();
        let output = self
            .command(args)
            .output()
            .unwrap_or_else(|err| panic!("cannot run {}: {err}", self.program.display()));
        Run {
            output,
            took: started.elapsed(),
        }
    }

    /// The command, ready to spawn (for runs that go on in the background).
    pub fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut command = Command::new(&self.program);
        command.args(args).env("KUBECONFIG", &self.kubeconfig);
        if !self.path_prefix.is_empty() {
            let rest = std::env::var_os("PATH").unwrap_or_default();
            let dirs = self
                .path_prefix
                .iter()
                .cloned()
                .chain(std::env::split_paths(&rest));
            let path = std::env::join_paths(dirs).unwrap_or_else(|_| rest.clone());
            command.env("PATH", path);
        }
        command
    }
}

fn locate() -> Result<PathBuf, PathBuf> {
    if let Some(path) = std::env::var_os(KUBECTL_ENV) {
        return Ok(PathBuf::from(path));
    }
    let cached = cache_dir()
        .join("bin")
        .join(format!("kubernetes-{}", pinned_version()))
        .join("kubectl");
    if cached.is_file() {
        return Ok(cached);
    }
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("kubectl"))
            .find(|candidate| candidate.is_file())
    });
    on_path.ok_or(cached)
}

fn pinned_version() -> String {
    VERSIONS_ENV
        .lines()
        .find_map(|line| line.trim().strip_prefix("KUBERNETES_VERSION="))
        .map_or_else(
            || "(KUBERNETES_VERSION missing from e2e/versions.env)".to_owned(),
            |v| v.trim().to_owned(),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pinned_version_is_read_from_versions_env() {
        assert!(pinned_version().starts_with("v1."), "{}", pinned_version());
    }
}
