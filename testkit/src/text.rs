//! Ecosystem values written out the ways people write them: strict JSON,
//! JSON5 as PM2 reads `.json` (comments, bare keys, single quotes,
//! trailing commas), YAML block style, and any of them damaged.

use proptest::prelude::*;
use serde_json::Value;

/// `value` as JSON5: bare keys where they are identifiers, single-quoted
/// strings, trailing commas and comments.
pub fn json5(value: &Value) -> String {
    let mut out = String::from("// ecosystem\n");
    write_json5(value, 0, &mut out);
    out.push('\n');
    out
}

fn write_json5(value: &Value, indent: usize, out: &mut String) {
    let pad = "  ".repeat(indent + 1);
    match value {
        Value::String(s) => out.push_str(&single_quoted(s)),
        Value::Array(items) => {
            out.push_str("[\n");
            for item in items {
                out.push_str(&pad);
                write_json5(item, indent + 1, out);
                out.push_str(",\n");
            }
            out.push_str(&"  ".repeat(indent));
            out.push(']');
        }
        Value::Object(map) => {
            out.push_str("{ /* app */\n");
            for (key, item) in map {
                out.push_str(&pad);
                if is_identifier(key) {
                    out.push_str(key);
                } else {
                    out.push_str(&single_quoted(key));
                }
                out.push_str(": ");
                write_json5(item, indent + 1, out);
                out.push_str(",\n");
            }
            out.push_str(&"  ".repeat(indent));
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn is_identifier(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        && !matches!(key, "true" | "false" | "null" | "Infinity" | "NaN")
}

fn single_quoted(s: &str) -> String {
    let json = serde_json::to_string(s).unwrap_or_default();
    let inner = &json[1..json.len() - 1];
    format!("'{}'", inner.replace("\\\"", "\"").replace('\'', "\\'"))
}

/// `value` as block-style YAML (scalars written as JSON, which YAML reads).
pub fn yaml(value: &Value) -> String {
    let mut out = String::new();
    write_yaml(value, 0, &mut out);
    out
}

fn write_yaml(value: &Value, indent: usize, out: &mut String) {
    let pad = "  ".repeat(indent);
    match value {
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                out.push_str(&pad);
                out.push('-');
                block_child(item, indent + 1, out);
            }
        }
        Value::Object(map) if !map.is_empty() => {
            for (key, item) in map {
                let key = yaml_scalar(&Value::String(key.clone()));
                out.push_str(&pad);
                // YAML limits an implicit key to 1024 characters; longer
                // ones are written as explicit keys.
                if key.chars().count() > 1000 {
                    out.push_str("? ");
                    out.push_str(&key);
                    out.push('\n');
                    out.push_str(&pad);
                } else {
                    out.push_str(&key);
                }
                out.push(':');
                block_child(item, indent + 1, out);
            }
        }
        scalar => {
            out.push_str(&pad);
            out.push_str(&yaml_scalar(scalar));
            out.push('\n');
        }
    }
}

/// A scalar as JSON, which YAML reads, with the characters YAML does not
/// allow raw (DEL, the C1 controls, U+FFFE, U+FFFF; JSON escapes only the
/// C0 ones) escaped as `\uXXXX`, as a YAML author writes them.
fn yaml_scalar(scalar: &Value) -> String {
    scalar
        .to_string()
        .chars()
        .map(|c| {
            if readyroll_core::crd::refused_in_apply(c) {
                format!("\\u{:04X}", u32::from(c))
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn block_child(value: &Value, indent: usize, out: &mut String) {
    match value {
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            write_yaml(value, indent, out);
        }
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            write_yaml(value, indent, out);
        }
        scalar => {
            out.push(' ');
            out.push_str(&yaml_scalar(scalar));
            out.push('\n');
        }
    }
}

/// `text` damaged: a piece cut out, a character put in, or cut short.
pub fn damaged(text: String) -> impl Strategy<Value = String> {
    let chars: Vec<char> = text.chars().collect();
    let len = chars.len();
    (
        0..=len,
        0..=len.min(8),
        prop::sample::select(vec![
            '{', '}', '[', ']', '"', '\'', ',', ':', '\n', '\\', '/', '*', '#', '-', '&', '!',
            '\u{feff}', '\u{2028}', '\0',
        ]),
        0..3u8,
    )
        .prop_map(move |(at, cut, c, how)| {
            let mut chars = chars.clone();
            match how {
                0 => {
                    let end = (at + cut).min(chars.len());
                    chars.drain(at..end);
                }
                1 => chars.insert(at, c),
                _ => chars.truncate(at),
            }
            chars.into_iter().collect()
        })
}
