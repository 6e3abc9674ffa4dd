//! Values the API server could not take in an applied App: a string (or a
//! key) holding DEL, a C1 control or U+FFFE/U+FFFF (`crd::refused_in_apply`:
//! the YAML reader of apply bodies refuses them). Refused here, naming the
//! option, as the CRD refuses such an App at admission.

use crate::crd::first_refused_in_apply;

use super::report::{join, shown_key, Report};
use super::tree::{Entry, Node, Value};

/// Checks the options whose values reach the App; `name` is left out, as it
/// becomes a Kubernetes name, which holds none of these characters.
pub fn check<'a>(options: impl Iterator<Item = &'a Entry>, path: &str, report: &mut Report) {
    for entry in options.filter(|e| e.key != "name") {
        scan(&entry.value, &join(path, &shown_key(&entry.key)), report);
    }
}

fn scan(node: &Node, at: &str, report: &mut Report) {
    match &node.value {
        Value::Str(s) => {
            if let Some(c) = first_refused_in_apply(s) {
                report.error(node.pos, refused(at, c));
            }
        }
        Value::List(items) => {
            for (i, item) in items.iter().enumerate() {
                scan(item, &format!("{at}[{i}]"), report);
            }
        }
        Value::Map(entries) => {
            for entry in entries {
                let inner = join(at, &shown_key(&entry.key));
                if let Some(c) = first_refused_in_apply(&entry.key) {
                    report.error(entry.key_pos, refused(&inner, c));
                }
                scan(&entry.value, &inner, report);
            }
        }
        _ => {}
    }
}

fn refused(at: &str, c: char) -> String {
    format!(
        "{at}: holds U+{:04X}, a control character (DEL, C1, U+FFFE or U+FFFF) that Kubernetes refuses in an applied object",
        u32::from(c)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(json: serde_json::Value) -> Vec<String> {
        let node = Node::from_json(&json);
        let mut report = Report::new("e.json");
        let entries = node.as_map().unwrap_or_default();
        check(entries.iter(), "apps[0]", &mut report);
        report.into_items().into_iter().map(|d| d.message).collect()
    }

    #[test]
    fn refused_characters_are_named_with_the_option() {
        let found = errors(serde_json::json!({
            "name": "we\u{7f}b",
            "script": "a\u{7f}",
            "args": ["ok", "\u{9f}"],
            "env": { "K\u{80}": "v", "A": { "x": "\u{ffff}" } }
        }));
        assert_eq!(found.len(), 4, "{found:?}");
        for at in [
            "apps[0].script: holds U+007F",
            "apps[0].args[1]: holds U+009F",
            "apps[0].env.K\u{80}: holds U+0080",
            "apps[0].env.A.x: holds U+FFFF",
        ] {
            assert!(found.iter().any(|m| m.starts_with(at)), "{at}: {found:?}");
        }
    }

    #[test]
    fn other_text_passes() {
        let found = errors(serde_json::json!({
            "script": "tab\there\u{1}",
            "env": { "A": "é 😀 \u{a0}" }
        }));
        assert!(found.is_empty(), "{found:?}");
    }
}
