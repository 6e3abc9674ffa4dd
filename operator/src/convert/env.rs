//! The environment: PM2's `env`, `env_<profile>` blocks, `port` and the
//! `deploy.<profile>.env` block of the file, merged in PM2's order
//! (`Common.prepareAppConf`, then `Common.mergeEnvironmentVariables`):
//! `env.PORT = port` first; under `--env P`, `deploy.P.env` below `env`,
//! and `env_P` over both, so a profile's `PORT` wins over `port`.

use std::collections::BTreeMap;

use crate::core::is_env_var_name;
use crate::crd::AppSpec;

use super::diagnostic::Pos;
use super::fields::Fields;
use super::report::Report;
use super::tree::{Entry, Node, Value};
use super::values;

/// The rule the operator applies to env names, in words.
const ENV_NAME_RULE: &str =
    "letters, digits, '_', '-' and '.', not starting with a digit; the operator refuses any other";

pub fn apply(f: &mut Fields<'_, '_>, spec: &mut AppSpec, deploy_env: Option<&Entry>) {
    if let Some(e) = f.get("env") {
        spec.env = env_block(f.report, f.label, e).unwrap_or_default();
    }
    if let Some(deploy) = deploy_env {
        merge_deploy_env(f, spec, deploy);
    }
    for (profile, e) in &f.keys.profiles {
        if let Some(vars) = env_block(f.report, f.label, e) {
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

/// An `env` block: names the operator accepts, values as PM2 passes them.
/// A bad name is reported at the name.
fn env_block(report: &mut Report, label: &str, entry: &Entry) -> Option<BTreeMap<String, String>> {
    let entries = match &entry.value.value {
        Value::Map(entries) => entries,
        // PM2's schema allows a string; Object.assign then copies its
        // characters into variables named 0, 1, ..., which no app reads.
        Value::Str(s) => {
            report.warning(
                entry.value.pos,
                format!(
                    "{label}: ignored {} {s:?}: PM2 accepts a string here but turns it into variables \
                     named 0, 1, 2, ... (one per character), which no app reads; write an object of \
                     NAME: value pairs",
                    entry.key
                ),
            );
            return Some(BTreeMap::new());
        }
        _ => {
            report.error(
                entry.value.pos,
                format!(
                    "{label}: {}: expected an object of NAME: value pairs, got {}",
                    entry.key,
                    entry.value.describe()
                ),
            );
            return None;
        }
    };
    let mut vars = BTreeMap::new();
    let mut valid = true;
    for e in entries {
        if is_env_var_name(&e.key) {
            vars.insert(e.key.clone(), values::env_value(&e.value));
        } else {
            valid = false;
            report.error(
                e.key_pos,
                format!(
                    "{label}: {}: {:?} is not a valid environment variable name ({ENV_NAME_RULE})",
                    entry.key, e.key
                ),
            );
        }
    }
    valid.then_some(vars)
}

/// `deploy.<profile>.env` under the selected profile: PM2 merges it below
/// the app's `env`.
fn merge_deploy_env(f: &mut Fields<'_, '_>, spec: &mut AppSpec, deploy: &Entry) {
    let Some(vars) = env_block(f.report, f.label, deploy) else {
        return;
    };
    let added: Vec<&str> = vars
        .keys()
        .filter(|k| !spec.env.contains_key(*k))
        .map(String::as_str)
        .collect();
    if !added.is_empty() {
        f.report.warning(
            deploy.value.pos,
            format!(
                "{}: env gets {} from the file's deploy block, as PM2 merges it under --env \
                 (the app's own env wins)",
                f.label,
                added.join(", ")
            ),
        );
    }
    for (name, value) in vars {
        spec.env.entry(name).or_insert(value);
    }
}

/// PM2's `port` sets `env.PORT`; a profile is laid over it afterwards, so
/// a profile's own `PORT` stays and wins when that profile is selected.
fn inject_port(port: i32, label: &str, spec: &mut AppSpec, report: &mut Report, pos: Option<Pos>) {
    let port_text = port.to_string();
    if let Some(old) = spec.env.insert("PORT".to_string(), port_text.clone()) {
        if old != port_text {
            report.warning(
                pos,
                format!(
                    "{label}: env.PORT {old:?} becomes {port_text:?}: PM2's port option sets PORT"
                ),
            );
        }
    }
    for (profile, vars) in &spec.env_profiles {
        match vars.get("PORT") {
            Some(theirs) if *theirs != port_text => report.warning(
                pos,
                format!(
                    "{label}: env_{profile}.PORT {theirs:?} wins over port {port} under --env {profile}, \
                     as in PM2 (the profile is laid over env); the Service and probes use spec.port {port}, \
                     so make the two agree"
                ),
            ),
            _ => {}
        }
    }
}

/// `deploy.<profile>.env` of the file, when that profile is selected.
pub fn deploy_env<'a>(root: &'a Node, profile: Option<&str>) -> Option<&'a Entry> {
    let profile = profile?;
    let deploy = root.as_map()?.iter().find(|e| e.key == "deploy")?;
    let target = deploy.value.as_map()?.iter().find(|e| e.key == profile)?;
    target
        .value
        .as_map()?
        .iter()
        .find(|e| e.key == "env" && !e.value.is_null())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_operators_env_name_rule_applies() {
        let mut report = Report::new("e.json");
        let node = Node::from_json(
            &serde_json::json!({"env": {"OK_1": "a", "MY VAR": "b", "1X": "c", "$(id)": "d"}}),
        );
        let entry = &node.as_map().unwrap()[0];
        assert_eq!(env_block(&mut report, "app (web)", entry), None);
        let errors: Vec<_> = report.into_items().into_iter().map(|d| d.message).collect();
        assert_eq!(errors.len(), 3, "{errors:?}");
        for bad in ["\"MY VAR\"", "\"1X\"", "\"$(id)\""] {
            assert!(
                errors
                    .iter()
                    .any(|e| e.starts_with("app (web): env: ") && e.contains(bad)),
                "{bad}: {errors:?}"
            );
        }
    }
}
