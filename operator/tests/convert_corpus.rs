//! The corpus: ecosystem files in every style PM2 reads (`tests/ecosystems/`).
//! Each converts to one App per app, and every option of every app is
//! either carried into its App or named on stderr; together the files use
//! every option of PM2's schema.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use common::{parse_apps, run, Run};
use readyroll::convert::{camel_case, lookup, Meaning, OPTIONS};
use serde_json::Value;

/// File, extra flags, and the App names expected, in order.
const CORPUS: &[(&str, &[&str], &[&str])] = &[
    ("01-canonical.json", &[], &["app-name"]),
    ("02-pm2-init.config.js", &[], &["app1"]),
    (
        "03-pm2-init-full.config.js",
        &[],
        &["index", "service-worker"],
    ),
    ("04-comments.json", &[], &["api"]),
    ("05-unquoted.json", &[], &["worker"]),
    ("06-json5.json5", &[], &["cdn-edge"]),
    ("07-expressions.json", &[], &["from-env"]),
    (
        "08-names.json",
        &[],
        &["api", "clustered-http", "my-app", "billing-worker"],
    ),
    ("09-name-collisions.json", &[], &["web", "web-2", "web-3"]),
    (
        "10-default-names.json",
        &[],
        &["server", "www", "dist", "app-worker"],
    ),
    ("11-nulls.json", &[], &["nullable"]),
    (
        "12-string-profile.json",
        &["--env", "staging"],
        &["strprof"],
    ),
    (
        "13-static-only.json",
        &[],
        &["static-page-server-8081", "docs-site"],
    ),
    ("14-deploy-env.json", &["--env", "production"], &["shop"]),
    (
        "15-port-profile.json",
        &["--env", "production"],
        &["ported"],
    ),
    ("16-args-strings.json", &[], &["argy"]),
    ("17-cron.yaml", &[], &["nightly"]),
    ("18-instances-max.yml", &[], &["maxed", "minus-one"]),
    (
        "19-ecosystem.yaml",
        &["--env", "production"],
        &["api-app", "worker-app"],
    ),
    ("20-ecosystem.config.cjs", &[], &["cjs-app"]),
    ("21-ecosystem.config.mjs", &[], &["esm-app"]),
    ("22-computed.config.js", &[], &["alpha", "beta", "gamma"]),
    ("23-python.json", &[], &["flask"]),
    ("24-npm-start.json", &[], &["next"]),
    ("25-shell-script.json", &[], &["shelly"]),
    ("26-single-app.json", &[], &["solo"]),
    ("27-pm2-key.json", &[], &["legacy"]),
    ("28-apps-object.json", &[], &["lone"]),
    ("29-aliases.json", &[], &["aliased"]),
    ("30-logs.json", &[], &["logger"]),
    ("31-log-aliases.json", &[], &["logger2"]),
    ("32-watch.json", &[], &["watcher"]),
    ("33-restarts.json", &[], &["restarter"]),
    ("34-pm2io.json", &[], &["monitored"]),
    ("35-internals.json", &[], &["internals"]),
    ("36-uid-names.json", &[], &["ids"]),
    ("37-interpreter-none.json", &[], &["binary"]),
    ("38-node-version.json", &[], &["nvm"]),
    (
        "39-append-env.yaml",
        &["--env", "production"],
        &["web-production"],
    ),
    ("40-tabs-and-crlf.json", &[], &["tabbed"]),
    ("41-crlf.json", &[], &["crlf"]),
    (
        "42-mixed.config.js",
        &["--env", "production"],
        &["gateway", "scheduler"],
    ),
    ("43-yaml-anchors.yaml", &[], &["a-svc", "b-svc"]),
    (
        "44-static-and-apps.json5",
        &[],
        &["backend", "static-page-server-8080"],
    ),
];

fn corpus_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ecosystems")
}

fn convert(file: &str, flags: &[&str]) -> Run {
    run(Command::new(env!("CARGO_BIN_EXE_readyroll"))
        .arg("convert")
        .arg(corpus_dir().join(file))
        .args(["--image", "corpus:1"])
        .args(flags)
        .env_remove("READYROLL_CORPUS_UNSET_PORT"))
}

#[test]
fn the_corpus_is_large_and_listed_whole() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(corpus_dir())
        .expect("tests/ecosystems")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    let listed: BTreeSet<String> = CORPUS.iter().map(|(f, _, _)| f.to_string()).collect();
    assert_eq!(on_disk, listed, "every corpus file is listed in CORPUS");
    assert!(CORPUS.len() >= 40);
}

#[test]
fn every_file_converts_to_one_app_per_app() {
    for (file, flags, names) in CORPUS {
        let run = convert(file, flags);
        assert!(run.success, "{file} failed:\n{}", run.stderr);
        for line in run.stderr.lines() {
            assert!(line.starts_with("warning: "), "{file}: {line}");
        }
        let apps = parse_apps(&run.stdout);
        apps.iter().for_each(common::assert_valid_for_crd);
        let got: Vec<_> = apps
            .iter()
            .filter_map(|a| a.metadata.name.as_deref())
            .collect();
        assert_eq!(&got, names, "{file}");
    }
}

#[test]
fn no_option_is_dropped_silently() {
    for (file, flags, _) in CORPUS {
        let run = convert(file, flags);
        let apps = parse_apps(&run.stdout);
        let inputs = input_apps(&corpus_dir().join(file));
        assert_eq!(inputs.len(), apps.len(), "{file}");
        for (input, app) in inputs.iter().zip(&apps) {
            let Value::Object(keys) = input else {
                panic!("{file}: an app object")
            };
            let app_json = serde_json::to_value(app).expect("App as JSON");
            for (key, value) in keys {
                if value.is_null() || accounted(key, value, &app_json, &run.stderr) {
                    continue;
                }
                panic!(
                    "{file}: '{key}' neither reached the App nor was reported:\n{}",
                    run.stderr
                );
            }
        }
    }
}

#[test]
fn the_corpus_uses_every_option_of_pm2s_schema() {
    let mut used = BTreeSet::new();
    for (file, _, _) in CORPUS {
        for app in input_apps(&corpus_dir().join(file)) {
            if let Value::Object(keys) = app {
                used.extend(keys.keys().filter_map(|k| lookup(k)).map(|o| o.name));
            }
        }
    }
    let missing: Vec<_> = OPTIONS
        .iter()
        .map(|o| o.name)
        .filter(|name| !used.contains(name))
        .collect();
    assert!(missing.is_empty(), "no corpus file uses {missing:?}");
}

/// Whether an input key shows up in the App, or on stderr by name.
fn accounted(key: &str, value: &Value, app: &Value, stderr: &str) -> bool {
    if stderr.contains(&format!("'{key}'")) || stderr.contains(&format!(".{key}")) {
        return true;
    }
    if let Some(profile) = key.strip_prefix("env_") {
        return app["spec"]["envProfiles"].get(profile).is_some() || stderr.contains(key);
    }
    let spec = &app["spec"];
    let Some(option) = lookup(key) else {
        return key == "image" && spec.get("image").is_some();
    };
    if let Meaning::Ignored(_) = option.meaning {
        return false;
    }
    let field = match option.name {
        "name" | "append_env_to_name" => return true,
        "exec_interpreter" => "interpreter",
        "node_args" => "interpreterArgs",
        "uid" | "gid" => "securityContext",
        "script" if stderr.contains("runs it through a shell") => return true,
        // The values that mean what a Deployment does anyway.
        "autorestart" => return value == &Value::Bool(true),
        "stop_exit_codes" => return value == &Value::Array(vec![]),
        "cron_restart" if value == "" || value == 0 => return true,
        name => return spec.get(camel_case(name)).is_some(),
    };
    spec.get(field).is_some()
}

/// The app objects of a corpus file, read independently of readyroll:
/// YAML with saphyr, everything else with node the way PM2 loads it.
fn input_apps(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).expect("corpus file");
    let name = path.to_string_lossy();
    let root = if name.ends_with(".yaml") || name.ends_with(".yml") {
        use saphyr::LoadableYamlNode;
        let docs = saphyr::Yaml::load_from_str(&text).expect("YAML");
        yaml_to_json(&docs[0])
    } else {
        let script = if name.ends_with(".json") || name.ends_with(".json5") {
            "const t = require('fs').readFileSync(process.argv[1], 'utf8'); \
             process.stdout.write(JSON.stringify(require('vm').runInThisContext('(' + t + ')')))"
        } else {
            "import(require('url').pathToFileURL(process.argv[1]).href).then(m => \
             process.stdout.write(JSON.stringify(m.default !== undefined ? m.default : m)))"
        };
        let out = Command::new("node")
            .args(["-e", script])
            .arg(path)
            .env_remove("READYROLL_CORPUS_UNSET_PORT")
            .output()
            .expect("node runs");
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON from node")
    };
    let mut apps = match root.get("apps").or_else(|| root.get("pm2")) {
        Some(Value::Array(items)) => items.clone(),
        Some(one) => vec![one.clone()],
        None if root.is_array() => root.as_array().cloned().unwrap_or_default(),
        None if root.get("static").is_some() => Vec::new(),
        None => vec![root.clone()],
    };
    // File servers are checked by their own keys below, not as apps.
    if let Some(Value::Array(statics)) = root.get("static") {
        apps.extend(statics.iter().map(|_| Value::Object(Default::default())));
    }
    apps
}

fn yaml_to_json(y: &saphyr::Yaml<'_>) -> Value {
    use saphyr::{Scalar, Yaml};
    match y {
        Yaml::Value(Scalar::String(s)) => Value::from(s.to_string()),
        Yaml::Value(Scalar::Integer(i)) => Value::from(*i),
        Yaml::Value(Scalar::FloatingPoint(f)) => Value::from(f.into_inner()),
        Yaml::Value(Scalar::Boolean(b)) => Value::from(*b),
        Yaml::Sequence(items) => Value::Array(items.iter().map(yaml_to_json).collect()),
        Yaml::Mapping(map) => {
            let mut out = serde_json::Map::new();
            for (k, v) in map {
                let key = match k {
                    Yaml::Value(Scalar::String(s)) => s.to_string(),
                    other => format!("{other:?}"),
                };
                if key == "<<" {
                    if let Value::Object(merged) = yaml_to_json(v) {
                        for (mk, mv) in merged {
                            out.entry(mk).or_insert(mv);
                        }
                    }
                    continue;
                }
                out.insert(key, yaml_to_json(v));
            }
            Value::Object(out)
        }
        _ => Value::Null,
    }
}
