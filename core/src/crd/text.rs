//! Characters an App's strings may not hold. JSON carries them, and the API
//! server accepts them through a JSON create, but the operator's
//! server-side apply bodies are read as YAML, whose reader refuses them
//! ("control characters are not allowed", without a field path). JSON
//! writers escape the C0 controls (U+0000..U+001F), so those are safe; they
//! leave DEL, the C1 controls and the two last code points of the BMP raw.

use schemars::Schema;
use serde_json::{Map, Value};

/// True for a character YAML refuses in an apply body as JSON writes it:
/// DEL (U+007F), the C1 controls (U+0080..U+009F; YAML allows U+0085,
/// refused here too so the rule is "no DEL or C1 control") and the
/// noncharacters U+FFFE and U+FFFF.
pub fn refused_in_apply(c: char) -> bool {
    matches!(c, '\u{7f}'..='\u{9f}' | '\u{fffe}' | '\u{ffff}')
}

/// The first such character of `s`.
pub fn first_refused_in_apply(s: &str) -> Option<char> {
    s.chars().find(|&c| refused_in_apply(c))
}

/// [`refused_in_apply`] as the schema `pattern` every string of the spec
/// carries, in the API server's (RE2) syntax.
pub const APPLY_SAFE_PATTERN: &str = r"^[^\x7F-\x9F\x{FFFE}\x{FFFF}]*$";

/// A schema transform: every string of the schema, nested at any depth
/// (Kubernetes' own types included), gets [`APPLY_SAFE_PATTERN`], so the
/// API server refuses such a character naming the field. Strings that
/// already have a pattern or an enum keep theirs (the few in the App's own
/// types exclude these characters themselves).
pub fn refuse_in_strings(schema: &mut Schema) {
    if let Some(object) = schema.as_object_mut() {
        walk(object);
    }
}

fn walk(schema: &mut Map<String, Value>) {
    if is_string(schema) && !schema.contains_key("pattern") && !schema.contains_key("enum") {
        schema.insert("pattern".into(), APPLY_SAFE_PATTERN.into());
    }
    for key in ["properties", "patternProperties"] {
        if let Some(Value::Object(children)) = schema.get_mut(key) {
            children.values_mut().for_each(walk_value);
        }
    }
    for key in ["items", "additionalProperties", "not"] {
        if let Some(child) = schema.get_mut(key) {
            walk_value(child);
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(Value::Array(children)) = schema.get_mut(key) {
            children.iter_mut().for_each(walk_value);
        }
    }
}

fn walk_value(value: &mut Value) {
    match value {
        Value::Object(object) => walk(object),
        Value::Array(items) => items.iter_mut().for_each(walk_value),
        _ => {}
    }
}

fn is_string(schema: &Map<String, Value>) -> bool {
    match schema.get("type") {
        Some(Value::String(t)) => t == "string",
        Some(Value::Array(types)) => types.iter().any(|t| t == "string"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn del_c1_and_the_last_noncharacters_are_refused() {
        for c in [
            '\u{7f}', '\u{80}', '\u{85}', '\u{9f}', '\u{fffe}', '\u{ffff}',
        ] {
            assert!(refused_in_apply(c), "{c:?}");
        }
        for c in [
            '\0', '\t', '\n', '\u{1f}', '~', '\u{a0}', 'é', '\u{fffd}', '😀',
        ] {
            assert!(!refused_in_apply(c), "{c:?}");
        }
        assert_eq!(first_refused_in_apply("ab\u{7f}c\u{80}"), Some('\u{7f}'));
        assert_eq!(first_refused_in_apply("tab\there"), None);
    }

    #[test]
    fn every_nested_string_gets_the_pattern_but_patterned_and_enum_ones() {
        let mut schema = Schema::try_from(json!({
            "type": "object",
            "properties": {
                "a": { "type": ["string", "null"] },
                "b": { "type": "array", "items": { "type": "string" } },
                "c": { "type": "object", "additionalProperties": { "type": "string" } },
                "d": { "type": "string", "pattern": "^/" },
                "e": { "type": "string", "enum": ["X"] },
                "f": { "type": "integer" },
                "g": { "anyOf": [{ "type": "string" }] }
            }
        }))
        .expect("a schema");
        refuse_in_strings(&mut schema);
        let v = schema.to_value();
        let p = |at: &Value| {
            at.get("pattern")
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let safe = Some(APPLY_SAFE_PATTERN.to_string());
        assert_eq!(p(&v["properties"]["a"]), safe);
        assert_eq!(p(&v["properties"]["b"]["items"]), safe);
        assert_eq!(p(&v["properties"]["c"]["additionalProperties"]), safe);
        assert_eq!(p(&v["properties"]["d"]).as_deref(), Some("^/"));
        assert_eq!(p(&v["properties"]["e"]), None);
        assert_eq!(p(&v["properties"]["f"]), None);
        assert_eq!(p(&v["properties"]["g"]["anyOf"][0]), safe);
        assert_eq!(p(&v), None);
    }
}
