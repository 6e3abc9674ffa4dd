//! The chart's PrometheusRule and Grafana dashboard: off by default, and
//! when on, every PromQL expression parses and names only series the
//! operator's registry exports.

use std::collections::BTreeSet;

use promql_parser::parser::{self, Expr};
use promql_parser::util::{walk_expr, ExprVisitor};
use readyroll::crd::AppStatus;
use readyroll::telemetry::Metrics;
use readyroll_e2e::{Helm, Must, Rendered};
use serde_json::Value as Json;
use serde_yaml::Value;

use super::{refused, render, NAMESPACE};

mod promtool;

const MONITORING_API: [&str; 2] = ["--api-versions", "monitoring.coreos.com/v1"];

/// The series names the operator exports, from its own registry with every
/// family holding a series: an App seen rolling out and complete, a failed
/// reconcile.
fn exported_series() -> BTreeSet<String> {
    let metrics = Metrics::new();
    metrics.record_error(std::time::Duration::ZERO, "KubeError");
    let status = |ready: bool| -> AppStatus {
        serde_json::from_value(serde_json::json!({
            "currentRevision": "5d8f",
            "memoryRestarts": 1,
            "conditions": [{
                "type": "Ready", "status": if ready { "True" } else { "False" },
                "reason": "RolloutComplete", "message": "",
                "lastTransitionTime": "2026-01-01T00:00:00Z",
            }],
        }))
        .must("a status")
    };
    metrics.observe_app_status("shop", "web", None, &status(false));
    metrics.observe_app_status("shop", "web", None, &status(true));
    let body = metrics.encode().must("encode the registry");
    let names: BTreeSet<String> = body
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .filter_map(|line| line.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect();
    for family in [
        "readyroll_app_info",
        "readyroll_app_rollout_duration_seconds_bucket",
        "readyroll_reconcile_errors_total",
    ] {
        assert!(names.contains(family), "{family} in {names:?}");
    }
    names
}

/// The metric names an expression selects.
fn selected_metrics(expr: &str) -> BTreeSet<String> {
    struct Names(BTreeSet<String>);
    impl ExprVisitor for Names {
        type Error = String;
        fn pre_visit(&mut self, expr: &Expr) -> Result<bool, String> {
            let selector = match expr {
                Expr::VectorSelector(vs) => Some(vs),
                Expr::MatrixSelector(ms) => Some(&ms.vs),
                _ => None,
            };
            if let Some(selector) = selector {
                let name = selector
                    .name
                    .clone()
                    .ok_or_else(|| format!("a selector without a metric name: {expr}"))?;
                self.0.insert(name);
            }
            Ok(true)
        }
    }
    let parsed = parser::parse(expr).unwrap_or_else(|e| panic!("PromQL {expr:?}: {e}"));
    let mut names = Names(BTreeSet::new());
    walk_expr(&mut names, &parsed).unwrap_or_else(|e| panic!("{expr:?}: {e}"));
    names.0
}

fn assert_only_exported(what: &str, expr: &str, exported: &BTreeSet<String>) -> BTreeSet<String> {
    let used = selected_metrics(expr);
    assert!(!used.is_empty(), "{what}: {expr:?} selects no metric");
    let unknown: Vec<_> = used.difference(exported).collect();
    assert!(
        unknown.is_empty(),
        "{what}: {expr:?} names {unknown:?}, which the operator does not export ({exported:?})"
    );
    used
}

fn rules(rendered: &Rendered) -> Vec<Value> {
    let found = rendered.of_kind("PrometheusRule");
    assert_eq!(found.len(), 1, "one PrometheusRule");
    found[0]["spec"]["groups"]
        .as_sequence()
        .must_some("rule groups")
        .iter()
        .flat_map(|group| group["rules"].as_sequence().cloned().unwrap_or_default())
        .collect()
}

trait MustSome<T> {
    fn must_some(self, what: &str) -> T;
}

impl<T> MustSome<T> for Option<T> {
    #[track_caller]
    fn must_some(self, what: &str) -> T {
        self.unwrap_or_else(|| panic!("{what}: missing"))
    }
}

fn dashboard_configmaps(rendered: &Rendered) -> Vec<&Value> {
    rendered
        .of_kind("ConfigMap")
        .into_iter()
        .filter(|cm| cm["data"].get("readyroll.json").is_some())
        .collect()
}

#[test]
#[ignore = "needs helm: run by the chart tier"]
fn alerts_and_dashboard_are_off_by_default() {
    let helm = Helm::require();
    let defaults = render(&helm, &MONITORING_API);
    assert!(defaults.of_kind("PrometheusRule").is_empty());
    assert!(dashboard_configmaps(&defaults).is_empty());
    // The PrometheusRule needs its CRD, like the ServiceMonitor.
    let without_api = render(&helm, &["--set", "prometheusRule.enabled=true"]);
    assert!(without_api.of_kind("PrometheusRule").is_empty());
}

#[test]
#[ignore = "needs helm: run by the chart tier"]
fn every_alert_parses_and_names_only_exported_metrics() {
    let helm = Helm::require();
    let exported = exported_series();
    let rendered = render(
        &helm,
        &[
            MONITORING_API[0],
            MONITORING_API[1],
            "--set",
            "prometheusRule.enabled=true",
            "--set",
            "prometheusRule.labels.release=kube-prometheus-stack",
            "--set",
            "prometheusRule.additionalAlertLabels.team=platform",
            "--set",
            "prometheusRule.degradedFor=7m",
        ],
    );
    let rule = rendered.of_kind("PrometheusRule")[0];
    assert_eq!(
        rule["metadata"]["labels"]["release"].as_str(),
        Some("kube-prometheus-stack")
    );
    let rules = rules(&rendered);
    let mut alerts = BTreeSet::new();
    let mut used = BTreeSet::new();
    for rule in &rules {
        let alert = rule["alert"].as_str().must_some("alert name").to_owned();
        let expr = rule["expr"].as_str().must_some("alert expr");
        used.extend(assert_only_exported(&alert, expr, &exported));
        assert_eq!(rule["labels"]["team"].as_str(), Some("platform"), "{alert}");
        assert!(rule["labels"]["severity"].as_str().is_some(), "{alert}");
        for annotation in ["summary", "description"] {
            assert!(
                rule["annotations"][annotation]
                    .as_str()
                    .is_some_and(|s| !s.is_empty()),
                "{alert}: {annotation}"
            );
        }
        alerts.insert(alert);
    }
    assert_eq!(
        alerts,
        BTreeSet::from(
            [
                "ReadyrollAppDegraded",
                "ReadyrollRolloutStalled",
                "ReadyrollRollbackHappened",
                "ReadyrollMemoryRestarts",
                "ReadyrollOperatorDown",
                "ReadyrollNoLeader",
                "ReadyrollReconcileErrors",
            ]
            .map(String::from)
        )
    );
    let degraded = rules
        .iter()
        .find(|r| r["alert"].as_str() == Some("ReadyrollAppDegraded"))
        .must_some("ReadyrollAppDegraded");
    assert_eq!(degraded["for"].as_str(), Some("7m"));
    // The operator's own alerts look at this release's operator only.
    for alert in [
        "ReadyrollOperatorDown",
        "ReadyrollNoLeader",
        "ReadyrollReconcileErrors",
    ] {
        let rule = rules
            .iter()
            .find(|r| r["alert"].as_str() == Some(alert))
            .must_some(alert);
        let expr = rule["expr"].as_str().must_some("expr");
        assert!(
            expr.contains(&format!("namespace=\"{NAMESPACE}\"")),
            "{alert}: {expr}"
        );
    }
    for metric in [
        "readyroll_app_condition",
        "readyroll_app_rollbacks_total",
        "readyroll_app_memory_restarts_total",
        "readyroll_leader",
        "readyroll_reconcile_errors_total",
    ] {
        assert!(used.contains(metric), "an alert on {metric}: {used:?}");
    }
}

#[test]
#[ignore = "needs helm: run by the chart tier"]
fn alert_thresholds_are_checked_by_the_schema() {
    let helm = Helm::require();
    for (args, field) in [
        (
            ["--set", "prometheusRule.degradedFor=ten minutes"],
            "degradedFor",
        ),
        (
            ["--set", "prometheusRule.memoryRestartsPerHour=-1"],
            "memoryRestartsPerHour",
        ),
        (["--set", "prometheusRule.enable=true"], "enable"),
        (["--set", "grafana.dashboards.enabld=true"], "enabld"),
    ] {
        let stderr = refused(&helm, &args);
        assert!(stderr.contains(field), "{args:?}: {stderr}");
    }
}

/// Grafana's variables replaced by values Prometheus accepts, so the
/// expression can be parsed as Prometheus will receive it.
fn as_prometheus_gets_it(expr: &str) -> String {
    expr.replace("$__rate_interval", "1m")
        .replace("$namespace", ".*")
        .replace("$app", ".*")
}

#[test]
#[ignore = "needs helm: run by the chart tier"]
fn the_dashboard_is_a_configmap_for_the_grafana_sidecar_on_exported_metrics() {
    let helm = Helm::require();
    let exported = exported_series();
    let rendered = render(
        &helm,
        &[
            "--set",
            "grafana.dashboards.enabled=true",
            "--set",
            "grafana.dashboards.namespace=monitoring",
            "--set",
            "grafana.dashboards.annotations.grafana_folder=readyroll",
        ],
    );
    let configmaps = dashboard_configmaps(&rendered);
    assert_eq!(configmaps.len(), 1);
    let configmap = configmaps[0];
    assert_eq!(
        configmap["metadata"]["namespace"].as_str(),
        Some("monitoring")
    );
    assert_eq!(
        configmap["metadata"]["labels"]["grafana_dashboard"].as_str(),
        Some("1"),
        "the sidecar's default label"
    );
    assert_eq!(
        configmap["metadata"]["annotations"]["grafana_folder"].as_str(),
        Some("readyroll")
    );
    let text = configmap["data"]["readyroll.json"]
        .as_str()
        .must_some("dashboard JSON");
    let dashboard: Json = serde_json::from_str(text).must("the dashboard is JSON");
    let shipped: Json = serde_json::from_str(
        &std::fs::read_to_string(Helm::chart_dir().join("files/dashboards/readyroll.json"))
            .must("read the dashboard file"),
    )
    .must("the file is JSON");
    assert_eq!(
        dashboard, shipped,
        "the ConfigMap carries the file unchanged"
    );

    // What Grafana needs to import it.
    assert_eq!(dashboard["uid"].as_str(), Some("readyroll-apps"));
    assert!(dashboard["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(dashboard["schemaVersion"].as_u64().is_some_and(|v| v >= 36));
    let variables: Vec<&str> = dashboard["templating"]["list"]
        .as_array()
        .must_some("template variables")
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert_eq!(variables, ["datasource", "namespace", "app"]);

    let panels = dashboard["panels"].as_array().must_some("panels");
    let mut ids = BTreeSet::new();
    let mut used = BTreeSet::new();
    for panel in panels {
        let title = panel["title"].as_str().must_some("panel title");
        assert!(
            ids.insert(panel["id"].as_u64().must_some("panel id")),
            "{title}: duplicate id"
        );
        let grid = &panel["gridPos"];
        let (x, w) = (
            grid["x"].as_u64().must_some("x"),
            grid["w"].as_u64().must_some("w"),
        );
        assert!(
            x + w <= 24 && grid["h"].as_u64().is_some_and(|h| h > 0),
            "{title}: {grid}"
        );
        if panel["type"] == "row" {
            continue;
        }
        assert_eq!(
            panel["datasource"]["uid"].as_str(),
            Some("${datasource}"),
            "{title}"
        );
        let targets = panel["targets"].as_array().must_some("targets");
        assert!(!targets.is_empty(), "{title}: no query");
        for target in targets {
            assert!(target["refId"].as_str().is_some(), "{title}: refId");
            let expr = as_prometheus_gets_it(target["expr"].as_str().must_some("expr"));
            used.extend(assert_only_exported(title, &expr, &exported));
        }
    }
    // Every metric the operator exports is on the dashboard.
    let families: BTreeSet<String> = exported
        .iter()
        .map(|name| {
            ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .unwrap_or(name)
                .to_owned()
        })
        .collect();
    let shown: BTreeSet<String> = used
        .iter()
        .map(|name| {
            name.strip_suffix("_bucket")
                .or(name.strip_suffix("_count"))
                .unwrap_or(name)
                .to_owned()
        })
        .collect();
    let missing: Vec<_> = families.difference(&shown).collect();
    assert!(missing.is_empty(), "not on the dashboard: {missing:?}");
}
