//! Runs the pinned `helm` against the repository's chart.
//!
//! The binary is `$READYROLL_HELM` when set, else the one `make binaries`
//! builds into the cache (`$CACHE/bin/helm-$HELM_VERSION/helm`, version from
//! `e2e/versions.env`), else `helm` on `PATH`.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde::de::DeserializeOwned;
use serde_yaml::Value;

use crate::cluster::cache_dir;

/// Path of a helm binary to use instead of the pinned one.
pub const HELM_ENV: &str = "READYROLL_HELM";

const VERSIONS_ENV: &str = include_str!("../versions.env");

/// Why a helm step failed.
#[derive(Debug, thiserror::Error)]
pub enum HelmError {
    #[error("no helm binary: set {HELM_ENV}, or run `make binaries` to build helm {version} into {cached}")]
    Missing { version: String, cached: PathBuf },
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: PathBuf,
        source: std::io::Error,
    },
    #[error("`helm {args}` failed ({status}):\n{stderr}")]
    Failed {
        args: String,
        status: std::process::ExitStatus,
        stderr: String,
    },
    #[error("`helm {args}` printed invalid YAML: {source}")]
    Yaml {
        args: String,
        source: serde_yaml::Error,
    },
}

/// The helm binary and the chart it works on.
#[derive(Debug, Clone)]
pub struct Helm {
    program: PathBuf,
    kubeconfig: Option<PathBuf>,
}

impl Helm {
    /// Finds helm (see the module docs).
    pub fn locate() -> Result<Self, HelmError> {
        let program = if let Some(path) = std::env::var_os(HELM_ENV) {
            PathBuf::from(path)
        } else {
            let cached = cached_helm();
            if cached.is_file() {
                cached
            } else if let Some(on_path) = find_on_path("helm") {
                on_path
            } else {
                return Err(HelmError::Missing {
                    version: pinned_version(),
                    cached,
                });
            }
        };
        Ok(Self {
            program,
            kubeconfig: None,
        })
    }

    /// helm for a test that was asked to run (the chart tests are `#[ignore]`d and their
    /// tier runs them with `--ignored`).
    ///
    /// # Panics
    /// When helm is missing: a requested chart test must fail rather than pass empty.
    pub fn require() -> Self {
        Self::locate().unwrap_or_else(|err| panic!("helm is unusable: {err}"))
    }

    /// The same helm talking to the cluster of `kubeconfig`.
    pub fn with_kubeconfig(mut self, kubeconfig: &Path) -> Self {
        self.kubeconfig = Some(kubeconfig.to_path_buf());
        self
    }

    /// The repository's chart directory.
    pub fn chart_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("charts")
            .join("readyroll")
    }

    /// Runs helm with `args`; `Err` with its stderr unless it exits 0.
    pub fn run<I, S>(&self, args: I) -> Result<Output, HelmError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        let mut command = Command::new(&self.program);
        command.args(&args);
        // A developer's own repositories and plugins must not change the result.
        let home = std::env::temp_dir().join("readyroll-helm-home");
        command
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_DATA_HOME", home.join("data"));
        if let Some(kubeconfig) = &self.kubeconfig {
            command.env("KUBECONFIG", kubeconfig);
        }
        let output = command.output().map_err(|source| HelmError::Spawn {
            program: self.program.clone(),
            source,
        })?;
        if output.status.success() {
            Ok(output)
        } else {
            Err(HelmError::Failed {
                args: display_args(&args),
                status: output.status,
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            })
        }
    }

    /// `helm template RELEASE CHART -n NAMESPACE ARGS...`, as documents.
    pub fn template(
        &self,
        release: &str,
        namespace: &str,
        args: &[&str],
    ) -> Result<Rendered, HelmError> {
        let chart = Self::chart_dir();
        let mut all: Vec<&OsStr> = vec![
            OsStr::new("template"),
            OsStr::new(release),
            chart.as_os_str(),
            OsStr::new("--namespace"),
            OsStr::new(namespace),
        ];
        all.extend(args.iter().map(OsStr::new));
        let output = self.run(&all)?;
        let text = String::from_utf8_lossy(&output.stdout);
        Rendered::parse(&text).map_err(|source| HelmError::Yaml {
            args: display_args(&all),
            source,
        })
    }
}

/// The documents `helm template` printed.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub documents: Vec<Value>,
}

impl Rendered {
    fn parse(text: &str) -> Result<Self, serde_yaml::Error> {
        let mut documents = Vec::new();
        for document in serde_yaml::Deserializer::from_str(text) {
            let value = Value::deserialize(document)?;
            if !value.is_null() {
                documents.push(value);
            }
        }
        Ok(Self { documents })
    }

    /// Every document of `kind`.
    pub fn of_kind(&self, kind: &str) -> Vec<&Value> {
        self.documents
            .iter()
            .filter(|doc| doc.get("kind").and_then(Value::as_str) == Some(kind))
            .collect()
    }

    /// `(kind, name)` of every document, in order.
    pub fn kinds_and_names(&self) -> Vec<(String, String)> {
        self.documents
            .iter()
            .map(|doc| {
                let field = |value: Option<&Value>| {
                    value.and_then(Value::as_str).unwrap_or_default().to_owned()
                };
                (
                    field(doc.get("kind")),
                    field(doc.get("metadata").and_then(|m| m.get("name"))),
                )
            })
            .collect()
    }

    /// The single document of `kind`, typed.
    ///
    /// # Panics
    /// When there is not exactly one, or it does not parse as `K`.
    #[track_caller]
    pub fn one<K: DeserializeOwned>(&self, kind: &str) -> K {
        let found = self.of_kind(kind);
        assert_eq!(
            found.len(),
            1,
            "expected one {kind}, found {}: {:?}",
            found.len(),
            self.kinds_and_names()
        );
        serde_yaml::from_value(found[0].clone())
            .unwrap_or_else(|err| panic!("{kind} does not parse: {err}"))
    }
}

use serde::Deserialize as _;

fn pinned_version() -> String {
    VERSIONS_ENV
        .lines()
        .find_map(|line| line.trim().strip_prefix("HELM_VERSION="))
        .map_or_else(
            || "(HELM_VERSION missing from e2e/versions.env)".to_owned(),
            |v| v.trim().to_owned(),
        )
}

fn cached_helm() -> PathBuf {
    cache_dir()
        .join("bin")
        .join(format!("helm-{}", pinned_version()))
        .join("helm")
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn display_args(args: &[impl AsRef<OsStr>]) -> String {
    args.iter()
        .map(|a| a.as_ref().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pinned_version_is_read_from_versions_env() {
        assert!(pinned_version().starts_with("v3."), "{}", pinned_version());
    }

    #[test]
    fn documents_parse_and_filter_by_kind() {
        let rendered = Rendered::parse("---\n# only a comment\n---\nkind: A\nmetadata: {name: a}\n---\nkind: B\nmetadata: {name: b}\n")
            .expect("valid YAML");
        assert_eq!(
            rendered.kinds_and_names(),
            vec![
                ("A".to_owned(), "a".to_owned()),
                ("B".to_owned(), "b".to_owned())
            ]
        );
        assert_eq!(rendered.of_kind("B").len(), 1);
    }
}
