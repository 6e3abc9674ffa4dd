//! Property tests of `convert`: whatever it is given (text of any kind,
//! ecosystem-shaped values of any types, huge, unicode, nested to any
//! depth), it never panics or overflows the stack; every error says where
//! (a line and column, or the option's path when the input has no
//! positions); and every App it writes survives a JSON round trip and is
//! one the operator builds. Cases: `PROPTEST_CASES` (`make fuzz`), else the
//! bounded counts below (`make test`).

use std::sync::LazyLock;

use proptest::prelude::*;
use readyroll_testkit::{ecosystem, text};
use serde_json::Value as Json;

use super::diagnostic::Diagnostic;
use super::report::Report;
use super::tree::Node;
use super::{finish, js, json5, name, options, values, yaml, Conversion, ConvertError};
use super::{ConvertOptions, OPTIONS};
use crate::core::{build, BuildOptions};

/// PM2's option names, for the generators.
static NAMES: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    OPTIONS
        .iter()
        .flat_map(|o| std::iter::once(o.name).chain(o.aliases.iter().copied()))
        .collect()
});

fn opts(profile: bool) -> ConvertOptions {
    ConvertOptions {
        image: Some("web:1".into()),
        namespace: None,
        profile: profile.then(|| "production".to_string()),
    }
}

/// A parsed tree, converted as `convert_file` converts it.
fn convert_node(root: Result<Node, Diagnostic>, profile: bool) -> Result<Conversion, ConvertError> {
    finish(root, "e.json".into(), &opts(profile), Report::new("e.json"))
}

/// What every conversion must satisfy, whatever the input.
fn check(result: Result<Conversion, ConvertError>, positioned: bool) -> Result<(), TestCaseError> {
    match result {
        Ok(conversion) => {
            for app in &conversion.apps {
                let json = serde_json::to_string(app).expect("an App serializes");
                let back: crate::crd::App = serde_json::from_str(&json)
                    .map_err(|e| TestCaseError::fail(format!("{e}: {json}")))?;
                prop_assert_eq!(&back.spec, &app.spec);
                prop_assert_eq!(&back.metadata, &app.metadata);
                let name = app.metadata.name.as_deref().unwrap_or_default();
                prop_assert!(name::is_dns_label(name), "{name:?}");
                let mut placed = app.clone();
                placed.metadata.namespace = Some("shop".into());
                placed.metadata.uid = Some("u".into());
                let options = BuildOptions {
                    shim_image: "shim:1".into(),
                };
                if let Err(e) = build(&placed, &[], &options) {
                    return Err(TestCaseError::fail(format!(
                        "converted, but the operator refuses it: {e}\n{json}"
                    )));
                }
            }
            for d in &conversion.diagnostics {
                prop_assert!(!d.is_error());
            }
        }
        Err(ConvertError::Invalid { diagnostics, .. }) => {
            prop_assert!(diagnostics.iter().any(Diagnostic::is_error));
            for d in diagnostics.iter().filter(|d| d.is_error()) {
                prop_assert!(!d.message.trim().is_empty());
                if positioned {
                    prop_assert!(
                        d.pos.is_some() || is_about_the_file(&d.message),
                        "no position: {d}"
                    );
                } else {
                    prop_assert!(names_a_place(&d.message), "names no option: {d}");
                }
            }
        }
        Err(other) => return Err(TestCaseError::fail(format!("unexpected: {other}"))),
    }
    Ok(())
}

/// A message about the file as a whole, which has no one position.
fn is_about_the_file(message: &str) -> bool {
    message.starts_with("the file is empty")
}

/// A message without a position starts with where it is about: the
/// option's path (`apps[0].kill_timeout: ...`, `name: ...` for an app at
/// the top), the app (`apps[1] (web): ...`), or the file's shape.
fn names_a_place(message: &str) -> bool {
    let about_the_file = [
        "expected an ecosystem",
        "no apps",
        "the configuration is nested",
        "the export could not be read",
    ];
    let place = message.split(": ").next().unwrap_or_default();
    about_the_file.iter().any(|p| message.starts_with(p))
        || (message.contains(": ") && !place.trim().is_empty() && !place.starts_with(' '))
}

/// Numbers compared by value: `5.0` written out may come back as `5`.
fn same(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64() == y.as_f64(),
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// Text nested `depth` levels, in the notations that nest.
fn deep_text(depth: usize, how: u8) -> String {
    match how {
        0 => "[".repeat(depth) + &"]".repeat(depth),
        1 => "{a:".repeat(depth) + "1" + &"}".repeat(depth),
        2 => "- ".repeat(depth) + "x\n",
        3 => (0..depth)
            .map(|i| format!("{}k:\n", "  ".repeat(i)))
            .collect(),
        _ => "{\"apps\": [".to_string() + &"[".repeat(depth),
    }
}

proptest! {
    #![proptest_config(readyroll_testkit::config(64))]

    /// The JSON node prints for a `.js` file (or an evaluated `.json`).
    #[test]
    fn evaluated_exports_convert_or_name_the_option(
        file in ecosystem::ecosystem(NAMES.as_slice()),
        profile in any::<bool>(),
    ) {
        let json = serde_json::to_string(&file).unwrap();
        check(convert_node(js::read_export(&json, "e.json"), profile), false)?;
    }

    #[test]
    fn json5_files_read_back_what_was_written(file in ecosystem::ecosystem(NAMES.as_slice())) {
        let written = text::json5(&file);
        let parsed = json5::parse(&written);
        match parsed {
            Ok((node, _)) => prop_assert!(same(&node.to_json(), &file), "{written}"),
            // Only nesting past the bound is refused.
            Err(e) => prop_assert!(e.message.contains("nested"), "{e:?}\n{written}"),
        }
    }

    #[test]
    fn yaml_files_read_back_what_was_written(file in ecosystem::ecosystem(NAMES.as_slice())) {
        let written = text::yaml(&file);
        match yaml::load(&written, "e.yaml") {
            Ok(node) => prop_assert!(same(&node.to_json(), &file), "{written}"),
            Err(e) => prop_assert!(e.message.contains("nested"), "{e}\n{written}"),
        }
    }

    #[test]
    fn json5_text_of_any_kind_converts_or_says_where(
        written in ecosystem::ecosystem(NAMES.as_slice())
            .prop_flat_map(|file| text::damaged(text::json5(&file))),
        profile in any::<bool>(),
    ) {
        // Only what the native parser reads: evaluating text with node is
        // `convert_file`'s, and not for random input.
        if let Ok((node, _)) = json5::parse(&written) {
            check(convert_node(Ok(node), profile), true)?;
        }
    }

    #[test]
    fn yaml_text_of_any_kind_converts_or_says_where(
        written in ecosystem::ecosystem(NAMES.as_slice())
            .prop_flat_map(|file| text::damaged(text::yaml(&file))),
        profile in any::<bool>(),
    ) {
        let result = super::convert_text(&written, super::Format::Yaml, "e.yaml", &opts(profile));
        check(result, true)?;
    }

    #[test]
    fn raw_text_never_panics(written in "\\PC{0,200}|[\\[\\]{}:,'\"\\-\\n #&*!|>]{0,200}") {
        let _ = json5::parse(&written);
        check(super::convert_text(&written, super::Format::Yaml, "e.yaml", &opts(false)), true)?;
    }

    #[test]
    fn deep_nesting_is_refused_not_a_crash(depth in 60usize..20_000, how in 0..5u8) {
        let written = deep_text(depth, how);
        let _ = json5::parse(&written);
        let _ = yaml::load(&written, "e.yaml");
        let _ = js::read_export(&written, "e.json");
    }

    #[test]
    fn names_always_become_kubernetes_names(given in "\\PC{0,80}|[A-Z_. 0-9-]{0,80}") {
        let valid = name::kubernetes_name(&given);
        prop_assert!(name::is_dns_label(&valid), "{given:?} -> {valid:?}");
        if name::is_dns_label(&given) {
            prop_assert_eq!(&valid, &given);
        }
        let from_script = name::from_script(&given);
        let _ = name::kubernetes_name(&from_script);
        let _ = options::closest(&given);
    }

    #[test]
    fn durations_read_pm2_units_within_bounds(n in 0u64..10_000_000_000_000, unit in 0..4u8, junk in "\\PC{0,12}") {
        let (suffix, ms) = [("h", 3_600_000u64), ("m", 60_000), ("s", 1_000), ("", 1)][unit as usize];
        let node = Node::from_json(&Json::from(format!("{n}{suffix}")));
        match values::duration_ms(&node) {
            Ok(got) => {
                prop_assert!(got >= 0);
                prop_assert_eq!(u64::try_from(got).ok(), n.checked_mul(ms));
            }
            Err(why) => prop_assert!(!why.is_empty()),
        }
        let _ = values::duration_ms(&Node::from_json(&Json::from(junk.clone())));
        let _ = values::integer(&Node::from_json(&Json::from(junk.clone())), "a count");
        for token in values::pm2_split(&junk) {
            prop_assert!(!token.trim().is_empty());
        }
    }
}
