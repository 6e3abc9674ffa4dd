//! The shapes PM2 accepts for a whole file (`API._startJson`):
//! `{ apps: [...] }` (or the older `{ pm2: [...] }`), a list of apps, or
//! one app object; `apps` may itself be a single object. Beside the apps,
//! `static` lists `pm2 serve` file servers.

use super::report::Report;
use super::tree::{Entry, Node, Value};

/// Why the top-level `deploy` block is not converted.
const DEPLOY: &str = "`pm2 deploy` (deployment over SSH) has no Kubernetes part; only \
                      deploy.<env>.env is used, under --env <env>, as PM2 merges it";

/// The entries of a file to convert, each with its path for messages.
#[derive(Default)]
pub struct Entries<'a> {
    pub apps: Vec<(String, &'a Node)>,
    pub statics: Vec<(String, &'a Node)>,
}

pub fn entries<'a>(root: &'a Node, report: &mut Report) -> Entries<'a> {
    match &root.value {
        Value::List(items) => Entries {
            apps: indexed("", items),
            statics: Vec::new(),
        },
        Value::Map(entries) => {
            let named = |key: &str| entries.iter().find(|e| e.key == key && !e.value.is_null());
            let list = named("apps").or_else(|| named("pm2"));
            let statics = named("static");
            let mut found = Entries::default();
            if let Some(statics) = statics {
                found.statics = list_of(statics, "file servers", report);
            }
            let Some(list) = list else {
                if statics.is_none() {
                    found.apps = vec![(String::new(), root)];
                }
                return found;
            };
            for e in entries
                .iter()
                .filter(|e| e.key != list.key && e.key != "static")
            {
                let message = match e.key.as_str() {
                    "deploy" => format!("ignored top-level 'deploy': {DEPLOY}"),
                    "apps" | "pm2" => {
                        format!("ignored top-level '{}': '{}' holds the apps", e.key, list.key)
                    }
                    key => format!(
                        "unknown top-level key '{key}' ignored: PM2 reads only apps, deploy and static"
                    ),
                };
                report.warning(e.key_pos, message);
            }
            found.apps = list_of(list, "apps", report);
            found
        }
        _ => {
            report.error(
                root.pos,
                format!(
                    "expected an ecosystem ({{ \"apps\": [...] }}), a list of apps or one app, got {}",
                    root.describe()
                ),
            );
            Entries::default()
        }
    }
}

fn list_of<'a>(entry: &'a Entry, what: &str, report: &mut Report) -> Vec<(String, &'a Node)> {
    match &entry.value.value {
        Value::List(items) => indexed(&entry.key, items),
        Value::Map(_) => vec![(entry.key.clone(), &entry.value)],
        _ => {
            report.error(
                entry.value.pos,
                format!(
                    "{}: expected a list of {what}, got {}",
                    entry.key,
                    entry.value.describe()
                ),
            );
            Vec::new()
        }
    }
}

fn indexed<'a>(key: &str, items: &'a [Node]) -> Vec<(String, &'a Node)> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| (format!("{key}[{i}]"), item))
        .collect()
}
