//! YAML ecosystem files, read with a parser that keeps every value's
//! position (JSON files go through here too, for positions only).

use saphyr::{LoadableYamlNode, MarkedYaml, Marker, Scalar, YamlData};
use saphyr_parser::{Event, Parser};

use super::diagnostic::{Diagnostic, Pos};
use super::tree::{js_number, Entry, Node, Value, MAX_DEPTH};

/// Parses one YAML document into a positioned tree.
pub fn load(text: &str, file: &str) -> Result<Node, Diagnostic> {
    check_depth(text, file)?;
    let docs = MarkedYaml::load_from_str(text).map_err(|e| {
        Diagnostic::error(file, Some(pos(e.marker())), format!("YAML: {}", e.info()))
    })?;
    let mut docs = docs.into_iter();
    let Some(first) = docs.next() else {
        return Err(Diagnostic::error(
            file,
            None,
            "the file is empty: expected an ecosystem ({ apps: [...] }), a list of apps or one app",
        ));
    };
    if let Some(second) = docs.next() {
        return Err(Diagnostic::error(
            file,
            Some(pos(&second.span.start)),
            "a second YAML document: an ecosystem file holds exactly one",
        ));
    }
    convert(&first, file)
}

/// Refuses deep nesting from the event stream, before any tree is built:
/// the tree and every walk of it are recursive.
fn check_depth(text: &str, file: &str) -> Result<(), Diagnostic> {
    let mut depth = 0usize;
    for event in Parser::new_from_str(text) {
        // Syntax errors are reported by the loader, in its words.
        let Ok((event, span)) = event else {
            return Ok(());
        };
        match event {
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(Diagnostic::error(
                        file,
                        Some(pos(&span.start)),
                        format!(
                            "YAML: nested more than {MAX_DEPTH} levels deep here: an ecosystem file is a few levels deep"
                        ),
                    ));
                }
            }
            Event::SequenceEnd | Event::MappingEnd => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

fn pos(marker: &Marker) -> Pos {
    Pos {
        line: marker.line(),
        column: marker.col() + 1,
    }
}

fn convert(node: &MarkedYaml<'_>, file: &str) -> Result<Node, Diagnostic> {
    let at = Some(pos(&node.span.start));
    let value = match &node.data {
        YamlData::Value(scalar) => scalar_value(scalar),
        YamlData::Sequence(items) => Value::List(
            items
                .iter()
                .map(|item| convert(item, file))
                .collect::<Result<_, _>>()?,
        ),
        YamlData::Mapping(map) => {
            let mut entries: Vec<Entry> = Vec::with_capacity(map.len());
            let mut merged = Vec::new();
            for (key, value) in map {
                let key_text = key_text(key, file)?;
                let value = convert(value, file)?;
                if key_text == MERGE_KEY {
                    merged.push(value);
                    continue;
                }
                entries.push(Entry {
                    key: key_text,
                    key_pos: Some(pos(&key.span.start)),
                    value,
                });
            }
            merge(&mut entries, merged);
            Value::Map(entries)
        }
        // Tags the loader understands (`!!str`, `!!int`, ...) are already
        // applied; any other tag means nothing to PM2, so its content counts.
        YamlData::Tagged(_, inner) => return convert(inner, file),
        YamlData::Representation(..) | YamlData::Alias(_) | YamlData::BadValue => {
            return Err(Diagnostic::error(
                file,
                at,
                "YAML: this value cannot be read (a tag that does not fit its value, or an unresolved alias)",
            ))
        }
    };
    Ok(Node::new(value, at))
}

/// js-yaml (PM2's YAML reader) merges `<<: *defaults` into the mapping;
/// YAML 1.2 parsers leave it a plain key.
const MERGE_KEY: &str = "<<";

/// `<<` entries: a mapping or a list of mappings; the mapping's own keys
/// win, then earlier merged mappings.
fn merge(entries: &mut Vec<Entry>, merged: Vec<Node>) {
    let sources = merged.into_iter().flat_map(|node| match node.value {
        Value::List(items) => items,
        _ => vec![node],
    });
    for source in sources {
        if let Value::Map(extra) = source.value {
            for e in extra {
                if !entries.iter().any(|own| own.key == e.key) {
                    entries.push(e);
                }
            }
        }
    }
}

fn scalar_value(scalar: &Scalar<'_>) -> Value {
    match scalar {
        Scalar::Null => Value::Null,
        Scalar::Boolean(b) => Value::Bool(*b),
        Scalar::Integer(i) => Value::Int(*i),
        Scalar::FloatingPoint(f) => Value::Float(f.into_inner()),
        Scalar::String(s) => Value::Str(s.to_string()),
    }
}

/// Mapping keys are names; a plain `1:` or `true:` key is read as its text.
fn key_text(key: &MarkedYaml<'_>, file: &str) -> Result<String, Diagnostic> {
    match &key.data {
        YamlData::Value(Scalar::String(s)) => Ok(s.to_string()),
        YamlData::Value(Scalar::Integer(i)) => Ok(i.to_string()),
        YamlData::Value(Scalar::Boolean(b)) => Ok(b.to_string()),
        YamlData::Value(Scalar::FloatingPoint(f)) => Ok(js_number(f.into_inner())),
        YamlData::Value(Scalar::Null) => Ok("null".to_string()),
        YamlData::Tagged(_, inner) => key_text(inner, file),
        _ => Err(Diagnostic::error(
            file,
            Some(pos(&key.span.start)),
            "YAML: a mapping key must be a plain name, not a list or mapping",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_their_positions() {
        let node = load("apps:\n  - name: web\n    instances: 4\n", "e.yaml").unwrap();
        let apps = &node.as_map().unwrap()[0];
        assert_eq!(apps.key, "apps");
        assert_eq!(apps.key_pos, Some(Pos { line: 1, column: 1 }));
        let Value::List(items) = &apps.value.value else {
            panic!("apps is a list")
        };
        let app = items[0].as_map().unwrap();
        assert_eq!(app[1].key, "instances");
        assert_eq!(
            app[1].value.pos,
            Some(Pos {
                line: 3,
                column: 16
            })
        );
        assert!(matches!(app[1].value.value, Value::Int(4)));
    }

    #[test]
    fn syntax_errors_and_extra_documents_are_positioned() {
        let err = load("apps:\n  - name: [web\n", "e.yaml").unwrap_err();
        assert!(err.is_error());
        assert!(err.pos.is_some(), "{err}");
        let err = load("name: a\n---\nname: b\n", "e.yaml").unwrap_err();
        assert_eq!(err.pos.map(|p| p.line), Some(3), "{err}");
        let err = load("", "e.yaml").unwrap_err();
        assert!(err.message.contains("empty"));
    }

    #[test]
    fn deep_nesting_is_refused_with_its_position() {
        let text = "- ".repeat(7000) + "x\n";
        let err = load(&text, "deep.yaml").unwrap_err();
        assert!(err.message.contains("nested more than 64"), "{err}");
        assert_eq!(
            err.pos,
            Some(Pos {
                line: 1,
                column: 2 * MAX_DEPTH + 1
            }),
            "{err}"
        );
        let flow = "[".repeat(7000) + &"]".repeat(7000);
        assert!(load(&flow, "deep.yaml").is_err());
    }

    #[test]
    fn merge_keys_work_as_in_js_yaml() {
        let node = load("d: &d\n  a: 1\n  b: 2\nx:\n  <<: *d\n  b: 3\n", "e.yaml").unwrap();
        assert_eq!(
            node.as_map().unwrap()[1].value.to_json(),
            serde_json::json!({"b": 3, "a": 1})
        );
    }

    #[test]
    fn duplicate_keys_are_an_error() {
        let err = load("name: a\nname: b\n", "e.yaml").unwrap_err();
        assert_eq!(err.pos.map(|p| p.line), Some(2), "{err}");
    }

    #[test]
    fn quoted_numbers_stay_strings() {
        let node = load("a: \"5\"\nb: 5\n", "e.yaml").unwrap();
        let map = node.as_map().unwrap();
        assert!(matches!(&map[0].value.value, Value::Str(s) if s == "5"));
        assert!(matches!(map[1].value.value, Value::Int(5)));
    }
}
