//! PM2 ecosystem files as JSON values: every shape PM2 reads
//! (`{ apps: [...] }`, `{ pm2: [...] }`, a list, one app, `static`,
//! `deploy`), apps whose keys are PM2's options, their camelCase, profiles
//! and unknown keys, and values of the right type, the wrong type, huge,
//! unicode and deeply nested.

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

use crate::app::CRON_EXAMPLES;
use crate::names::text;

/// Any JSON value, nested a few levels.
pub fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            vec((text(), inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

/// A value nested `depth` levels (lists and objects in turn), for the
/// stack: parsers and every walk of the tree must refuse it, not crash.
pub fn deep_json(max_depth: usize) -> impl Strategy<Value = Value> {
    (1..=max_depth).prop_map(|depth| {
        let mut value = json!("core");
        for level in 0..depth {
            value = if level % 2 == 0 {
                json!([value])
            } else {
                json!({ "k": value })
            };
        }
        value
    })
}

/// A value that fits `option` the way PM2 writes it, or one that does not.
fn value_for(option: &'static str) -> BoxedStrategy<Value> {
    let numbers = prop_oneof![
        (0..100_000i64).prop_map(Value::from),
        (0..100_000i64).prop_map(|n| Value::from(n.to_string())),
        any::<i64>().prop_map(Value::from),
        Just(json!(1.5)),
        Just(json!("10s")),
    ];
    let fitting: BoxedStrategy<Value> = match option {
        "name" | "script" | "cwd" | "exec_interpreter" | "namespace" => prop_oneof![
            "[a-zA-Z0-9 _./-]{0,20}".prop_map(Value::from),
            text().prop_map(Value::from),
        ]
        .boxed(),
        "args" | "node_args" => prop_oneof![
            text().prop_map(Value::from),
            vec(text(), 0..4).prop_map(|v| json!(v)),
            Just(json!(["-p", 80, true])),
        ]
        .boxed(),
        "instances" => prop_oneof![
            (-20..20i64).prop_map(Value::from),
            Just(json!("max")),
            Just(json!("MAX")),
            Just(json!("-1")),
        ]
        .boxed(),
        "exec_mode" => {
            prop::sample::select(vec!["cluster", "fork", "cluster_mode", "fork_mode", "x"])
                .prop_map(Value::from)
                .boxed()
        }
        "max_memory_restart" => prop_oneof![
            (
                0..5000u32,
                prop::sample::select(vec!["K", "M", "G", "", "MB"])
            )
                .prop_map(|(n, u)| Value::from(format!("{n}{u}"))),
            any::<i64>().prop_map(Value::from),
            Just(json!("99999999999999999999G")),
        ]
        .boxed(),
        "cron_restart" => prop_oneof![
            prop::sample::select(CRON_EXAMPLES).prop_map(Value::from),
            Just(json!(0)),
            Just(json!("")),
            Just(json!("61 * * * *")),
            Just(json!("@sometimes")),
            text().prop_map(Value::from),
        ]
        .boxed(),
        "env" => env_block().boxed(),
        "port" | "uid" | "gid" | "listen_timeout" | "kill_timeout" | "min_uptime"
        | "max_restarts" => numbers.boxed(),
        "wait_ready"
        | "shutdown_with_message"
        | "treekill"
        | "autorestart"
        | "append_env_to_name"
        | "watch" => any::<bool>().prop_map(Value::Bool).boxed(),
        "stop_exit_codes" => prop_oneof![
            (0..300i64).prop_map(Value::from),
            vec(0..300i64, 0..3).prop_map(|v| json!(v)),
        ]
        .boxed(),
        _ => any_json().boxed(),
    };
    prop_oneof![6 => fitting, 1 => any_json()].boxed()
}

/// An `env` block: variables of every kind of value, some names that no
/// shell accepts.
fn env_block() -> impl Strategy<Value = Value> {
    vec(
        (
            prop_oneof![
                4 => "[A-Z_][A-Z0-9_]{0,12}",
                1 => text(),
                1 => Just("MY VAR".to_string()),
                1 => Just("1X".to_string()),
            ],
            prop_oneof![
                text().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                any::<bool>().prop_map(Value::Bool),
                Just(Value::Null),
                any_json(),
            ],
        ),
        0..6,
    )
    .prop_map(|vars| Value::Object(vars.into_iter().collect()))
}

/// A key of an app: one of `options` as PM2 spells it, its camelCase, a
/// profile (`env_<name>`), the `image` key or anything else.
fn app_key(options: &'static [&'static str]) -> impl Strategy<Value = (String, &'static str)> {
    prop_oneof![
        8 => prop::sample::select(options).prop_map(|o| (o.to_string(), o)),
        2 => prop::sample::select(options).prop_map(|o| (camel(o), o)),
        2 => "env_[a-z]{0,8}".prop_map(|k| (k, "env")),
        1 => Just(("image".to_string(), "image")),
        1 => text().prop_map(|k| (k, "")),
        1 => Just(("k".repeat(5_000), "")),
    ]
}

fn camel(option: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in option.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// One app: a handful of keys drawn from `options` with fitting (or
/// not) values.
pub fn app(options: &'static [&'static str]) -> impl Strategy<Value = Value> {
    vec(app_key(options), 0..10)
        .prop_flat_map(|keys| {
            let values: Vec<_> = keys.iter().map(|(_, option)| value_for(option)).collect();
            (Just(keys), values)
        })
        .prop_map(|(keys, values)| {
            let mut app = Map::new();
            for ((key, _), value) in keys.into_iter().zip(values) {
                app.insert(key, value);
            }
            Value::Object(app)
        })
}

/// A whole file in one of the shapes PM2 reads.
pub fn ecosystem(options: &'static [&'static str]) -> impl Strategy<Value = Value> {
    let apps = move || vec(app(options), 0..4);
    prop_oneof![
        4 => (apps(), option::of(vec(any_json(), 0..2)), option::of(any_json()))
            .prop_map(|(apps, statics, deploy)| {
                let mut file = Map::new();
                file.insert("apps".into(), json!(apps));
                if let Some(statics) = statics {
                    file.insert("static".into(), json!(statics));
                }
                if let Some(deploy) = deploy {
                    file.insert("deploy".into(), deploy);
                }
                Value::Object(file)
            }),
        1 => apps().prop_map(|apps| json!({ "pm2": apps })),
        1 => apps().prop_map(Value::Array),
        1 => app(options),
        1 => app(options).prop_map(|app| json!({ "apps": app })),
        1 => any_json(),
        1 => deep_json(200).prop_map(|deep| json!({ "apps": [{ "name": "a", "env": deep }] })),
    ]
}
