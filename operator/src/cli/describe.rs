//! `readyroll describe APP`, like `pm2 describe`: the spec under PM2's
//! option names with the values readyroll resolves (defaults marked), then
//! the conditions, the App's last Events and its revision history.

use std::process::ExitCode;

use anyhow::Context as _;
use k8s_openapi::api::core::v1::Event;
use k8s_openapi::jiff::Timestamp;
use kube::api::ListParams;
use kube::{Api, ResourceExt};
use readyroll_core::build;
use readyroll_core::crd::{App, ExecMode, Instances};

use super::history;
use super::state::{describe as condition_text, State};
use super::table;
use super::target::TargetArgs;

/// How many of the App's Events are shown, newest last.
const EVENTS_SHOWN: usize = 10;
/// Marks a value the App leaves out, i.e. PM2's (or readyroll's) default.
const DEFAULT: &str = "(default)";

#[derive(Debug, clap::Args)]
pub struct DescribeArgs {
    /// The App.
    pub app: String,
}

pub async fn run(target: &TargetArgs, args: &DescribeArgs) -> anyhow::Result<ExitCode> {
    let target = target.connect().await?;
    let app = target.app(&args.app).await?;
    let events: Api<Event> = Api::namespaced(target.client.clone(), &target.namespace);
    let selector = format!("involvedObject.kind=App,involvedObject.name={}", args.app);
    let mut events = events
        .list(&ListParams::default().fields(&selector))
        .await
        .context("listing the App's Events")?
        .items;
    if let Some(uid) = app.metadata.uid.as_deref() {
        events.retain(|e| e.involved_object.uid.as_deref().is_none_or(|u| u == uid));
    }
    events.sort_by_key(event_time);
    let now = Timestamp::now();
    super::write_stdout(&render(&app, &events, now))?;
    Ok(ExitCode::SUCCESS)
}

/// The whole description.
pub fn render(app: &App, events: &[Event], now: Timestamp) -> String {
    let mut out = String::new();
    let status = app.status.clone().unwrap_or_default();
    let state = State::of(app);
    let field = |out: &mut String, name: &str, value: String| {
        out.push_str(&format!("{:<24}{value}\n", format!("{name}:")));
    };
    field(&mut out, "Name", app.name_any());
    field(&mut out, "Namespace", app.namespace().unwrap_or_default());
    field(
        &mut out,
        "Status",
        format!("{} ({})", state.word(), state.detail()),
    );
    field(
        &mut out,
        "Revision",
        format!(
            "{} (last good: {})",
            status.current_revision.as_deref().unwrap_or("-"),
            status.last_good_revision.as_deref().unwrap_or("-")
        ),
    );
    field(&mut out, "Instances", super::state::progress(&status));
    field(
        &mut out,
        "Restarts",
        format!(
            "{} (memory restarts: {})",
            status.restarts.unwrap_or(0),
            status.memory_restarts.unwrap_or(0)
        ),
    );

    out.push_str("\nPM2 options (PM2 name, then readyroll's spec field):\n");
    let rows: Vec<Vec<String>> = pm2_options(app)
        .into_iter()
        .map(|(pm2, field, value)| vec![pm2.to_string(), field.to_string(), value])
        .collect();
    out.push_str(&indent(&table::render(&["PM2", "SPEC", "VALUE"], &rows)));

    out.push_str("\nConditions:\n");
    let rows: Vec<Vec<String>> = status
        .conditions
        .iter()
        .map(|c| {
            vec![
                c.type_.clone(),
                c.status.clone(),
                table::age(now.as_second() - c.last_transition_time.0.as_second()),
                condition_text(c),
            ]
        })
        .collect();
    out.push_str(&indent(&table::render(
        &["TYPE", "STATUS", "SINCE", "REASON"],
        &rows,
    )));

    out.push_str("\nEvents:\n");
    let shown = &events[events.len().saturating_sub(EVENTS_SHOWN)..];
    if shown.is_empty() {
        out.push_str("  <none>\n");
    } else {
        let rows: Vec<Vec<String>> = shown
            .iter()
            .map(|e| {
                vec![
                    event_time(e)
                        .map_or("-".into(), |t| table::age(now.as_second() - t.as_second())),
                    e.type_.clone().unwrap_or_default(),
                    e.reason.clone().unwrap_or_default(),
                    e.message.clone().unwrap_or_default(),
                ]
            })
            .collect();
        out.push_str(&indent(&table::render(
            &["AGE", "TYPE", "REASON", "MESSAGE"],
            &rows,
        )));
    }

    out.push_str("\nRevision history:\n");
    if status.history.is_empty() {
        out.push_str("  <none>\n");
    } else {
        out.push_str(&indent(&history::render(&status.history, now)));
    }
    out
}

/// PM2 option, spec field, value as readyroll resolves it.
pub fn pm2_options(app: &App) -> Vec<(&'static str, &'static str, String)> {
    let spec = &app.spec;
    let status = app.status.clone().unwrap_or_default();
    let or_default = |value: Option<String>, default: String| {
        value.unwrap_or_else(|| format!("{default} {DEFAULT}"))
    };
    let ms = |value: Option<i64>, default: i64| match value {
        Some(v) if v > 0 => format!("{v} ms"),
        _ => format!("{default} ms {DEFAULT}"),
    };
    let flag = |value: Option<bool>, default: bool| match value {
        Some(v) => v.to_string(),
        None => format!("{default} {DEFAULT}"),
    };
    let instances = match &spec.instances {
        None => format!("1 {DEFAULT}"),
        Some(Instances::Count(n)) => n.to_string(),
        Some(Instances::PerCpu) => "max (one per CPU)".into(),
        Some(Instances::PerCpuMinus(n)) => format!("-{n} (one per CPU, {n} fewer)"),
    };
    let instances = match (spec.replicas, status.instances) {
        (Some(r), _) => format!("{r} (spec.replicas, set by scaling; instances: {instances})"),
        (None, Some(resolved)) => format!("{resolved} (instances: {instances})"),
        (None, None) => instances,
    };
    let exec_mode = spec.exec_mode.map(|m| match m {
        ExecMode::Cluster => "cluster".to_string(),
        ExecMode::Fork => "fork".to_string(),
    });
    let shim = if build::shim_enabled(spec) {
        "on"
    } else {
        "off"
    };
    let shim = match spec.runtime_shim.as_ref().and_then(|s| s.enabled) {
        Some(_) => shim.to_string(),
        None => format!("{shim} {DEFAULT}"),
    };
    vec![
        ("(image)", "image", spec.image.clone()),
        (
            "script",
            "script",
            or_default(spec.script.clone(), "(the image's entry point)".into()),
        ),
        ("args", "args", list(&spec.args)),
        (
            "interpreter",
            "interpreter",
            or_default(
                spec.interpreter.clone(),
                "(by the script's extension)".into(),
            ),
        ),
        (
            "interpreter_args",
            "interpreterArgs",
            list(&spec.interpreter_args),
        ),
        (
            "cwd",
            "cwd",
            or_default(spec.cwd.clone(), "(the image's)".into()),
        ),
        ("instances", "instances", instances),
        (
            "exec_mode",
            "execMode",
            or_default(exec_mode, "cluster".into()),
        ),
        (
            "instance_var",
            "instanceVar",
            or_default(spec.instance_var.clone(), "NODE_APP_INSTANCE".into()),
        ),
        (
            "increment_var",
            "incrementVar",
            or_default(spec.increment_var.clone(), "-".into()),
        ),
        ("wait_ready", "waitReady", flag(spec.wait_ready, false)),
        (
            "listen_timeout",
            "listenTimeout",
            ms(spec.listen_timeout, build::LISTEN_TIMEOUT_MS),
        ),
        (
            "kill_timeout",
            "killTimeout",
            ms(spec.kill_timeout, build::KILL_TIMEOUT_MS),
        ),
        (
            "(stop signal)",
            "stopSignal",
            or_default(spec.stop_signal.clone(), build::STOP_SIGNAL.into()),
        ),
        (
            "shutdown_with_message",
            "shutdownWithMessage",
            flag(spec.shutdown_with_message, false),
        ),
        ("treekill", "treekill", flag(spec.treekill, true)),
        (
            "min_uptime",
            "minUptime",
            ms(spec.min_uptime, build::MIN_UPTIME_MS),
        ),
        (
            "max_restarts",
            "maxRestarts",
            spec.max_restarts.map_or_else(
                || format!("{} {DEFAULT}", build::MAX_RESTARTS),
                |n| n.to_string(),
            ),
        ),
        (
            "max_memory_restart",
            "maxMemoryRestart",
            or_default(
                spec.max_memory_restart
                    .as_ref()
                    .and_then(|m| serde_json::to_value(m).ok())
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)),
                "-".into(),
            ),
        ),
        (
            "cron_restart",
            "cronRestart",
            or_default(spec.cron_restart.clone(), "-".into()),
        ),
        ("env", "env", format!("{} variables", spec.env.len())),
        (
            "--env NAME",
            "profile",
            or_default(spec.profile.clone(), "-".into()),
        ),
        ("(runtime shim)", "runtimeShim.enabled", shim),
        ("(pm2 stop: none)", "paused", flag(spec.paused, false)),
        (
            "(pm2 reload)",
            "restartedAt",
            or_default(spec.restarted_at.clone(), "-".into()),
        ),
    ]
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "-".into()
    } else {
        items.join(" ")
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

/// When an Event last happened, whichever API wrote it.
fn event_time(event: &Event) -> Option<Timestamp> {
    event
        .series
        .as_ref()
        .and_then(|s| s.last_observed_time.as_ref().map(|t| t.0))
        .or_else(|| event.last_timestamp.as_ref().map(|t| t.0))
        .or_else(|| event.event_time.as_ref().map(|t| t.0))
        .or_else(|| event.first_timestamp.as_ref().map(|t| t.0))
        .or_else(|| event.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use readyroll_core::crd::AppSpec;

    #[test]
    fn options_show_pm2_names_with_resolved_defaults() {
        let app = App::new(
            "web",
            AppSpec {
                image: "web:1".into(),
                script: Some("server.js".into()),
                kill_timeout: Some(5000),
                ..AppSpec::default()
            },
        );
        let options = pm2_options(&app);
        let value = |pm2: &str| {
            options
                .iter()
                .find(|(name, _, _)| *name == pm2)
                .map(|(_, _, v)| v.clone())
                .unwrap()
        };
        assert_eq!(value("kill_timeout"), "5000 ms");
        assert_eq!(value("listen_timeout"), "3000 ms (default)");
        assert_eq!(value("instances"), "1 (default)");
        assert_eq!(value("(stop signal)"), "SIGINT (default)");
        assert_eq!(
            value("(runtime shim)"),
            "on (default)",
            "a script turns it on"
        );
        let text = render(&app, &[], Timestamp::now());
        assert!(text.contains("kill_timeout"), "{text}");
        assert!(text.contains("Revision history:\n  <none>"), "{text}");
    }
}
