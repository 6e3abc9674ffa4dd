//! JSON ecosystem files.
//!
//! serde_json decides what is valid JSON and words the syntax errors. JSON
//! is also YAML, so the position-keeping YAML parser then reads the same
//! text to learn where each value sits. When the two disagree on any value
//! (a rare escape or number form), serde_json's reading wins and positions
//! are simply not reported.

use super::diagnostic::{Diagnostic, Pos};
use super::tree::Node;
use super::yaml;

pub fn load(text: &str, file: &str) -> Result<Node, Diagnostic> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| syntax_error(&e, text, file))?;
    match yaml::load(text, file) {
        Ok(positioned) if positioned.to_json() == value => Ok(positioned),
        // serde_json keeps the last of two equal keys; that loses data silently.
        Err(e) if e.message.contains("duplicated key") => Err(Diagnostic::error(
            file,
            e.pos,
            "JSON: this key appears twice in one object; keep one",
        )),
        _ => Ok(Node::from_json(&value)),
    }
}

fn syntax_error(err: &serde_json::Error, text: &str, file: &str) -> Diagnostic {
    let full = err.to_string();
    // serde_json appends " at line L column C"; the position goes in front instead.
    let message = match full.rfind(" at line ") {
        Some(cut) => &full[..cut],
        None => &full,
    };
    let mut message = format!("JSON: {message}");
    let pos = (err.line() > 0).then(|| Pos {
        line: err.line(),
        column: char_column(text, err.line(), err.column()),
    });
    if looks_like_a_comment(text, err.line(), err.column()) {
        message.push_str(
            " (PM2 evaluates .json files as JavaScript, which allows comments; JSON does not: \
             remove the comment, or rename the file to *.config.js)",
        );
    }
    Diagnostic::error(file, pos, message)
}

/// serde_json counts bytes; editors count characters.
fn char_column(text: &str, line: usize, byte_column: usize) -> usize {
    let Some(line_text) = text.split('\n').nth(line.saturating_sub(1)) else {
        return byte_column;
    };
    let mut bytes = byte_column.saturating_sub(1).min(line_text.len());
    while !line_text.is_char_boundary(bytes) {
        bytes -= 1;
    }
    line_text[..bytes].chars().count() + 1
}

fn looks_like_a_comment(text: &str, line: usize, column: usize) -> bool {
    text.split('\n')
        .nth(line.saturating_sub(1))
        .and_then(|l| l.get(column.saturating_sub(1)..))
        .is_some_and(|rest| rest.starts_with("//") || rest.starts_with("/*"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::tree::Value;

    #[test]
    fn syntax_error_names_line_and_column() {
        let text = "{\n  \"apps\": [\n    { \"name\": \"web\" \"script\": \"a.js\" }\n  ]\n}\n";
        let err = load(text, "e.json").unwrap_err();
        assert_eq!(
            err.pos,
            Some(Pos {
                line: 3,
                column: 21
            })
        );
        assert_eq!(err.to_string(), "e.json:3:21: JSON: expected `,` or `}`");
    }

    #[test]
    fn columns_count_characters() {
        let err = load("{\"é\": 1,}", "e.json").unwrap_err();
        assert_eq!(err.pos, Some(Pos { line: 1, column: 9 }), "{err}");
    }

    #[test]
    fn duplicate_keys_are_an_error_not_a_silent_choice() {
        let err = load("{\n  \"name\": \"a\",\n  \"name\": \"b\"\n}", "e.json").unwrap_err();
        assert_eq!(err.pos, Some(Pos { line: 3, column: 3 }), "{err}");
        assert!(err.message.contains("twice"), "{err}");
    }

    #[test]
    fn comments_get_a_hint() {
        let err = load("{\n  // web\n  \"name\": \"web\"\n}", "e.json").unwrap_err();
        assert!(err.message.contains("rename the file"), "{err}");
    }

    #[test]
    fn tab_indented_json_keeps_positions() {
        let node = load("{\n\t\"kill_timeout\": 5000\n}\n", "e.json").unwrap();
        let entry = &node.as_map().unwrap()[0];
        assert_eq!(entry.key_pos, Some(Pos { line: 2, column: 2 }));
        assert_eq!(
            entry.value.pos,
            Some(Pos {
                line: 2,
                column: 18
            })
        );
        assert!(matches!(entry.value.value, Value::Int(5000)));
    }

    #[test]
    fn strings_that_look_like_numbers_stay_strings() {
        let node = load(r#"{"a": "5000", "b": "true"}"#, "e.json").unwrap();
        let map = node.as_map().unwrap();
        assert!(matches!(&map[0].value.value, Value::Str(s) if s == "5000"));
        assert!(matches!(&map[1].value.value, Value::Str(s) if s == "true"));
    }

    #[test]
    fn surrogate_pair_escapes_fall_back_to_serde_json() {
        let node = load(r#"{"a": "\ud83d\ude00"}"#, "e.json").unwrap();
        assert!(matches!(&node.as_map().unwrap()[0].value.value, Value::Str(s) if s == "😀"));
    }
}
