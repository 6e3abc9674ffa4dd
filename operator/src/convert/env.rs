//! The environment: PM2's `env`, `env_<profile>` blocks and `port`.

use std::collections::BTreeMap;

use crate::crd::AppSpec;

use super::fields::Fields;
use super::report::{join, Report};
use super::tree::Entry;
use super::values;

pub fn apply(f: &mut Fields<'_, '_>, spec: &mut AppSpec) {
    if let Some(e) = f.get("env") {
        spec.env = env_block(f.report, f.path, e).unwrap_or_default();
    }
    for (profile, e) in &f.keys.profiles {
        if let Some(vars) = env_block(f.report, f.path, e) {
            spec.env_profiles.insert(profile.to_string(), vars);
        }
    }
    spec.port = f
        .read("port", |n| values::integer_in(n, "a port number", 1, 65535))
        .map(|p| p as i32);
    if let Some(port) = spec.port {
        let pos = f.get("port").and_then(|e| e.value.pos);
        inject_port(port, f.label, spec, f.report, pos);
    }
}

/// An `env` block: names as Kubernetes accepts them, values as PM2 passes
/// them. A bad name is reported at the name.
fn env_block(report: &mut Report, path: &str, entry: &Entry) -> Option<BTreeMap<String, String>> {
    let block = join(path, &entry.key);
    let Some(entries) = entry.value.as_map() else {
        report.error(
            entry.value.pos,
            format!(
                "{block}: expected an object of NAME: value pairs, got {}",
                entry.value.describe()
            ),
        );
        return None;
    };
    let mut vars = BTreeMap::new();
    let mut valid = true;
    for e in entries {
        let name_ok = !e.key.is_empty()
            && !e.key.contains('=')
            && e.key.chars().all(|c| c.is_ascii_graphic() || c == ' ');
        if name_ok {
            vars.insert(e.key.clone(), values::env_value(&e.value));
        } else {
            valid = false;
            report.error(
                e.key_pos,
                format!(
                    "{block}: {:?} is not a valid environment variable name (printable ASCII without '=')",
                    e.key
                ),
            );
        }
    }
    valid.then_some(vars)
}

/// PM2's `port` also sets `PORT` in the environment, over any `PORT` in
/// `env` or a profile; the same holds here.
fn inject_port(
    port: i32,
    label: &str,
    spec: &mut AppSpec,
    report: &mut Report,
    pos: Option<super::diagnostic::Pos>,
) {
    let port = port.to_string();
    let blocks = std::iter::once(("env".to_string(), &mut spec.env)).chain(
        spec.env_profiles
            .iter_mut()
            .map(|(p, vars)| (format!("env_{p}"), vars)),
    );
    for (block, vars) in blocks {
        let replaced = match vars.get("PORT") {
            Some(old) if *old != port => Some(old.clone()),
            _ => None,
        };
        if let Some(old) = replaced {
            report.warning(
                pos,
                format!(
                    "{label}: {block}.PORT {old:?} becomes {port:?}: PM2's port option sets PORT"
                ),
            );
        }
        if block == "env" || vars.contains_key("PORT") {
            vars.insert("PORT".to_string(), port.clone());
        }
    }
}
