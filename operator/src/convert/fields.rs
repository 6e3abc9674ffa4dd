//! The mapped PM2 options of one app, read into `AppSpec` fields with the
//! limits the CRD enforces, so a converted App is one `kubectl apply` accepts.

use k8s_openapi::api::core::v1::SecurityContext;

use crate::core::next_cron_restart;
use jiff::Timestamp;

use crate::crd::{App, AppSpec, ExecMode, Instances, MemorySize, MAX_DURATION_MS};

use super::app::Keys;
use super::report::{join, Report};
use super::tree::{Entry, Node, Value};
use super::values;
use super::{command, env};

/// The mapped options of one app and where to report about them.
pub struct Fields<'a, 'r> {
    pub keys: &'a Keys<'a>,
    /// `apps[0]`: prefixes option names in errors.
    pub path: &'a str,
    /// `apps[0] (web)`: names the app in warnings.
    pub label: &'a str,
    /// `deploy.<profile>.env` of the file under `--env <profile>`.
    pub deploy_env: Option<&'a Entry>,
    pub report: &'r mut Report,
}

impl<'a> Fields<'a, '_> {
    /// The entry of a mapped option, under whichever spelling the file used.
    pub fn get(&self, option: &str) -> Option<&'a Entry> {
        self.keys.mapped.get(option).copied()
    }

    /// Reads `option` with `parse`; a failure becomes an error at the value.
    pub fn read<T>(
        &mut self,
        option: &str,
        parse: impl FnOnce(&Node) -> Result<T, String>,
    ) -> Option<T> {
        let entry = self.get(option)?;
        parse(&entry.value)
            .map_err(|why| {
                let at = join(self.path, &entry.key);
                self.report.error(entry.value.pos, format!("{at}: {why}"))
            })
            .ok()
    }
}

pub fn apply(fields: &mut Fields<'_, '_>, spec: &mut AppSpec) {
    command::apply(fields, spec);
    lifecycle(fields, spec);
    let deploy_env = fields.deploy_env;
    env::apply(fields, spec, deploy_env);
    identity(fields, spec);
    run_to_completion(fields);
    // Used for the name (app.rs); read here so a wrong type is reported.
    fields.read("append_env_to_name", values::boolean);
}

/// How many, and PM2's start and stop contract.
fn lifecycle(f: &mut Fields<'_, '_>, spec: &mut AppSpec) {
    spec.instances = f.read("instances", instances);
    spec.exec_mode = f.read("exec_mode", exec_mode);
    spec.instance_var = f.read("instance_var", env_var_name);
    spec.increment_var = f.read("increment_var", env_var_name);
    spec.wait_ready = f.read("wait_ready", values::boolean);
    spec.shutdown_with_message = f.read("shutdown_with_message", values::boolean);
    // 0 is carried as 0: the App reads it as PM2 does, as PM2's default
    // (3000 ms to listen, 1600 ms to exit).
    spec.listen_timeout = f.read("listen_timeout", |n| {
        values::integer_in(n, "milliseconds", 0, MAX_DURATION_MS)
    });
    spec.kill_timeout = f.read("kill_timeout", |n| {
        values::integer_in(n, "milliseconds", 0, MAX_DURATION_MS)
    });
    spec.min_uptime = f.read("min_uptime", |n| {
        values::duration_ms(n).and_then(|ms| {
            (ms <= MAX_DURATION_MS).then_some(ms).ok_or_else(|| {
                format!("{ms} ms is out of range: at most {MAX_DURATION_MS} (one day)")
            })
        })
    });
    spec.max_restarts = f
        .read("max_restarts", |n| {
            values::integer_in(n, "restarts", 0, 1_000_000)
        })
        .map(|n| n as i32);
    spec.max_memory_restart = f.read("max_memory_restart", memory);
    spec.cron_restart = f.read("cron_restart", cron).flatten();
    if let Some(schedule) = &spec.cron_restart {
        f.report.warning(
            f.get("cron_restart").and_then(|e| e.value.pos),
            format!(
                "{}: cron_restart {schedule:?}: PM2 read it in its host's local time zone; the App \
                 reads it in UTC unless spec.cronTimeZone names the zone (an IANA name such as \
                 \"Europe/Paris\"): set it to the PM2 host's zone to keep the hours",
                f.label
            ),
        );
    }
    // PM2's treekill (default true): the runtime shim signals the whole
    // process tree, or the main process only.
    spec.treekill = f.read("treekill", values::boolean);
}

/// `autorestart: false` and `stop_exit_codes` describe a task that runs to
/// completion; an App is a Deployment, which restarts its pods forever.
fn run_to_completion(f: &mut Fields<'_, '_>) {
    const JOB: &str = "an App is a Deployment, whose pods are restarted whenever they exit; \
                       run a task that ends as a Kubernetes Job (or a CronJob) instead";
    if let Some(false) = f.read("autorestart", values::boolean) {
        let at = f
            .get("autorestart")
            .map(|e| (e.value.pos, join(f.path, &e.key)));
        if let Some((pos, at)) = at {
            f.report.error(
                pos,
                format!("{at}: false: PM2 leaves the app stopped once it exits, but {JOB}"),
            );
        }
    }
    let codes = f.read("stop_exit_codes", exit_codes).unwrap_or_default();
    if !codes.is_empty() {
        let at = f
            .get("stop_exit_codes")
            .map(|e| (e.value.pos, join(f.path, &e.key)));
        if let Some((pos, at)) = at {
            let codes: Vec<String> = codes.iter().map(i64::to_string).collect();
            f.report.error(
                pos,
                format!(
                    "{at}: PM2 does not restart the app when it exits with {}, but {JOB} \
                     (a Job's podFailurePolicy can match exit codes)",
                    codes.join(", ")
                ),
            );
        }
    }
}

/// PM2's `stop_exit_codes`: one code or a list of them.
fn exit_codes(node: &Node) -> Result<Vec<i64>, String> {
    match &node.value {
        Value::List(items) => items
            .iter()
            .map(|item| values::integer_in(item, "an exit code", 0, 255))
            .collect(),
        _ => values::integer_in(node, "an exit code", 0, 255).map(|code| vec![code]),
    }
}

/// PM2's `uid`/`gid`: numeric ids carry over; user and group names only
/// mean something on the PM2 host.
fn identity(f: &mut Fields<'_, '_>, spec: &mut AppSpec) {
    let run_as_user = f.read("uid", id).flatten();
    let run_as_group = f.read("gid", id).flatten();
    for (option, field) in [("uid", "runAsUser"), ("gid", "runAsGroup")] {
        let Some(e) = f.get(option) else { continue };
        if let Value::Str(s) = &e.value.value {
            if s.trim().parse::<i64>().is_err() {
                f.report.warning(
                    e.value.pos,
                    format!(
                        "{}: ignored {} {s:?}: PM2 looks names up in its host's /etc/passwd; \
                         set spec.securityContext.{field} to a numeric id instead",
                        f.label, e.key
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
}

pub fn non_empty(node: &Node) -> Result<String, String> {
    let s = values::string(node)?;
    if s.is_empty() {
        Err("must not be empty (leave the option out instead)".to_string())
    } else {
        Ok(s)
    }
}

/// PM2's `instance_var` and `increment_var`: the name of an environment
/// variable the runtime shim sets (letters, digits, `_`).
fn env_var_name(node: &Node) -> Result<String, String> {
    let name = values::string(node)?;
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(name)
    } else {
        Err(format!(
            "{name:?} is not an environment variable name (letters, digits, '_', not starting with a digit)"
        ))
    }
}

/// PM2: `"max"` is one per CPU; numbers (or numeric strings) keep PM2's meaning.
fn instances(node: &Node) -> Result<Instances, String> {
    if let Value::Str(s) = &node.value {
        // PM2 compares with "max" and parseInt()s any other string, so
        // "MAX" is 0 too: one per CPU.
        if s.trim().eq_ignore_ascii_case("max") {
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

/// A cron schedule as the App reads it (and PM2's cron library): 5 fields,
/// or 6 with seconds first, names such as `MON`, nicknames such as
/// `@daily`. PM2 treats an empty value (or `0`) as "no cron restart".
fn cron(node: &Node) -> Result<Option<String>, String> {
    let expected = || {
        format!(
            "expected a cron expression of 5 fields (or 6 with seconds) such as \"0 3 * * *\", got {}",
            node.describe()
        )
    };
    let schedule = match &node.value {
        Value::Str(s) if s.trim().is_empty() || s.trim() == "0" => return Ok(None),
        Value::Int(0) => return Ok(None),
        Value::Str(s) => s.trim().to_string(),
        _ => return Err(expected()),
    };
    // The operator's own parser decides, so what converts is what runs.
    let app = App::new(
        "cron",
        AppSpec {
            cron_restart: Some(schedule.clone()),
            ..AppSpec::default()
        },
    );
    match next_cron_restart(&app, Timestamp::UNIX_EPOCH) {
        Ok(_) => Ok(Some(schedule)),
        Err(e) => Err(e.message),
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

#[cfg(test)]
mod tests {
    use crate::convert::{convert_text, ConvertError, ConvertOptions, Diagnostic, Format};
    use crate::core::{build, listen_timeout_ms, BuildOptions};
    use crate::crd::{App, AppSpec};

    fn convert(app: &str) -> Result<(AppSpec, Vec<Diagnostic>), Vec<Diagnostic>> {
        let opts = ConvertOptions {
            image: Some("web:1".into()),
            ..ConvertOptions::default()
        };
        let text = format!(r#"{{"apps": [{{"name": "web", "script": "a.js", {app}}}]}}"#);
        match convert_text(&text, Format::Json, "e.json", &opts) {
            Ok(c) => Ok((c.apps[0].spec.clone(), c.diagnostics)),
            Err(ConvertError::Invalid { diagnostics, .. }) => Err(diagnostics),
            Err(other) => panic!("{other}"),
        }
    }

    fn built(spec: AppSpec) -> k8s_openapi::api::core::v1::PodSpec {
        let mut app = App::new("web", spec);
        app.metadata.namespace = Some("shop".into());
        app.metadata.uid = Some("u".into());
        let opts = BuildOptions {
            shim_image: "shim:1".into(),
        };
        let desired = build(&app, &[], &opts).expect("builds");
        desired.deployment.spec.unwrap().template.spec.unwrap()
    }

    #[test]
    fn treekill_is_carried_with_pm2s_default() {
        let (spec, diagnostics) = convert(r#""treekill": false"#).unwrap();
        assert_eq!(spec.treekill, Some(false));
        assert!(diagnostics.iter().all(|d| !d.message.contains("treekill")));
        let args = built(spec).containers[0].args.clone().unwrap();
        assert!(args.contains(&"--no-treekill".to_string()), "{args:?}");

        let (spec, _) = convert(r#""treekill": true"#).unwrap();
        assert_eq!(spec.treekill, Some(true));
        let (spec, _) = convert(r#""port": 80"#).unwrap();
        assert_eq!(
            spec.treekill, None,
            "unset: the App's default, true as in PM2"
        );
        let args = built(spec).containers[0].args.clone().unwrap();
        assert!(!args.contains(&"--no-treekill".to_string()), "{args:?}");

        let err = convert(r#""treekill": "no""#).unwrap_err();
        assert!(
            err[0].message.contains("treekill: expected true or false"),
            "{err:?}"
        );
    }

    #[test]
    fn cron_restart_warns_how_to_set_the_time_zone() {
        let (spec, diagnostics) = convert(r#""cron_restart": "0 3 * * *""#).unwrap();
        assert_eq!(spec.cron_restart.as_deref(), Some("0 3 * * *"));
        assert_eq!(spec.cron_time_zone, None, "PM2's host zone is not known");
        let warning = &diagnostics[0];
        assert!(!warning.is_error());
        for part in [
            "host's local time zone",
            "UTC",
            "spec.cronTimeZone",
            "Europe/Paris",
        ] {
            assert!(warning.message.contains(part), "{part}: {warning}");
        }
    }

    #[test]
    fn cron_restart_accepts_what_the_operator_runs_and_nothing_else() {
        for (value, carried) in [
            (r#""@daily""#, Some("@daily")),
            (r#""30 */10 * * * *""#, Some("30 */10 * * * *")),
            (r#"" 0 0 * * MON ""#, Some("0 0 * * MON")),
            (r#""0""#, None),
            ("0", None),
            (r#""""#, None),
        ] {
            let (spec, _) = convert(&format!(r#""cron_restart": {value}"#)).unwrap();
            assert_eq!(spec.cron_restart.as_deref(), carried, "{value}");
        }
        for value in [
            r#""61 * * * *""#,
            r#""@sometimes""#,
            r#""a b c d e""#,
            "5",
            "true",
        ] {
            let err = convert(&format!(r#""cron_restart": {value}"#)).unwrap_err();
            assert!(
                err[0].message.starts_with("apps[0].cron_restart: "),
                "{value}: {err:?}"
            );
            assert!(err[0].pos.is_some());
        }
    }

    #[test]
    fn zero_timeouts_mean_pm2s_defaults() {
        let (spec, _) = convert(r#""kill_timeout": 0, "listen_timeout": 0"#).unwrap();
        assert_eq!((spec.kill_timeout, spec.listen_timeout), (Some(0), Some(0)));
        assert_eq!(listen_timeout_ms(&spec), Ok(3000));
        // The shim's longest drain (5000 ms + 25000 ms by default) + PM2's 1600 ms, rounded up.
        let grace = built(spec.clone()).termination_grace_period_seconds;
        assert_eq!(grace, Some(32));
        let (explicit, _) = convert(r#""kill_timeout": 1600, "listen_timeout": 3000"#).unwrap();
        assert_eq!(built(explicit).termination_grace_period_seconds, grace);
        let err = convert(r#""listen_timeout": -1"#).unwrap_err();
        assert!(err[0].message.contains("expected 0 to 86400000"), "{err:?}");
    }
}
