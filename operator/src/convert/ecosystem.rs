//! The shapes PM2 accepts for a whole file (`API._startJson`):
//! `{ apps: [...] }` (or the older `{ pm2: [...] }`), a list of apps, or
//! one app object; `apps` may itself be a single object.

use super::report::Report;
use super::tree::{Node, Value};

/// Top-level keys beside `apps` that PM2 reads, and why they are not converted.
const TOP_LEVEL_IGNORED: &[(&str, &str)] = &[
    (
        "deploy",
        "`pm2 deploy` (deployment over SSH) has no Kubernetes part",
    ),
    (
        "static",
        "PM2's static file servers (`pm2 serve`) are not converted; serve files from an image",
    ),
];

/// The app entries of the file, each with its path for messages.
pub fn apps<'a>(root: &'a Node, report: &mut Report) -> Vec<(String, &'a Node)> {
    match &root.value {
        Value::List(items) => indexed("", items),
        Value::Map(entries) => {
            let list = entries
                .iter()
                .find(|e| e.key == "apps")
                .or_else(|| entries.iter().find(|e| e.key == "pm2"));
            let Some(list) = list else {
                return vec![(String::new(), root)];
            };
            for e in entries.iter().filter(|e| e.key != list.key) {
                let message = match TOP_LEVEL_IGNORED.iter().find(|(k, _)| *k == e.key) {
                    Some((key, why)) => format!("ignored top-level '{key}': {why}"),
                    None if e.key == "apps" || e.key == "pm2" => {
                        format!("ignored top-level '{}': '{}' holds the apps", e.key, list.key)
                    }
                    None => format!(
                        "unknown top-level key '{}' ignored: PM2 reads only apps, deploy and static",
                        e.key
                    ),
                };
                report.warning(e.key_pos, message);
            }
            match &list.value.value {
                Value::List(items) => indexed(&list.key, items),
                Value::Map(_) => vec![(list.key.clone(), &list.value)],
                _ => {
                    report.error(
                        list.value.pos,
                        format!(
                            "{}: expected a list of apps, got {}",
                            list.key,
                            list.value.describe()
                        ),
                    );
                    Vec::new()
                }
            }
        }
        _ => {
            report.error(
                root.pos,
                format!(
                    "expected an ecosystem ({{ \"apps\": [...] }}), a list of apps or one app, got {}",
                    root.describe()
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
