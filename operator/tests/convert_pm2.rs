//! `readyroll convert` reads what PM2 reads and means what PM2 means:
//! each test names the PM2 behaviour it follows.

mod common;

use common::{app, convert_err, convert_ok, readyroll, scratch_file};
use readyroll::crd::Instances;

#[test]
fn json_is_read_as_the_javascript_pm2_evaluates() {
    let file = scratch_file(
        "js-style.json",
        "{\n  // PM2 evaluates .json\n  apps: [{\n    name: 'web',\n    script: \"a.js\",\n    \
         kill_timeout: 0x1388, /* 5000 */\n    instances: +2,\n  },],\n}\n",
    );
    let (apps, stderr) = convert_ok(&[&file, "--image", "x:1"]);
    assert_eq!(stderr, "");
    let web = &app(&apps, "web").spec;
    assert_eq!(web.kill_timeout, Some(5000));
    assert_eq!(web.instances, Some(Instances::Count(2)));
    // Errors keep their positions in such files.
    let file = scratch_file(
        "js-style-bad.json",
        "{\n  apps: [{ name: 'web', kill_timeout: 'soon' }],\n}\n",
    );
    let stderr = convert_err(&[&file, "--image", "x:1"]);
    assert!(
        stderr.contains("error: ")
            && stderr.contains(":2:39: apps[0].kill_timeout: expected milliseconds"),
        "{stderr}"
    );
}

#[test]
fn json5_files_convert() {
    let file = scratch_file(
        "eco.json5",
        "{apps: [{name: 'edge', script: 'e.js', listen_timeout: 8e3, env: {BANNER: 'it\\'s'}}]}",
    );
    let (apps, _) = convert_ok(&[&file, "--image", "x:1"]);
    let edge = &app(&apps, "edge").spec;
    assert_eq!(edge.listen_timeout, Some(8000));
    assert_eq!(edge.env["BANNER"], "it's");
}

#[test]
fn json_expressions_are_evaluated_with_node_like_pm2() {
    let file = scratch_file(
        "expr.json",
        r#"{"apps": [{"name": "web", "script": "a.js", "port": Number(process.env.PORT_FOR_CONVERT_TEST || 3000)}]}"#,
    );
    let (apps, stderr) = convert_ok(&[&file, "--image", "x:1"]);
    assert_eq!(app(&apps, "web").spec.port, Some(3000));
    assert!(stderr.starts_with("warning: "), "{stderr}");
    assert!(stderr.contains("evaluated with node"), "{stderr}");
    // Neither JSON5 nor JavaScript: the parser's position, node's verdict.
    let file = scratch_file("neither.json", "{\n  \"apps\": [ { \"name\": \"web\" ] }\n");
    let stderr = convert_err(&[&file, "--image", "x:1"]);
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains(":2:29: "), "{stderr}");
}

#[test]
fn names_become_kubernetes_names_with_a_warning() {
    let file = scratch_file(
        "names.json",
        r#"[{"name": "API", "script": "a.js"}, {"name": "clustered_http", "script": "b.js"},
            {"name": "my app", "script": "c.js"}, {"name": "api", "script": "d.js"}]"#,
    );
    let (apps, stderr) = convert_ok(&[&file, "--image", "x:1"]);
    let names: Vec<_> = apps
        .iter()
        .filter_map(|a| a.metadata.name.as_deref())
        .collect();
    assert_eq!(names, ["api", "clustered-http", "my-app", "api-2"]);
    for line in [
        r#"[0].name: "API" becomes "api""#,
        r#"[1].name: "clustered_http" becomes "clustered-http""#,
        r#"[2].name: "my app" becomes "my-app""#,
        r#"[3].name: "api" is already the name of another app; this one becomes "api-2""#,
    ] {
        assert!(stderr.contains(line), "missing {line:?} in:\n{stderr}");
    }
    assert!(
        stderr.lines().all(|l| l.starts_with("warning: ")),
        "{stderr}"
    );
}

#[test]
fn default_names_follow_pm2_including_a_trailing_slash() {
    // PM2's own `pm2 init` template has `script: './service-worker/'`.
    let file = scratch_file(
        "defaults.json",
        r#"[{"script": "./service-worker/"}, {"script": "./server.js", "name": ""}, {"script": "a.b.js", "name": null}]"#,
    );
    let (apps, _) = convert_ok(&[&file, "--image", "x:1"]);
    let names: Vec<_> = apps
        .iter()
        .filter_map(|a| a.metadata.name.as_deref())
        .collect();
    assert_eq!(names, ["service-worker", "server", "a-b"]);
}

#[test]
fn null_means_unset() {
    let file = scratch_file(
        "nulls.json",
        r#"{"name": "web", "script": "a.js", "instances": null, "cwd": null, "watch": null, "env_production": null, "image": null}"#,
    );
    let (apps, stderr) = convert_ok(&[&file, "--image", "x:1"]);
    let web = &app(&apps, "web").spec;
    assert_eq!((web.instances, web.cwd.as_deref()), (None, None));
    assert!(web.env_profiles.is_empty());
    assert_eq!(web.image, "x:1");
    assert_eq!(stderr, "", "an unset option is not worth a remark");
}

#[test]
fn string_profiles_are_accepted_and_reported() {
    let file = scratch_file(
        "string-profile.json",
        r#"{"name": "web", "script": "a.js", "env_staging": "", "env_production": "NODE_ENV=production"}"#,
    );
    let (apps, stderr) = convert_ok(&[&file, "--image", "x:1", "--env", "production"]);
    let web = &app(&apps, "web").spec;
    assert_eq!(web.profile.as_deref(), Some("production"));
    assert!(web.env_profiles["production"].is_empty());
    assert!(
        stderr.contains(r#"ignored env_production "NODE_ENV=production": PM2 accepts a string"#),
        "{stderr}"
    );
}

#[test]
fn a_static_only_file_becomes_file_server_apps() {
    let file = scratch_file(
        "static.json",
        r#"{"static": [{"path": "./dist", "port": 8081, "spa": true}, {"path": "docs"}]}"#,
    );
    let (apps, stderr) = convert_ok(&[&file, "--image", "nginx:1"]);
    let dist = &app(&apps, "static-page-server-8081").spec;
    assert_eq!(dist.port, Some(8081));
    assert_eq!(dist.script, None);
    assert_eq!(dist.env["PM2_SERVE_PATH"], "./dist");
    assert_eq!(dist.env["PM2_SERVE_SPA"], "true");
    assert_eq!(app(&apps, "static-page-server-8080").spec.port, Some(8080));
    assert!(
        stderr.contains("the image must serve the files itself"),
        "{stderr}"
    );
}

#[test]
fn deploy_env_is_merged_below_env_under_its_profile() {
    let file = scratch_file(
        "deploy.json",
        r#"{"apps": [{"name": "shop", "script": "s.js", "env": {"LOG": "debug"}, "env_production": {"NODE_ENV": "production"}}],
            "deploy": {"production": {"host": "h", "env": {"LOG": "info", "DEPLOYED": "yes"}}}}"#,
    );
    let (apps, stderr) = convert_ok(&[&file, "--image", "x:1", "--env", "production"]);
    let shop = &app(&apps, "shop").spec;
    assert_eq!(shop.env["LOG"], "debug", "the app's env wins");
    assert_eq!(shop.env["DEPLOYED"], "yes");
    assert!(
        stderr.contains("env gets DEPLOYED from the file's deploy block"),
        "{stderr}"
    );
    // Without --env, PM2 does not read deploy env blocks.
    let (apps, _) = convert_ok(&[&file, "--image", "x:1"]);
    assert!(!app(&apps, "shop").spec.env.contains_key("DEPLOYED"));
}

#[test]
fn a_profiles_port_wins_over_port_as_in_pm2() {
    let file = scratch_file(
        "port.json",
        r#"{"name": "web", "script": "a.js", "port": 8080, "env": {"PORT": 1}, "env_production": {"PORT": 80}}"#,
    );
    let (apps, stderr) = convert_ok(&[&file, "--image", "x:1", "--env", "production"]);
    let web = &app(&apps, "web").spec;
    assert_eq!(web.env["PORT"], "8080");
    assert_eq!(web.env_profiles["production"]["PORT"], "80");
    assert!(
        stderr.contains(r#"env.PORT "1" becomes "8080""#),
        "{stderr}"
    );
    assert!(
        stderr.contains(r#"env_production.PORT "80" wins over port 8080 under --env production"#),
        "{stderr}"
    );
}

#[test]
fn an_unknown_env_is_a_warning_as_in_pm2() {
    let run = readyroll(&["convert", "done-when.json", "--image", "x:1", "--env", "qa"]);
    assert!(run.success, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("warning: done-when.json: --env qa: no app defines env_qa"),
        "{}",
        run.stderr
    );
}

#[test]
fn args_strings_are_split_with_pm2s_regex() {
    let file = scratch_file(
        "args.json",
        r#"{"name": "web", "script": "a.js", "args": "--name=\"my app\" 'two words' x\"y z\"", "node_args": "-r  dotenv/config"}"#,
    );
    let (apps, _) = convert_ok(&[&file, "--image", "x:1"]);
    let web = &app(&apps, "web").spec;
    assert_eq!(web.args, [r#"--name="my app""#, "two words", "x", "y z"]);
    assert_eq!(web.interpreter_args, ["-r", "dotenv/config"]);
}

#[test]
fn cron_restart_warns_about_the_time_zone() {
    let file = scratch_file(
        "cron.json",
        r#"{"name": "web", "script": "a.js", "cron_restart": "0 3 * * *"}"#,
    );
    let (apps, stderr) = convert_ok(&[&file, "--image", "x:1"]);
    assert_eq!(
        app(&apps, "web").spec.cron_restart.as_deref(),
        Some("0 3 * * *")
    );
    assert!(
        stderr.contains("PM2 read it in its host's local time zone; the App reads it in UTC"),
        "{stderr}"
    );
}

#[test]
fn run_once_apps_are_refused_with_a_job_suggested() {
    for (text, what) in [
        (
            r#"{"name": "task", "script": "a.js", "autorestart": false}"#,
            "autorestart: false",
        ),
        (
            r#"{"name": "task", "script": "a.js", "stop_exit_codes": [0, 3]}"#,
            "exits with 0, 3",
        ),
        (
            r#"{"name": "task", "script": "a.js", "stop_exit_codes": 0}"#,
            "exits with 0,",
        ),
    ] {
        let file = scratch_file("task.json", text);
        let stderr = convert_err(&[&file, "--image", "x:1"]);
        assert!(stderr.contains(what), "{what}: {stderr}");
        assert!(stderr.contains("Kubernetes Job"), "{stderr}");
    }
    let file = scratch_file(
        "task-ok.json",
        r#"{"name": "svc", "script": "a.js", "autorestart": true, "stop_exit_codes": []}"#,
    );
    convert_ok(&[&file, "--image", "x:1"]);
}

#[test]
fn instances_max_in_any_case_is_one_per_cpu() {
    for spelling in ["max", "MAX", "Max"] {
        let file = scratch_file(
            "max.json",
            &format!(r#"{{"name": "web", "script": "a.js", "instances": "{spelling}"}}"#),
        );
        let (apps, _) = convert_ok(&[&file, "--image", "x:1"]);
        assert_eq!(
            app(&apps, "web").spec.instances,
            Some(Instances::PerCpu),
            "{spelling}"
        );
    }
}

#[test]
fn every_stderr_line_says_error_or_warning_and_only_errors_fail() {
    let file = scratch_file(
        "mixed.json",
        r#"[{"name": "a", "script": "a.js", "watch": true, "kill_timout": 1}, {"name": "b", "script": "b.js", "kill_timeout": "x"}]"#,
    );
    let run = readyroll(&["convert", &file, "--image", "x:1"]);
    assert!(!run.success);
    for line in run.stderr.lines() {
        assert!(
            line.starts_with("error: ") || line.starts_with("warning: "),
            "{line}"
        );
    }
    let file = scratch_file(
        "warnings.json",
        r#"{"name": "a", "script": "a.js", "watch": true}"#,
    );
    let run = readyroll(&["convert", &file, "--image", "x:1"]);
    assert!(run.success, "warnings alone exit 0");
    assert!(run.stderr.starts_with("warning: "), "{}", run.stderr);
}
