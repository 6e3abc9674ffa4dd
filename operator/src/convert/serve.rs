//! The file's `static` list: PM2's `pm2 serve` file servers (PM2 runs its
//! own `API/Serve.js` for each, configured through `PM2_SERVE_*`
//! variables). Each becomes an App on the same port with the same
//! variables; the image's own command must serve the files, since PM2's
//! server is not in it, and a warning says so.

use crate::crd::AppSpec;

use super::app::Converted;
use super::name;
use super::report::{join, Report};
use super::tree::{Node, Value};
use super::values;

/// PM2's default port for `pm2 serve`.
const DEFAULT_PORT: i64 = 8080;

pub fn convert(
    node: &Node,
    path: &str,
    image: Option<&str>,
    report: &mut Report,
) -> Option<Converted> {
    let Some(entries) = node.as_map() else {
        report.error(
            node.pos,
            format!(
                "{path}: expected a file server like {{ \"path\": \"dist\", \"port\": 8080 }}, got {}",
                node.describe()
            ),
        );
        return None;
    };
    let errors_before = report.error_count();
    let get = |key: &str| entries.iter().find(|e| e.key == key && !e.value.is_null());
    let read = |key: &str, report: &mut Report| -> Option<Value> {
        let e = get(key)?;
        let ok = match &e.value.value {
            Value::Str(_) if key != "port" && key != "spa" => true,
            Value::Bool(_) => key == "spa",
            Value::Int(_) | Value::Str(_) if key == "port" => {
                values::integer_in(&e.value, "a port number", 1, 65535).is_ok()
            }
            _ => false,
        };
        if !ok {
            report.error(
                e.value.pos,
                format!("{}: unexpected {}", join(path, &e.key), e.value.describe()),
            );
        }
        ok.then(|| e.value.value.clone())
    };
    let port = match read("port", report) {
        Some(_) => get("port")
            .and_then(|e| values::integer(&e.value, "a port number").ok())
            .unwrap_or(DEFAULT_PORT),
        None => DEFAULT_PORT,
    };
    let served = match read("path", report) {
        Some(Value::Str(p)) => p,
        _ => ".".to_string(),
    };
    let pm2_name = match read("name", report) {
        Some(Value::Str(n)) if !n.is_empty() => n,
        _ => format!("static-page-server-{port}"),
    };
    let mut spec = AppSpec {
        port: Some(port as i32),
        ..AppSpec::default()
    };
    let env = &mut spec.env;
    env.insert("PM2_SERVE_PORT".into(), port.to_string());
    env.insert("PM2_SERVE_PATH".into(), served.clone());
    if let Some(Value::Bool(spa)) = read("spa", report) {
        env.insert("PM2_SERVE_SPA".into(), spa.to_string());
    }
    if let Some(auth) = get("basic_auth").and_then(|e| e.value.as_map()) {
        let field = |k: &str| {
            auth.iter()
                .find(|e| e.key == k)
                .and_then(|e| values::string(&e.value).ok())
        };
        if let (Some(user), Some(password)) = (field("username"), field("password")) {
            env.insert("PM2_SERVE_BASIC_AUTH".into(), "true".into());
            env.insert("PM2_SERVE_BASIC_AUTH_USERNAME".into(), user);
            env.insert("PM2_SERVE_BASIC_AUTH_PASSWORD".into(), password);
        }
    }
    let mut name = pm2_name.clone();
    if !name::is_dns_label(&name) {
        name = name::kubernetes_name(&name);
        report.warning(
            node.pos,
            format!(
                "{path}: name {pm2_name:?} becomes {name:?}: a Kubernetes name must {}",
                name::NAME_RULE
            ),
        );
    }
    let label = format!("{path} ({name})");
    for e in entries {
        if !["port", "path", "name", "spa", "basic_auth", "image"].contains(&e.key.as_str()) {
            report.warning(
                e.key_pos,
                format!(
                    "{label}: unknown option '{}' of a file server ignored",
                    e.key
                ),
            );
        }
    }
    report.warning(
        node.pos,
        format!(
            "{label}: PM2 serves {served:?} on port {port} with its own file server; the App runs \
             the image's command with the same PM2_SERVE_* variables, so the image must serve the \
             files itself (an nginx image, for one)"
        ),
    );
    let own_image = get("image").and_then(|e| values::string(&e.value).ok());
    match own_image.as_deref().or(image) {
        Some(image) => spec.image = image.to_string(),
        None => report.error(
            node.pos,
            format!("{label}: no container image: pass --image IMAGE"),
        ),
    }
    (report.error_count() == errors_before).then(|| Converted {
        name,
        name_pos: node.pos,
        path: path.to_string(),
        spec,
    })
}
