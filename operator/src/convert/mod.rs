//! `readyroll convert`: a PM2 ecosystem file (`.json`/`.json5` read as PM2
//! reads them, `.yaml`/`.yml`, or `.js`/`.cjs`/`.mjs` evaluated by node)
//! → `App` resources.
//!
//! Every PM2 option is either carried into the App or reported as having
//! no meaning in a pod; unknown keys are reported too. Wrong values are
//! errors naming the file, line, column and option, and a file with any
//! error yields no App at all.

mod app;
mod apply_text;
mod command;
mod diagnostic;
mod ecosystem;
mod env;
mod fields;
mod js;
mod json;
mod json5;
mod name;
mod options;
#[cfg(test)]
mod properties;
mod report;
mod serve;
mod tree;
mod values;
mod yaml;

use std::collections::HashSet;
use std::path::Path;

use crate::crd::App;

pub use diagnostic::{Diagnostic, Pos, Severity};
pub use name::{is_dns_label, is_namespace};
pub use options::{camel_case, lookup, Meaning, Pm2Option, IMAGE_KEY, OPTIONS};

use report::{join, Report};
use tree::Node;

/// What the command line adds to the file.
#[derive(Clone, Debug, Default)]
pub struct ConvertOptions {
    /// Container image for apps without their own `image` key.
    pub image: Option<String>,
    /// `metadata.namespace` of every App; none leaves it to `kubectl`.
    pub namespace: Option<String>,
    /// PM2's `--env NAME`: the `env_NAME` profile to select.
    pub profile: Option<String>,
}

/// A converted file: the Apps, in file order, and the warnings about it.
#[derive(Debug)]
pub struct Conversion {
    pub apps: Vec<App>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Why a file was not converted.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("cannot read {file}: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error(
        "{file}: unsupported file type: expected .json, .json5, .yaml, .yml, .js, .cjs or .mjs"
    )]
    UnsupportedFormat { file: String },
    #[error("{message}")]
    Options { message: String },
    /// The file has problems; `diagnostics` lists them (and any warnings).
    #[error("{file}: {}; no App written", problems(diagnostics))]
    Invalid {
        file: String,
        diagnostics: Vec<Diagnostic>,
    },
}

/// How an ecosystem file is read, from its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
    JavaScript,
}

impl Format {
    pub fn of(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()? {
            "json" | "json5" => Some(Format::Json),
            "yaml" | "yml" => Some(Format::Yaml),
            "js" | "cjs" | "mjs" => Some(Format::JavaScript),
            _ => None,
        }
    }
}

/// Converts the ecosystem file at `path`.
pub fn convert_file(path: &Path, opts: &ConvertOptions) -> Result<Conversion, ConvertError> {
    let file = path.display().to_string();
    let format =
        Format::of(path).ok_or_else(|| ConvertError::UnsupportedFormat { file: file.clone() })?;
    check_options(opts)?;
    let mut report = Report::new(&file);
    let root = match format {
        Format::JavaScript => js::load(path, &file).map(|(root, notes)| {
            notes.into_iter().for_each(|n| report.push(n));
            root
        }),
        Format::Json | Format::Yaml => {
            let text = std::fs::read_to_string(path).map_err(|source| ConvertError::Read {
                file: file.clone(),
                source,
            })?;
            parse(&text, format, &file, &mut report)
        }
    };
    finish(root, file, opts, report)
}

/// Converts ecosystem text already in memory; `file` names it in messages.
pub fn convert_text(
    text: &str,
    format: Format,
    file: &str,
    opts: &ConvertOptions,
) -> Result<Conversion, ConvertError> {
    check_options(opts)?;
    let mut report = Report::new(file);
    let root = match format {
        Format::JavaScript => {
            return Err(ConvertError::UnsupportedFormat {
                file: file.to_string(),
            })
        }
        _ => parse(text, format, file, &mut report),
    };
    finish(root, file.to_string(), opts, report)
}

/// The Apps as YAML documents separated by `---`, ready for `kubectl apply -f -`.
pub fn to_yaml(apps: &[App]) -> Result<String, serde_yaml::Error> {
    let mut out = String::new();
    for app in apps {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(app)?);
    }
    Ok(out)
}

fn problems(diagnostics: &[Diagnostic]) -> String {
    match diagnostics.iter().filter(|d| d.is_error()).count() {
        1 => "1 problem".to_string(),
        n => format!("{n} problems"),
    }
}

fn parse(text: &str, format: Format, file: &str, report: &mut Report) -> Result<Node, Diagnostic> {
    match format {
        Format::Json => json::load(text, file).map(|(root, notes)| {
            notes.into_iter().for_each(|n| report.push(n));
            root
        }),
        _ => yaml::load(text, file),
    }
}

fn check_options(opts: &ConvertOptions) -> Result<(), ConvertError> {
    let invalid = |message: String| Err(ConvertError::Options { message });
    if let Some(image) = &opts.image {
        if image.trim().is_empty() {
            return invalid("--image must not be empty".to_string());
        }
    }
    if let Some(ns) = &opts.namespace {
        if !is_namespace(ns) {
            return invalid(format!(
                "--namespace {ns:?} is not a valid namespace: lowercase letters, digits and '-', \
                 starting and ending with a letter or digit, at most 63 characters"
            ));
        }
    }
    if let Some(profile) = &opts.profile {
        if profile.is_empty() || profile.chars().any(char::is_whitespace) {
            return invalid(format!(
                "--env {profile:?}: a profile name has no spaces, as in --env production"
            ));
        }
    }
    Ok(())
}

fn finish(
    root: Result<Node, Diagnostic>,
    file: String,
    opts: &ConvertOptions,
    mut report: Report,
) -> Result<Conversion, ConvertError> {
    let apps = match root {
        Ok(root) => convert_tree(&root, opts, &mut report),
        Err(diagnostic) => {
            report.push(diagnostic);
            Vec::new()
        }
    };
    let mut diagnostics = report.into_items();
    // In file order; messages about the whole file (no position) last.
    diagnostics.sort_by_key(|d| (d.pos.is_none(), d.pos));
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(ConvertError::Invalid { file, diagnostics });
    }
    Ok(Conversion { apps, diagnostics })
}

fn convert_tree(root: &Node, opts: &ConvertOptions, report: &mut Report) -> Vec<App> {
    let entries = ecosystem::entries(root, report);
    if entries.apps.is_empty() && entries.statics.is_empty() {
        if report.error_count() == 0 {
            report.error(root.pos, "no apps: the apps list is empty");
        }
        return Vec::new();
    }
    let profile_defined = opts.profile.as_ref().is_none_or(|profile| {
        entries.apps.iter().any(|(_, node)| {
            node.as_map().is_some_and(|m| {
                m.iter()
                    .any(|e| e.key == format!("env_{profile}") && !e.value.is_null())
            })
        })
    });
    if let (Some(profile), false) = (&opts.profile, profile_defined) {
        if !entries.apps.is_empty() {
            report.warning(
                None,
                format!(
                    "--env {profile}: no app defines env_{profile}; every app keeps its env \
                     (PM2 warns the same and goes on)"
                ),
            );
        }
    }
    let ctx = app::Context {
        default_image: opts.image.as_deref(),
        profile: opts.profile.as_deref(),
        deploy_env: env::deploy_env(root, opts.profile.as_deref()),
        profile_defined,
    };
    let mut converted: Vec<_> = entries
        .apps
        .iter()
        .filter_map(|(path, node)| app::convert(node, path, &ctx, report))
        .collect();
    converted.extend(
        entries
            .statics
            .iter()
            .filter_map(|(path, node)| serve::convert(node, path, ctx.default_image, report)),
    );

    // One App per app: a name met twice is numbered, as PM2 would keep both.
    let mut taken: HashSet<String> = HashSet::new();
    let mut out = Vec::with_capacity(converted.len());
    for mut c in converted {
        if taken.contains(&c.name) {
            let renamed = name::numbered(&c.name, |n| taken.contains(n) || n == c.name);
            report.warning(
                c.name_pos,
                format!(
                    "{}: {:?} is already the name of another app; this one becomes {renamed:?} \
                     (two Apps in one namespace need different names)",
                    join(&c.path, "name"),
                    c.name
                ),
            );
            c.name = renamed;
        }
        taken.insert(c.name.clone());
        let mut app = App::new(&c.name, c.spec);
        app.metadata.namespace = opts.namespace.clone();
        out.push(app);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> ConvertOptions {
        ConvertOptions {
            image: Some("web:1".to_string()),
            ..ConvertOptions::default()
        }
    }

    #[test]
    fn text_in_memory_converts_like_a_file() {
        let text = r#"{"apps": [{"name": "web", "script": "a.js", "watch": true}]}"#;
        let conversion = convert_text(text, Format::Json, "mem.json", &opts()).unwrap();
        assert_eq!(conversion.apps.len(), 1);
        assert_eq!(conversion.apps[0].spec.script.as_deref(), Some("a.js"));
        assert_eq!(conversion.diagnostics.len(), 1);
        assert_eq!(conversion.diagnostics[0].severity, Severity::Warning);
        let yaml = to_yaml(&conversion.apps).unwrap();
        assert!(
            yaml.starts_with("---\napiVersion: readyroll.dev/v1alpha1\nkind: App\n"),
            "{yaml}"
        );
    }

    #[test]
    fn errors_carry_every_diagnostic_in_file_order() {
        let text =
            "apps:\n  - name: web\n    kill_timeout: soon\n    watch: true\n    instances: x\n";
        let Err(ConvertError::Invalid { diagnostics, .. }) =
            convert_text(text, Format::Yaml, "e.yaml", &opts())
        else {
            panic!("a file with errors is refused")
        };
        let lines: Vec<_> = diagnostics.iter().map(|d| d.pos.map(|p| p.line)).collect();
        assert_eq!(lines, [Some(3), Some(4), Some(5)]);
        assert_eq!(diagnostics.iter().filter(|d| d.is_error()).count(), 2);
    }

    #[test]
    fn instance_var_and_increment_var_become_app_fields() {
        let text = r#"{"apps": [{"name": "web", "script": "a.js", "instance_var": "INSTANCE_ID", "increment_var": "PORT"}]}"#;
        let conversion = convert_text(text, Format::Json, "i.json", &opts()).unwrap();
        let spec = &conversion.apps[0].spec;
        assert_eq!(spec.instance_var.as_deref(), Some("INSTANCE_ID"));
        assert_eq!(spec.increment_var.as_deref(), Some("PORT"));
        assert!(
            conversion.diagnostics.is_empty(),
            "{:?}",
            conversion.diagnostics
        );

        let text = "apps:\n  - name: web\n    script: a.js\n    instance_var: 1X\n";
        let Err(ConvertError::Invalid { diagnostics, .. }) =
            convert_text(text, Format::Yaml, "i.yaml", &opts())
        else {
            panic!("an instance_var that is no variable name is refused")
        };
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(diagnostics[0].pos.map(|p| p.line), Some(4));
        assert!(
            diagnostics[0].message.contains("instance_var")
                && diagnostics[0]
                    .message
                    .contains("not an environment variable name"),
            "{}",
            diagnostics[0].message
        );
    }

    #[test]
    fn options_are_checked_before_the_file() {
        let bad = ConvertOptions {
            namespace: Some("Prod".to_string()),
            ..opts()
        };
        assert!(matches!(
            convert_text("{}", Format::Json, "e.json", &bad),
            Err(ConvertError::Options { .. })
        ));
        assert!(Format::of(Path::new("ecosystem.config.cjs")) == Some(Format::JavaScript));
        assert!(Format::of(Path::new("ecosystem.toml")).is_none());
    }
}
