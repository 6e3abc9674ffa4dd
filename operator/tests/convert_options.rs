//! Every PM2 option: mapped options reach their App field, the others are
//! reported with a reason, unknown keys are reported, nothing vanishes.

mod common;

use common::{app, convert_err, convert_ok, scratch_file};
use readyroll::convert::{camel_case, Meaning, OPTIONS};
use readyroll::crd::{ExecMode, Instances, MemorySize};

#[test]
fn every_mapped_option_reaches_its_app_field() {
    let (apps, _) = convert_ok(&[
        "all-options.json",
        "--image",
        "base:1",
        "--env",
        "production",
    ]);

    let api = &app(&apps, "api").spec;
    assert_eq!(api.script.as_deref(), Some("dist/server.js"));
    assert_eq!(api.args, ["--listen", "0.0.0.0", "--label", "blue green"]);
    assert_eq!(api.interpreter.as_deref(), Some("node"));
    assert_eq!(
        api.interpreter_args,
        ["--max-old-space-size=512", "--enable-source-maps"]
    );
    assert_eq!(api.cwd.as_deref(), Some("/srv/api"));
    assert_eq!(api.instances, Some(Instances::PerCpu));
    assert_eq!(api.exec_mode, Some(ExecMode::Cluster));
    assert_eq!(api.instance_var.as_deref(), Some("INSTANCE_ID"));
    assert_eq!(api.increment_var.as_deref(), Some("PORT"));
    assert_eq!(api.wait_ready, Some(true));
    assert_eq!(api.listen_timeout, Some(8_000));
    assert_eq!(api.kill_timeout, Some(4_000));
    assert_eq!(api.shutdown_with_message, Some(true));
    assert_eq!(api.min_uptime, Some(5_000));
    assert_eq!(api.max_restarts, Some(10));
    assert_eq!(
        api.max_memory_restart,
        Some(MemorySize::parse("300M").unwrap())
    );
    assert_eq!(api.cron_restart.as_deref(), Some("0 3 * * *"));
    assert_eq!(api.port, Some(8080));
    let security = api.security_context.as_ref().expect("uid and gid set");
    assert_eq!(
        (security.run_as_user, security.run_as_group),
        (Some(1000), Some(1000))
    );
    // Env values become strings the way PM2 passes them; port sets PORT.
    assert_eq!(api.env["NODE_ENV"], "development");
    assert_eq!(api.env["WORKERS"], "4");
    assert_eq!(api.env["DEBUG"], "false");
    assert_eq!(api.env["OPTS"], r#"{"a":[1,"b"]}"#);
    assert_eq!(api.env["PORT"], "8080");
    // PM2 lays the profile over env.PORT = port: the profile's PORT wins.
    assert_eq!(api.env_profiles["production"]["PORT"], "80");
    assert_eq!(api.profile.as_deref(), Some("production"));

    // The same options under PM2's aliases and camelCase spellings.
    let worker = &app(&apps, "worker").spec;
    assert_eq!(worker.script.as_deref(), Some("worker.py"));
    assert_eq!(worker.interpreter.as_deref(), Some("python3"));
    assert_eq!(worker.interpreter_args, ["-u"]);
    assert_eq!(worker.args, ["--queue", "mail", "3"]);
    assert_eq!(worker.instances, Some(Instances::PerCpuMinus(1)));
    assert_eq!(worker.exec_mode, Some(ExecMode::Fork));
    assert_eq!(worker.kill_timeout, Some(2_500));
    assert_eq!(worker.min_uptime, Some(2_000));
    assert_eq!(worker.max_restarts, Some(3));
    assert_eq!(
        worker.max_memory_restart.as_ref().map(MemorySize::bytes),
        Some(1 << 30)
    );
    assert_eq!(worker.cron_restart.as_deref(), Some("*/30 * * * * *"));
    assert_eq!(worker.wait_ready, Some(false));
    assert_eq!(worker.listen_timeout, Some(3_000));
    assert_eq!(worker.shutdown_with_message, Some(false));
    assert_eq!(
        worker.security_context.as_ref().and_then(|s| s.run_as_user),
        Some(2000)
    );
}

#[test]
fn the_all_options_fixture_uses_every_mapped_option() {
    let fixture = std::fs::read_to_string(common::fixtures().join("all-options.json")).unwrap();
    for option in OPTIONS.iter().filter(|o| o.meaning == Meaning::Mapped) {
        let camel = camel_case(option.name);
        let used = std::iter::once(option.name)
            .chain(std::iter::once(camel.as_str()))
            .chain(option.aliases.iter().copied())
            .any(|spelling| fixture.contains(&format!("\"{spelling}\"")));
        assert!(used, "all-options.json does not use '{}'", option.name);
    }
}

#[test]
fn every_ignored_option_is_reported_with_its_reason() {
    let ignored: Vec<_> = OPTIONS
        .iter()
        .filter_map(|o| match o.meaning {
            Meaning::Ignored(why) => Some((o, why)),
            Meaning::Mapped => None,
        })
        .collect();
    // Canonical spellings in one app, aliases and camelCase in another.
    let canonical: Vec<String> = ignored
        .iter()
        .map(|(o, _)| format!("\"{}\": true", o.name))
        .collect();
    let others: Vec<String> = ignored
        .iter()
        .flat_map(|(o, _)| {
            o.aliases
                .iter()
                .map(|a| a.to_string())
                .chain([camel_case(o.name)])
        })
        .filter(|s| ignored.iter().all(|(o, _)| o.name != s))
        .map(|s| format!("\"{s}\": true"))
        .collect();
    let file = scratch_file(
        "ignored.json",
        &format!(
            "[\n{{\"name\": \"a\", \"script\": \"a.js\", {}}},\n{{\"name\": \"b\", \"script\": \"b.js\", {}}}\n]\n",
            canonical.join(", "),
            others.join(", ")
        ),
    );
    let (apps, stderr) = convert_ok(&[&file, "--image", "x:1"]);
    assert_eq!(apps.len(), 2, "ignored options do not stop the conversion");
    for (option, why) in &ignored {
        let expected = format!("[0] (a): ignored option '{}': {why}", option.name);
        assert!(
            stderr.contains(&expected),
            "missing {expected:?} in:\n{stderr}"
        );
        for alias in option.aliases {
            let expected = format!("[1] (b): ignored option '{alias}': {why}");
            assert!(
                stderr.contains(&expected),
                "missing {expected:?} in:\n{stderr}"
            );
        }
    }
    let reported = stderr
        .lines()
        .filter(|l| l.contains("ignored option"))
        .count();
    assert_eq!(reported, canonical.len() + others.len(), "{stderr}");
}

#[test]
fn unknown_options_are_reported_never_dropped_silently() {
    let file = scratch_file(
        "unknown.json",
        "{\n  \"name\": \"web\",\n  \"script\": \"a.js\",\n  \"kill_timout\": 3000,\n  \"node_version\": \"18\"\n}\n",
    );
    let (apps, stderr) = convert_ok(&[&file, "--image", "x:1"]);
    assert_eq!(apps[0].spec.kill_timeout, None);
    assert!(
        stderr.contains(":4:3: app (web): unknown option 'kill_timout' ignored: it is not a PM2 option; did you mean 'kill_timeout'?"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            ":5:3: app (web): unknown option 'node_version' ignored: it is not a PM2 option"
        ),
        "{stderr}"
    );
}

#[test]
fn two_spellings_of_one_option_must_agree() {
    let file = scratch_file(
        "clash.json",
        r#"{"name": "web", "script": "a.js", "interpreter": "node", "exec_interpreter": "python3"}"#,
    );
    let stderr = convert_err(&[&file, "--image", "x:1"]);
    assert!(
        stderr.contains("exec_interpreter: 'interpreter' and 'exec_interpreter' are the same PM2 option (exec_interpreter) with different values; keep one"),
        "{stderr}"
    );
    let file = scratch_file(
        "agree.json",
        r#"{"name": "web", "script": "a.js", "interpreter": "node", "exec_interpreter": "node"}"#,
    );
    let (apps, _) = convert_ok(&[&file, "--image", "x:1"]);
    assert_eq!(apps[0].spec.interpreter.as_deref(), Some("node"));
}

#[test]
fn a_script_with_spaces_runs_through_a_shell_like_pm2() {
    let file = scratch_file(
        "shell.json",
        r#"{"name": "web", "script": "npm run start"}"#,
    );
    let (apps, stderr) = convert_ok(&[&file, "--image", "x:1"]);
    assert_eq!(apps[0].spec.script.as_deref(), Some("sh"));
    assert_eq!(apps[0].spec.args, ["-c", "npm run start"]);
    assert!(
        stderr.contains("script \"npm run start\" contains spaces"),
        "{stderr}"
    );
    // PM2 would drop args here; readyroll refuses instead of losing them.
    let file = scratch_file(
        "shell-args.json",
        r#"{"name": "web", "script": "npm run", "args": "start"}"#,
    );
    let stderr = convert_err(&[&file, "--image", "x:1"]);
    assert!(
        stderr.contains("args: PM2 drops args when script contains spaces"),
        "{stderr}"
    );
}

#[test]
fn host_specific_values_are_reported_when_changed() {
    let file = scratch_file(
        "host.json",
        r#"{"name": "web", "script": "a.js", "interpreter": "node@18.20.0", "uid": "www-data"}"#,
    );
    let (apps, stderr) = convert_ok(&[&file, "--image", "x:1"]);
    assert_eq!(apps[0].spec.interpreter.as_deref(), Some("node"));
    assert!(
        stderr.contains("interpreter 'node@18.20.0' picks a Node.js version through nvm"),
        "{stderr}"
    );
    assert_eq!(apps[0].spec.security_context, None);
    assert!(stderr.contains("ignored uid \"www-data\""), "{stderr}");
}

#[test]
fn append_env_to_name_follows_pm2() {
    let file = scratch_file(
        "append.json",
        r#"{"name": "web", "script": "a.js", "append_env_to_name": true, "env_production": {"A": "1"}}"#,
    );
    let (apps, _) = convert_ok(&[&file, "--image", "x:1", "--env", "production"]);
    assert_eq!(apps[0].metadata.name.as_deref(), Some("web-production"));
    let (apps, _) = convert_ok(&[&file, "--image", "x:1"]);
    assert_eq!(apps[0].metadata.name.as_deref(), Some("web"));
}

#[test]
fn the_mapping_document_covers_every_option() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/convert.md"))
        .expect("docs/convert.md exists");
    for option in OPTIONS {
        assert!(
            doc.contains(&format!("`{}`", option.name)),
            "docs/convert.md does not mention `{}`",
            option.name
        );
        if let Meaning::Ignored(why) = option.meaning {
            assert!(
                doc.contains(why),
                "docs/convert.md lacks the reason for `{}`: {why}",
                option.name
            );
        }
    }
}
