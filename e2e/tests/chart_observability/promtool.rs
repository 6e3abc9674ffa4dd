//! The rendered PrometheusRule through the pinned promtool: `check rules`
//! (what Prometheus would load) and `test rules` (the alerts fire on the
//! series the operator exports, and stay quiet otherwise).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use readyroll_e2e::{cache_dir, Helm, Must};
use serde_json::{json, Value as Json};
use serde_yaml::Value;

use super::super::chart_support::Scratch;
use super::super::{render, NAMESPACE};
use super::{rules, MustSome, MONITORING_API};

/// `$READYROLL_PROMTOOL`, else the one `build-binaries.sh promtool` builds.
fn promtool() -> PathBuf {
    if let Some(path) = std::env::var_os("READYROLL_PROMTOOL") {
        return path.into();
    }
    let version = include_str!("../../versions.env")
        .lines()
        .find_map(|line| line.strip_prefix("PROMTOOL_VERSION="))
        .must_some("PROMTOOL_VERSION in e2e/versions.env")
        .trim();
    let path = cache_dir()
        .join("bin")
        .join(format!("promtool-{version}"))
        .join("promtool");
    assert!(
        path.is_file(),
        "promtool is missing at {}: run e2e/cluster/build-binaries.sh promtool",
        path.display()
    );
    path
}

fn run_promtool(args: &[&str], dir: &std::path::Path) -> String {
    let output = Command::new(promtool())
        .args(args)
        .current_dir(dir)
        .output()
        .must("run promtool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "promtool {args:?}:\n{text}");
    text
}

/// The alert's annotations as Prometheus expands them for `labels`.
fn expanded(rule: &Value, labels: &BTreeMap<&str, &str>) -> Json {
    let mut annotations = serde_json::Map::new();
    for (key, text) in rule["annotations"].as_mapping().must_some("annotations") {
        let mut text = text.as_str().must_some("annotation text").to_owned();
        for (label, value) in labels {
            text = text.replace(&format!("{{{{ $labels.{label} }}}}"), value);
        }
        assert!(!text.contains("{{"), "unexpanded template in {text:?}");
        annotations.insert(key.as_str().must_some("key").to_owned(), json!(text));
    }
    Json::Object(annotations)
}

#[test]
#[ignore = "needs helm and promtool: run by the chart tier"]
fn promtool_accepts_the_rules_and_the_alerts_fire_when_they_should() {
    let helm = Helm::require();
    let rendered = render(
        &helm,
        &[
            MONITORING_API[0],
            MONITORING_API[1],
            "--set",
            "prometheusRule.enabled=true",
        ],
    );
    let rule = rendered.of_kind("PrometheusRule")[0];
    let scratch = Scratch::new("promtool");
    std::fs::write(
        scratch.path().join("rules.yaml"),
        serde_yaml::to_string(&rule["spec"]).must("rules as YAML"),
    )
    .must("write rules.yaml");
    let checked = run_promtool(&["check", "rules", "rules.yaml"], scratch.path());
    assert!(checked.contains("SUCCESS: 7 rules found"), "{checked}");

    let all = rules(&rendered);
    let alert = |name: &str| {
        all.iter()
            .find(|r| r["alert"].as_str() == Some(name))
            .must_some(name)
            .clone()
    };
    let web = BTreeMap::from([("namespace", "shop"), ("app", "web")]);
    let fired = |name: &str, labels: BTreeMap<&str, &str>, extra: &[(&str, &str)]| {
        let rule = alert(name);
        let mut all_labels: BTreeMap<&str, &str> = labels.clone();
        all_labels.extend(extra.iter().copied());
        all_labels.insert(
            "severity",
            rule["labels"]["severity"].as_str().must_some("severity"),
        );
        json!([{ "exp_labels": all_labels, "exp_annotations": expanded(&rule, &labels) }])
    };
    let operator = BTreeMap::from([("namespace", NAMESPACE)]);
    let leader = format!("readyroll_leader{{namespace=\"{NAMESPACE}\",pod=\"op-0\"}}");
    let tests = json!({
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": "readyroll_app_condition{namespace=\"shop\",app=\"web\",condition=\"Degraded\"}", "values": "0 1x30"},
                    {"series": "readyroll_app_condition{namespace=\"shop\",app=\"web\",condition=\"Reconciling\"}", "values": "0x40"},
                    {"series": "readyroll_app_rollbacks_total{namespace=\"shop\",app=\"web\"}", "values": "0 0 1x30"},
                    {"series": "readyroll_app_memory_restarts_total{namespace=\"shop\",app=\"web\"}", "values": "0+1x40"},
                    {"series": leader, "values": "0x30"},
                ],
                "alert_rule_test": [
                    {"eval_time": "5m", "alertname": "ReadyrollAppDegraded", "exp_alerts": []},
                    {"eval_time": "12m", "alertname": "ReadyrollAppDegraded",
                     "exp_alerts": fired("ReadyrollAppDegraded", web.clone(), &[("condition", "Degraded")])},
                    {"eval_time": "35m", "alertname": "ReadyrollRolloutStalled", "exp_alerts": []},
                    {"eval_time": "5m", "alertname": "ReadyrollRollbackHappened",
                     "exp_alerts": fired("ReadyrollRollbackHappened", web.clone(), &[])},
                    {"eval_time": "25m", "alertname": "ReadyrollRollbackHappened", "exp_alerts": []},
                    {"eval_time": "30m", "alertname": "ReadyrollMemoryRestarts",
                     "exp_alerts": fired("ReadyrollMemoryRestarts", web.clone(), &[])},
                    {"eval_time": "10m", "alertname": "ReadyrollNoLeader",
                     "exp_alerts": fired("ReadyrollNoLeader", BTreeMap::new(), &[])},
                    {"eval_time": "10m", "alertname": "ReadyrollOperatorDown", "exp_alerts": []},
                ],
            },
            {
                "interval": "1m",
                "input_series": [
                    {"series": "readyroll_app_condition{namespace=\"shop\",app=\"web\",condition=\"Reconciling\"}", "values": "1x40"},
                    {"series": leader, "values": "1x40"},
                ],
                "alert_rule_test": [
                    {"eval_time": "20m", "alertname": "ReadyrollRolloutStalled", "exp_alerts": []},
                    {"eval_time": "35m", "alertname": "ReadyrollRolloutStalled",
                     "exp_alerts": fired("ReadyrollRolloutStalled", web.clone(), &[("condition", "Reconciling")])},
                    {"eval_time": "35m", "alertname": "ReadyrollNoLeader", "exp_alerts": []},
                    {"eval_time": "35m", "alertname": "ReadyrollMemoryRestarts", "exp_alerts": []},
                ],
            },
            {
                "interval": "1m",
                "input_series": [
                    {"series": "readyroll_app_condition{namespace=\"shop\",app=\"web\",condition=\"Ready\"}", "values": "1x10"},
                ],
                "alert_rule_test": [
                    {"eval_time": "3m", "alertname": "ReadyrollOperatorDown", "exp_alerts": []},
                    {"eval_time": "6m", "alertname": "ReadyrollOperatorDown",
                     "exp_alerts": fired("ReadyrollOperatorDown", operator, &[])},
                ],
            },
        ],
    });
    std::fs::write(
        scratch.path().join("tests.yaml"),
        serde_yaml::to_string(&tests).must("tests as YAML"),
    )
    .must("write tests.yaml");
    let tested = run_promtool(&["test", "rules", "tests.yaml"], scratch.path());
    assert!(tested.contains("SUCCESS"), "{tested}");
}
