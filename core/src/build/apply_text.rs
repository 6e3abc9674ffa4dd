//! No string of the spec may hold a character the API server's YAML reader
//! of apply bodies refuses (`crd::refused_in_apply`). The CRD refuses such
//! strings at admission (a schema pattern on every string); this check
//! guards Apps admitted before it did, and map keys, which a schema cannot
//! constrain: without it the operator's applies would fail with no field
//! path ("yaml: control characters are not allowed").

use serde_json::Value;

use crate::crd::{first_refused_in_apply, AppSpec};

use super::error::SpecError;

pub fn check(spec: &AppSpec) -> Result<(), SpecError> {
    let value = serde_json::to_value(spec)
        .map_err(|e| SpecError::new("spec", format!("cannot be serialized: {e}")))?;
    walk(&value, "spec".to_string())
}

fn walk(value: &Value, path: String) -> Result<(), SpecError> {
    match value {
        Value::String(s) => match first_refused_in_apply(s) {
            Some(c) => Err(refused(path, c, "")),
            None => Ok(()),
        },
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| walk(item, format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().try_for_each(|(key, item)| {
            if let Some(c) = first_refused_in_apply(key) {
                return Err(refused(path.clone(), c, &format!(" (in the key {key:?})")));
            }
            walk(item, format!("{path}.{key}"))
        }),
        _ => Ok(()),
    }
}

fn refused(field: String, c: char, where_: &str) -> SpecError {
    SpecError::new(
        field,
        format!(
            "holds U+{:04X}{where_}, a control character (DEL, C1, U+FFFE or U+FFFF) that the API server refuses in an applied object; remove it",
            u32::from(c)
        ),
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn spec() -> AppSpec {
        AppSpec {
            image: "web:1".into(),
            ..AppSpec::default()
        }
    }

    #[test]
    fn a_refused_character_is_reported_at_its_field() {
        let cases = [
            (
                AppSpec {
                    args: vec!["ok".into(), "a\u{7f}".into()],
                    ..spec()
                },
                "spec.args[1]",
                "U+007F",
            ),
            (
                AppSpec {
                    env: BTreeMap::from([("A".into(), "\u{85}".into())]),
                    ..spec()
                },
                "spec.env.A",
                "U+0085",
            ),
            (
                AppSpec {
                    labels: BTreeMap::from([("k\u{ffff}".into(), "v".into())]),
                    ..spec()
                },
                "spec.labels",
                "in the key",
            ),
        ];
        for (spec, field, text) in cases {
            let err = check(&spec).expect_err(field);
            assert_eq!(err.field, field);
            assert!(err.message.contains(text), "{err}");
        }
    }

    #[test]
    fn controls_json_escapes_and_any_printable_text_pass() {
        let spec = AppSpec {
            script: Some("s\u{1}\t\n".into()),
            env: BTreeMap::from([("A".into(), "é 😀 \u{a0}\u{fffd}".into())]),
            ..spec()
        };
        assert_eq!(check(&spec), Ok(()));
    }
}
