//! The file's `static` list: PM2's `pm2 serve` file servers (PM2 runs its
//! own `API/Serve.js` for each, configured through `PM2_SERVE_*`
//! variables). Each becomes an App on the same port with the same
//! variables; the image's own command must serve the files, since PM2's
//! server is not in it, and a warning says so.

use crate::crd::AppSpec;

use super::app::Converted;
use super::name;
use super::report::{join, Report};
use super::tree::Node;
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
    // Each key read with its reader; a wrong value is an error at the value.
    let mut read = |key: &str, parse: &dyn Fn(&Node) -> Result<String, String>| {
        let e = get(key)?;
        parse(&e.value)
            .map_err(|why| report.error(e.value.pos, format!("{}: {why}", join(path, &e.key))))
            .ok()
    };
    let port_of =
        |n: &Node| values::integer_in(n, "a port number", 1, 65535).map(|p| p.to_string());
    let spa_of = |n: &Node| values::boolean(n).map(|b| b.to_string());
    let port: i64 = read("port", &port_of)
        .and_then(|p| p.parse().ok())
        .unwrap_or(DEFAULT_PORT);
    let served = read("path", &values::string).unwrap_or_else(|| ".".to_string());
    let spa = read("spa", &spa_of);
    let pm2_name = read("name", &values::string)
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| format!("static-page-server-{port}"));
    let own_image = read("image", &values::string);
    let mut spec = AppSpec {
        port: Some(port as i32),
        ..AppSpec::default()
    };
    let env = &mut spec.env;
    env.insert("PM2_SERVE_PORT".into(), port.to_string());
    env.insert("PM2_SERVE_PATH".into(), served.clone());
    if let Some(spa) = spa {
        env.insert("PM2_SERVE_SPA".into(), spa);
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
