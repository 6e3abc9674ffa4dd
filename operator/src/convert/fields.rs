//! The mapped PM2 options of one app, read into `AppSpec` fields with the
//! limits the CRD enforces, so a converted App is one `kubectl apply` accepts.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::SecurityContext;

use crate::crd::{AppSpec, ExecMode, Instances, MemorySize, MAX_DURATION_MS};

use super::app::Keys;
use super::report::{join, Report};
use super::tree::{Entry, Node, Value};
use super::values;

/// Reads one entry with `read`; a failure becomes an error at the value.
fn read<T>(
    report: &mut Report,
    path: &str,
    entry: &Entry,
    read: impl FnOnce(&Node) -> Result<T, String>,
) -> Option<T> {
    read(&entry.value)
        .map_err(|why| {
            report.error(
                entry.value.pos,
                format!("{}: {why}", join(path, &entry.key)),
            )
        })
        .ok()
}

pub fn apply(keys: &Keys<'_>, path: &str, label: &str, spec: &mut AppSpec, report: &mut Report) {
    let get = |name: &str| keys.mapped.get(name).copied();

    if let Some(e) = get("script") {
        spec.script = read(report, path, e, non_empty);
    }
    if let Some(e) = get("args") {
        spec.args = read(report, path, e, values::arguments).unwrap_or_default();
    }
    if let Some(script) = spec.script.clone().filter(|s| s.contains(' ')) {
        // PM2 (Common.verifyConfs) runs such a script as `bash -c SCRIPT`
        // and replaces args with that.
        if let Some(args) = get("args") {
            report.error(
                args.key_pos,
                format!(
                    "{}: PM2 drops args when script contains spaces (it runs the script through a shell); \
                     put the whole command in script, or split it into script and args",
                    join(path, &args.key)
                ),
            );
        }
        report.warning(
            get("script").and_then(|e| e.value.pos),
            format!(
                "{label}: script {script:?} contains spaces, so PM2 runs it through a shell: it becomes \
                 script \"sh\" with args [\"-c\", {script:?}] (PM2 prefers bash; write script \"bash\" and \
                 args [\"-c\", ...] if the command needs bash)"
            ),
        );
        spec.script = Some("sh".to_string());
        spec.args = vec!["-c".to_string(), script];
    }
    if let Some(e) = get("exec_interpreter") {
        spec.interpreter = read(report, path, e, values::string).filter(|i| !i.is_empty());
        if let Some(version) = spec
            .interpreter
            .as_deref()
            .and_then(|i| i.strip_prefix("node@"))
        {
            report.warning(
                e.value.pos,
                format!(
                    "{label}: interpreter 'node@{version}' picks a Node.js version through nvm on the PM2 host; \
                     in a pod the image's node runs, so it becomes 'node' (choose the version with the image)"
                ),
            );
            spec.interpreter = Some("node".to_string());
        }
    }
    if let Some(e) = get("node_args") {
        spec.interpreter_args = read(report, path, e, values::arguments).unwrap_or_default();
    }
    if let Some(e) = get("cwd") {
        spec.cwd = read(report, path, e, non_empty);
    }
    if let Some(e) = get("instances") {
        spec.instances = read(report, path, e, instances);
    }
    if let Some(e) = get("exec_mode") {
        spec.exec_mode = read(report, path, e, exec_mode);
    }
    if let Some(e) = get("wait_ready") {
        spec.wait_ready = read(report, path, e, values::boolean);
    }
    if let Some(e) = get("shutdown_with_message") {
        spec.shutdown_with_message = read(report, path, e, values::boolean);
    }
    if let Some(e) = get("listen_timeout") {
        spec.listen_timeout = read(report, path, e, |n| {
            values::integer_in(n, "milliseconds", 1, MAX_DURATION_MS)
        });
    }
    if let Some(e) = get("kill_timeout") {
        spec.kill_timeout = read(report, path, e, |n| {
            values::integer_in(n, "milliseconds", 0, MAX_DURATION_MS)
        });
    }
    if let Some(e) = get("min_uptime") {
        spec.min_uptime = read(report, path, e, |n| {
            values::duration_ms(n).and_then(|ms| {
                (ms <= MAX_DURATION_MS).then_some(ms).ok_or_else(|| {
                    format!("{ms} ms is out of range: at most {MAX_DURATION_MS} (one day)")
                })
            })
        });
    }
    if let Some(e) = get("max_restarts") {
        spec.max_restarts = read(report, path, e, |n| {
            values::integer_in(n, "restarts", 0, 1_000_000)
        })
        .map(|n| n as i32);
    }
    if let Some(e) = get("max_memory_restart") {
        spec.max_memory_restart = read(report, path, e, memory);
    }
    if let Some(e) = get("cron_restart") {
        spec.cron_restart = read(report, path, e, cron).flatten();
    }
    if let Some(e) = get("env") {
        spec.env = read(report, path, e, env_map).unwrap_or_default();
    }
    for (profile, e) in &keys.profiles {
        if let Some(vars) = read(report, path, e, env_map) {
            spec.env_profiles.insert(profile.to_string(), vars);
        }
    }
    if let Some(e) = get("port") {
        spec.port = read(report, path, e, |n| {
            values::integer_in(n, "a port number", 1, 65535)
        })
        .map(|p| p as i32);
    }
    if let Some(port) = spec.port {
        inject_port(
            port,
            label,
            spec,
            report,
            get("port").and_then(|e| e.value.pos),
        );
    }
    let run_as_user = get("uid").and_then(|e| read(report, path, e, id)).flatten();
    let run_as_group = get("gid").and_then(|e| read(report, path, e, id)).flatten();
    for (e, field) in [(get("uid"), "runAsUser"), (get("gid"), "runAsGroup")] {
        let Some(e) = e else { continue };
        if let Value::Str(s) = &e.value.value {
            if s.trim().parse::<i64>().is_err() {
                report.warning(
                    e.value.pos,
                    format!(
                        "{label}: ignored {} {s:?}: PM2 looks names up in its host's /etc/passwd; \
                         set spec.securityContext.{field} to a numeric id instead",
                        e.key
                    ),
                );
            }
        }
    }
    if run_as_user.is_some() || run_as_group.is_some() {
        spec.security_context = Some(SecurityContext {
            run_as_user,
            run_as_group,
            ..SecurityContext::default()
        });
    }
    if let Some(e) = get("append_env_to_name") {
        read(report, path, e, values::boolean);
    }
}

fn non_empty(node: &Node) -> Result<String, String> {
    let s = values::string(node)?;
    if s.is_empty() {
        Err("must not be empty (leave the option out instead)".to_string())
    } else {
        Ok(s)
    }
}

/// PM2: `"max"` is one per CPU; numbers (or numeric strings) keep PM2's meaning.
fn instances(node: &Node) -> Result<Instances, String> {
    if let Value::Str(s) = &node.value {
        if s.trim() == "max" {
            return Ok(Instances::PerCpu);
        }
    }
    let n = values::integer(node, "a count or \"max\"")?;
    Instances::from_pm2(n)
}

fn exec_mode(node: &Node) -> Result<ExecMode, String> {
    match values::string(node)?.as_str() {
        "cluster" | "cluster_mode" => Ok(ExecMode::Cluster),
        "fork" | "fork_mode" => Ok(ExecMode::Fork),
        other => Err(format!(
            "expected \"cluster\" or \"fork\" (or \"cluster_mode\", \"fork_mode\"), got {other:?}"
        )),
    }
}

/// PM2's `max_memory_restart`: `"300M"`-style strings or a byte count.
fn memory(node: &Node) -> Result<MemorySize, String> {
    if let Value::Str(s) = &node.value {
        return MemorySize::parse(s.trim());
    }
    let bytes = values::integer(node, "a memory size such as \"300M\" or a byte count")?;
    u64::try_from(bytes)
        .map_err(|_| format!("{bytes} is negative: a memory limit must be positive"))
        .and_then(MemorySize::from_bytes)
}

/// A cron expression of 5 fields (or 6 with seconds). PM2 treats an empty
/// value (or `0`) as "no cron restart".
fn cron(node: &Node) -> Result<Option<String>, String> {
    let expected = || {
        format!(
            "expected a cron expression of 5 fields (or 6 with seconds) such as \"0 3 * * *\", got {}",
            node.describe()
        )
    };
    match &node.value {
        Value::Str(s) if s.trim().is_empty() => Ok(None),
        Value::Str(s) => match s.split_whitespace().count() {
            5 | 6 => Ok(Some(s.trim().to_string())),
            _ => Err(expected()),
        },
        Value::Int(0) => Ok(None),
        _ => Err(expected()),
    }
}

/// An `env` block: names as Kubernetes accepts them, values as PM2 passes them.
fn env_map(node: &Node) -> Result<BTreeMap<String, String>, String> {
    let Some(entries) = node.as_map() else {
        return Err(format!(
            "expected an object of NAME: value pairs, got {}",
            node.describe()
        ));
    };
    let mut vars = BTreeMap::new();
    for e in entries {
        let valid = !e.key.is_empty()
            && !e.key.contains('=')
            && e.key.chars().all(|c| c.is_ascii_graphic() || c == ' ');
        if !valid {
            return Err(format!(
                "{:?} is not a valid environment variable name (printable ASCII without '=')",
                e.key
            ));
        }
        vars.insert(e.key.clone(), values::env_value(&e.value));
    }
    Ok(vars)
}

/// PM2's `port` also sets `PORT` in the environment, over any `PORT` in
/// `env` or a profile; the same holds here.
fn inject_port(
    port: i32,
    label: &str,
    spec: &mut AppSpec,
    report: &mut Report,
    pos: Option<super::diagnostic::Pos>,
) {
    let port = port.to_string();
    let blocks = std::iter::once(("env".to_string(), &mut spec.env)).chain(
        spec.env_profiles
            .iter_mut()
            .map(|(p, vars)| (format!("env_{p}"), vars)),
    );
    for (block, vars) in blocks {
        let replaced = match vars.get("PORT") {
            Some(old) if *old != port => Some(old.clone()),
            _ => None,
        };
        if let Some(old) = replaced {
            report.warning(
                pos,
                format!(
                    "{label}: {block}.PORT {old:?} becomes {port:?}: PM2's port option sets PORT"
                ),
            );
        }
        if block == "env" || vars.contains_key("PORT") {
            vars.insert("PORT".to_string(), port.clone());
        }
    }
}

/// A numeric user or group id; a name (string) yields `None` and is
/// reported by the caller.
fn id(node: &Node) -> Result<Option<i64>, String> {
    match &node.value {
        Value::Str(s) if s.trim().parse::<i64>().is_err() => Ok(None),
        _ => values::integer_in(node, "a numeric id", 0, i64::from(u32::MAX)).map(Some),
    }
}
