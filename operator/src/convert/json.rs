//! JSON ecosystem files (`.json`, `.json5`), read the way PM2 reads them.
//!
//! PM2 evaluates the text as a JavaScript expression. The JSON5-level
//! parser reads nearly every real file natively, with positions; a file
//! that is JavaScript beyond that (`process.env.PORT`) is evaluated by
//! node, as PM2 would, and its values then carry no positions. What
//! neither accepts is reported at the place the parser stopped.

use super::diagnostic::Diagnostic;
use super::js;
use super::json5;
use super::tree::Node;

pub fn load(text: &str, file: &str) -> Result<(Node, Vec<Diagnostic>), Diagnostic> {
    match json5::parse(text) {
        Ok((node, duplicates)) => {
            let notes = duplicates
                .into_iter()
                .map(|d| {
                    Diagnostic::warning(
                        file,
                        Some(d.pos),
                        format!(
                            "'{}' appears twice in one object: PM2 (JavaScript) keeps the last one, \
                             this one, and so does readyroll; remove the other",
                            d.key
                        ),
                    )
                })
                .collect();
            Ok((node, notes))
        }
        Err(e) if e.needs_evaluation => match js::evaluate(text, file) {
            Ok((node, mut notes)) => {
                notes.insert(
                    0,
                    Diagnostic::warning(
                        file,
                        Some(e.pos),
                        format!(
                            "{}; evaluated with node, as PM2 evaluates .json files, so messages \
                             about the file's values carry no line numbers",
                            e.message
                        ),
                    ),
                );
                Ok((node, notes))
            }
            Err(node) => Err(Diagnostic::error(
                file,
                Some(e.pos),
                format!(
                    "{}, and evaluating the file as PM2 does failed too: {}",
                    e.message,
                    first_error(&node.message)
                ),
            )),
        },
        Err(e) => Err(Diagnostic::error(file, Some(e.pos), e.message)),
    }
}

/// The line of node's report that names the error (`SyntaxError: ...`),
/// or the report's first line.
fn first_error(report: &str) -> &str {
    report
        .lines()
        .map(str::trim)
        .find(|l| {
            l.split(':')
                .next()
                .is_some_and(|kind| kind.ends_with("Error"))
        })
        .unwrap_or_else(|| report.lines().next().unwrap_or(report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::diagnostic::Pos;
    use crate::convert::tree::Value;

    #[test]
    fn syntax_errors_name_line_and_column() {
        let text = "{\n  \"apps\": [\n    { \"name\": \"web\", \"script\": 'a.js }\n  ]\n}\n";
        let err = load(text, "e.json").unwrap_err();
        assert_eq!(
            err.pos,
            Some(Pos {
                line: 3,
                column: 32
            }),
            "{err}"
        );
        assert!(err.message.contains("not closed"), "{err}");
    }

    #[test]
    fn comments_trailing_commas_and_bare_keys_are_read_like_pm2() {
        let text = "{\n  // the web tier\n  apps: [{ name: 'web', kill_timeout: 5000, },],\n}\n";
        let (node, notes) = load(text, "e.json").unwrap();
        assert!(notes.is_empty());
        let apps = &node.as_map().unwrap()[0];
        assert_eq!(apps.key_pos, Some(Pos { line: 3, column: 3 }));
        assert_eq!(apps.key, "apps");
    }

    #[test]
    fn a_duplicate_key_keeps_the_last_value_with_a_warning() {
        let (node, notes) = load("{\n  \"name\": \"a\",\n  \"name\": \"b\"\n}", "e.json").unwrap();
        assert!(matches!(&node.as_map().unwrap()[0].value.value, Value::Str(s) if s == "b"));
        assert_eq!(notes[0].pos, Some(Pos { line: 3, column: 3 }));
        assert!(!notes[0].is_error());
    }

    #[test]
    fn expressions_are_evaluated_by_node() {
        let text = "{ name: 'web', script: 'a.js', port: Number(process.env.NO_SUCH_VAR || 3000) }";
        let (node, notes) = load(text, "e.json").unwrap();
        assert_eq!(
            node.to_json(),
            serde_json::json!({"name": "web", "script": "a.js", "port": 3000})
        );
        assert_eq!(
            notes[0].pos,
            Some(Pos {
                line: 1,
                column: 38
            }),
            "{}",
            notes[0]
        );
        let err = load("{ port: no_such_function() }", "e.json").unwrap_err();
        assert!(err.message.contains("no_such_function"), "{err}");
        assert_eq!(err.pos, Some(Pos { line: 1, column: 9 }));
    }

    #[test]
    fn strings_that_look_like_numbers_stay_strings() {
        let (node, _) = load(r#"{"a": "5000", "b": "true"}"#, "e.json").unwrap();
        let map = node.as_map().unwrap();
        assert!(matches!(&map[0].value.value, Value::Str(s) if s == "5000"));
        assert!(matches!(&map[1].value.value, Value::Str(s) if s == "true"));
    }
}
