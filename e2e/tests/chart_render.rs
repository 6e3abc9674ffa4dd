//! The Helm chart as `helm lint` and `helm template` see it: what the values
//! switch on and off, least-privilege RBAC, the pod security settings, and
//! values that must be refused.

use std::collections::BTreeSet;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule, Role};
use readyroll_e2e::{Helm, HelmError, Must, Rendered};

const RELEASE: &str = "rr";
const NAMESPACE: &str = "readyroll-system";

fn render(helm: &Helm, args: &[&str]) -> Rendered {
    helm.template(RELEASE, NAMESPACE, args)
        .must("helm template")
}

fn operator(rendered: &Rendered) -> (Deployment, PodSpec, Container) {
    let deployment: Deployment = rendered.one("Deployment");
    let pod = deployment
        .spec
        .as_ref()
        .and_then(|spec| spec.template.spec.clone())
        .expect("the Deployment has a pod template");
    assert_eq!(pod.containers.len(), 1, "one operator container");
    let container = pod.containers[0].clone();
    (deployment, pod, container)
}

fn args(container: &Container) -> Vec<String> {
    container.args.clone().unwrap_or_default()
}

fn refused(helm: &Helm, args: &[&str]) -> String {
    match helm.template(RELEASE, NAMESPACE, args) {
        Err(HelmError::Failed { stderr, .. }) => stderr,
        Err(other) => panic!("helm could not run: {other}"),
        Ok(rendered) => panic!("{args:?} was accepted: {:?}", rendered.kinds_and_names()),
    }
}

#[test]
#[ignore = "needs helm: run by the chart tier"]
fn lint_passes_strict() {
    let helm = Helm::require();
    let chart = Helm::chart_dir();
    let chart = chart.to_str().expect("UTF-8 chart path");
    for extra in [
        &[][..],
        &[
            "--set",
            "replicas=3",
            "--set",
            "metrics.serviceMonitor.enabled=true",
        ][..],
        &[
            "--set",
            "rbac.create=false",
            "--set",
            "serviceAccount.create=false",
        ][..],
    ] {
        let mut args = vec!["lint", "--strict", chart];
        args.extend_from_slice(extra);
        let output = helm.run(&args).must("helm lint --strict");
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(text.contains("0 chart(s) failed"), "{extra:?}: {text}");
    }
}

#[test]
#[ignore = "needs helm: run by the chart tier"]
fn defaults_render_one_writer_without_leader_election() {
    let helm = Helm::require();
    let rendered = render(&helm, &[]);
    let kinds: BTreeSet<String> = rendered
        .kinds_and_names()
        .into_iter()
        .map(|(kind, _)| kind)
        .collect();
    let expected: BTreeSet<String> = [
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "Service",
        "Deployment",
        "Pod",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(kinds, expected);

    let (deployment, pod, container) = operator(&rendered);
    let spec = deployment.spec.as_ref().expect("spec");
    assert_eq!(spec.replicas, Some(1));
    let strategy = spec.strategy.as_ref().and_then(|s| s.type_.as_deref());
    assert_eq!(
        strategy,
        Some("Recreate"),
        "a lone writer must not overlap its successor"
    );
    let args = args(&container);
    assert_eq!(args.first().map(String::as_str), Some("run"));
    assert!(!args.iter().any(|a| a == "--leader-elect"), "{args:?}");
    assert!(
        !args.iter().any(|a| a.starts_with("--watch-namespace")),
        "every namespace by default: {args:?}"
    );
    assert_eq!(container.command, Some(vec!["/readyroll".to_owned()]));

    let image = container.image.clone().expect("image");
    assert_eq!(
        image, "readyroll.dev/readyroll:0.1.0",
        "tag defaults to appVersion"
    );
    assert!(
        args.contains(&format!("--shim-image={image}")),
        "shim image defaults to the operator image: {args:?}"
    );
    assert!(
        args.contains(&"--metrics-addr=0.0.0.0:8080".to_owned()),
        "{args:?}"
    );
    assert!(args.contains(&"--log-format=json".to_owned()), "{args:?}");
    assert!(args.contains(&"--log-level=info".to_owned()), "{args:?}");
    assert_eq!(pod.service_account_name.as_deref(), Some("rr-readyroll"));
    assert!(
        rendered.of_kind("PodDisruptionBudget").is_empty(),
        "no PDB for one replica"
    );
}

#[test]
#[ignore = "needs helm: run by the chart tier"]
fn two_replicas_elect_a_leader_and_keep_one_up() {
    let helm = Helm::require();
    let rendered = render(&helm, &["--set", "replicas=2"]);
    let (deployment, _pod, container) = operator(&rendered);
    let spec = deployment.spec.as_ref().expect("spec");
    assert_eq!(spec.replicas, Some(2));
    let args = args(&container);
    assert!(args.contains(&"--leader-elect".to_owned()), "{args:?}");
    assert!(
        args.contains(&"--lease-name=rr-readyroll-leader".to_owned()),
        "{args:?}"
    );
    assert!(
        args.contains(&"--lease-duration-seconds=15".to_owned()),
        "{args:?}"
    );
    let strategy = spec.strategy.as_ref().expect("strategy");
    assert_eq!(strategy.type_.as_deref(), Some("RollingUpdate"));

    let env: Vec<_> = container.env.clone().unwrap_or_default();
    let field = |name: &str| {
        env.iter()
            .find(|var| var.name == name)
            .and_then(|var| var.value_from.as_ref())
            .and_then(|from| from.field_ref.as_ref())
            .map(|field| field.field_path.clone())
    };
    assert_eq!(field("POD_NAME").as_deref(), Some("metadata.name"));
    assert_eq!(
        field("POD_NAMESPACE").as_deref(),
        Some("metadata.namespace")
    );

    let pdb: PodDisruptionBudget = rendered.one("PodDisruptionBudget");
    let pdb_spec = pdb.spec.expect("PDB spec");
    assert_eq!(
        pdb_spec.min_available,
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(1))
    );
    assert_eq!(
        pdb_spec.unhealthy_pod_eviction_policy.as_deref(),
        Some("AlwaysAllow")
    );
}

#[test]
#[ignore = "needs helm: run by the chart tier"]
fn leader_election_can_be_forced_for_one_replica() {
    let helm = Helm::require();
    let rendered = render(&helm, &["--set", "leaderElection.enabled=true"]);
    let (deployment, _pod, container) = operator(&rendered);
    assert!(args(&container).contains(&"--leader-elect".to_owned()));
    let strategy = deployment
        .spec
        .and_then(|s| s.strategy)
        .and_then(|s| s.type_);
    assert_eq!(strategy.as_deref(), Some("RollingUpdate"));
}

fn rules(rendered: &Rendered) -> (Vec<PolicyRule>, Vec<PolicyRule>) {
    let cluster: ClusterRole = rendered.one("ClusterRole");
    let role: Role = rendered.one("Role");
    (
        cluster.rules.unwrap_or_default(),
        role.rules.unwrap_or_default(),
    )
}

/// `group/resource: verbs` for every rule, sorted, for exact comparison.
fn grants(rules: &[PolicyRule]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for rule in rules {
        assert!(
            rule.non_resource_urls.is_none() && rule.resource_names.is_none(),
            "{rule:?}"
        );
        let mut verbs = rule.verbs.clone();
        verbs.sort();
        for group in rule.api_groups.clone().unwrap_or_default() {
            for resource in rule.resources.clone().unwrap_or_default() {
                out.insert(format!("{group}/{resource}: {}", verbs.join(",")));
            }
        }
    }
    out
}

#[test]
#[ignore = "needs helm: run by the chart tier"]
fn rbac_is_least_privilege() {
    let helm = Helm::require();
    let rendered = render(&helm, &[]);
    let (cluster_rules, role_rules) = rules(&rendered);

    for rule in cluster_rules.iter().chain(&role_rules) {
        let everything = rule
            .api_groups
            .iter()
            .flatten()
            .chain(rule.resources.iter().flatten())
            .chain(&rule.verbs);
        for word in everything {
            assert!(!word.contains('*'), "wildcard in {rule:?}");
            assert!(!word.contains("secret"), "secrets in {rule:?}");
        }
    }

    let write = "create,delete,get,list,patch,watch";
    let read = "get,list,watch";
    let expected: BTreeSet<String> = [
        "readyroll.dev/apps: get,list,watch".to_owned(),
        "readyroll.dev/apps/status: patch".to_owned(),
        "readyroll.dev/apps/finalizers: update".to_owned(),
        format!("apps/deployments: {write}"),
        format!("/services: {write}"),
        format!("policy/poddisruptionbudgets: {write}"),
        "events.k8s.io/events: create,patch".to_owned(),
        format!("/nodes: {read}"),
        format!("/pods: {read}"),
        format!("apps/replicasets: {read}"),
    ]
    .into_iter()
    .collect();
    assert_eq!(grants(&cluster_rules), expected);

    let leases: BTreeSet<String> =
        ["coordination.k8s.io/leases: create,get,patch,update".to_owned()].into();
    assert_eq!(grants(&role_rules), leases);
    let role: Role = rendered.one("Role");
    assert_eq!(
        role.metadata.namespace.as_deref(),
        Some(NAMESPACE),
        "Lease rights only in the release namespace"
    );
}

#[test]
#[ignore = "needs helm: run by the chart tier"]
fn rbac_and_service_account_can_be_left_to_the_user() {
    let helm = Helm::require();
    let rendered = render(
        &helm,
        &[
            "--set",
            "rbac.create=false",
            "--set",
            "serviceAccount.create=false",
            "--set",
            "serviceAccount.name=ops",
        ],
    );
    for kind in [
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "ServiceAccount",
    ] {
        assert!(rendered.of_kind(kind).is_empty(), "{kind} rendered");
    }
    let (_deployment, pod, _container) = operator(&rendered);
    assert_eq!(pod.service_account_name.as_deref(), Some("ops"));
}

#[test]
#[ignore = "needs helm: run by the chart tier"]
fn pods_run_locked_down() {
    let helm = Helm::require();
    let rendered = render(&helm, &[]);
    let (_deployment, pod, container) = operator(&rendered);
    let test_pod: Pod = rendered.one("Pod");
    let test_spec = test_pod.spec.expect("test pod spec");

    for (what, pod_spec, container) in [
        ("operator", &pod, &container),
        ("test", &test_spec, &test_spec.containers[0]),
    ] {
        let pod_security = pod_spec
            .security_context
            .as_ref()
            .expect("pod securityContext");
        assert_eq!(pod_security.run_as_non_root, Some(true), "{what}");
        let pod_seccomp = pod_security
            .seccomp_profile
            .as_ref()
            .map(|p| p.type_.as_str());
        assert_eq!(pod_seccomp, Some("RuntimeDefault"), "{what}");

        let security = container
            .security_context
            .as_ref()
            .expect("container securityContext");
        assert_eq!(security.run_as_non_root, Some(true), "{what}");
        assert_eq!(security.run_as_user, Some(65532), "{what}");
        assert_eq!(security.read_only_root_filesystem, Some(true), "{what}");
        assert_eq!(security.allow_privilege_escalation, Some(false), "{what}");
        let dropped = security.capabilities.as_ref().and_then(|c| c.drop.clone());
        assert_eq!(dropped, Some(vec!["ALL".to_owned()]), "{what}");
        assert!(
            security
                .capabilities
                .as_ref()
                .and_then(|c| c.add.as_ref())
                .is_none(),
            "{what}"
        );
        assert_eq!(security.privileged, None, "{what}");
        let seccomp = security.seccomp_profile.as_ref().map(|p| p.type_.as_str());
        assert_eq!(seccomp, Some("RuntimeDefault"), "{what}");
    }

    let probe_path = |probe: Option<&k8s_openapi::api::core::v1::Probe>| {
        probe
            .and_then(|p| p.http_get.as_ref())
            .map(|get| (get.path.clone(), get.port.clone()))
    };
    let metrics_port =
        k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String("metrics".to_owned());
    assert_eq!(
        probe_path(container.readiness_probe.as_ref()),
        Some((Some("/readyz".to_owned()), metrics_port.clone()))
    );
    assert_eq!(
        probe_path(container.liveness_probe.as_ref()),
        Some((Some("/healthz".to_owned()), metrics_port))
    );
    assert_eq!(pod.termination_grace_period_seconds, Some(30));
}

#[test]
#[ignore = "needs helm: run by the chart tier"]
fn scheduling_resources_and_extras_come_from_values() {
    let helm = Helm::require();
    let values = std::env::temp_dir().join(format!(
        "readyroll-chart-values-{}.yaml",
        std::process::id()
    ));
    std::fs::write(
        &values,
        r#"
image: {repository: registry.example.com/readyroll, tag: "1.2.3", pullPolicy: Always}
shimImage: registry.example.com/shim:9
imagePullSecrets: [{name: pull}]
resources: {requests: {cpu: 100m, memory: 80Mi}, limits: {memory: 300Mi}}
nodeSelector: {kubernetes.io/os: linux}
tolerations: [{key: dedicated, operator: Equal, value: ops, effect: NoSchedule}]
affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: tier, operator: In, values: [ops]}]}]}}}
priorityClassName: system-cluster-critical
terminationGracePeriodSeconds: 45
logLevel: "readyroll=debug,kube=info"
logFormat: text
metrics: {port: 9090}
extraArgs: ["--some-flag=1"]
extraEnv: [{name: EXTRA, value: "yes"}]
podLabels: {team: ops}
podAnnotations: {note: hello}
watchNamespace: shop
"#,
    )
    .must("write values file");
    let rendered = render(&helm, &["-f", values.to_str().expect("UTF-8 temp path")]);
    std::fs::remove_file(&values).must("remove values file");

    let (deployment, pod, container) = operator(&rendered);
    assert_eq!(
        container.image.as_deref(),
        Some("registry.example.com/readyroll:1.2.3")
    );
    assert_eq!(container.image_pull_policy.as_deref(), Some("Always"));
    let args = args(&container);
    for wanted in [
        "--shim-image=registry.example.com/shim:9",
        "--log-level=readyroll=debug,kube=info",
        "--log-format=text",
        "--metrics-addr=0.0.0.0:9090",
        "--some-flag=1",
        "--watch-namespace=shop",
    ] {
        assert!(args.contains(&wanted.to_owned()), "{wanted} in {args:?}");
    }
    assert!(container
        .env
        .iter()
        .flatten()
        .any(|var| var.name == "EXTRA" && var.value.as_deref() == Some("yes")));
    let ports: Vec<i32> = container
        .ports
        .iter()
        .flatten()
        .map(|p| p.container_port)
        .collect();
    assert_eq!(ports, vec![9090]);
    let resources = container.resources.expect("resources");
    let memory_limit = resources
        .limits
        .and_then(|l| l.get("memory").cloned())
        .map(|q| q.0);
    assert_eq!(memory_limit.as_deref(), Some("300Mi"));
    assert_eq!(
        pod.node_selector
            .and_then(|s| s.get("kubernetes.io/os").cloned())
            .as_deref(),
        Some("linux")
    );
    assert_eq!(pod.tolerations.map(|t| t.len()), Some(1));
    assert!(pod.affinity.and_then(|a| a.node_affinity).is_some());
    assert_eq!(
        pod.priority_class_name.as_deref(),
        Some("system-cluster-critical")
    );
    assert_eq!(pod.termination_grace_period_seconds, Some(45));
    assert_eq!(pod.image_pull_secrets.map(|s| s.len()), Some(1));
    let template = deployment
        .spec
        .expect("spec")
        .template
        .metadata
        .expect("template metadata");
    assert_eq!(
        template
            .labels
            .and_then(|l| l.get("team").cloned())
            .as_deref(),
        Some("ops")
    );
    assert_eq!(
        template
            .annotations
            .and_then(|a| a.get("note").cloned())
            .as_deref(),
        Some("hello")
    );

    let service: Service = rendered.one("Service");
    let port = service
        .spec
        .and_then(|s| s.ports)
        .and_then(|p| p.first().map(|p| p.port));
    assert_eq!(port, Some(9090));
}

#[test]
#[ignore = "needs helm: run by the chart tier"]
fn a_digest_pins_the_image_and_the_shim() {
    let helm = Helm::require();
    let digest = format!("sha256:{}", "ab".repeat(32));
    let rendered = render(&helm, &["--set", &format!("image.digest={digest}")]);
    let (_deployment, _pod, container) = operator(&rendered);
    let pinned = format!("readyroll.dev/readyroll@{digest}");
    assert_eq!(container.image.as_deref(), Some(pinned.as_str()));
    assert!(args(&container).contains(&format!("--shim-image={pinned}")));
    let stderr = refused(&helm, &["--set", "image.digest=latest"]);
    assert!(stderr.contains("digest"), "{stderr}");
}

#[test]
#[ignore = "needs helm: run by the chart tier"]
fn service_monitor_only_with_its_api() {
    let helm = Helm::require();
    let enabled = ["--set", "metrics.serviceMonitor.enabled=true"];
    let without_api = render(&helm, &enabled);
    assert!(
        without_api.of_kind("ServiceMonitor").is_empty(),
        "no ServiceMonitor without the CRD"
    );

    let api = ["--api-versions", "monitoring.coreos.com/v1"];
    let disabled = render(&helm, &api);
    assert!(
        disabled.of_kind("ServiceMonitor").is_empty(),
        "off by default"
    );

    let with_api = render(&helm, &[enabled[0], enabled[1], api[0], api[1]]);
    let monitors = with_api.of_kind("ServiceMonitor");
    assert_eq!(monitors.len(), 1);
    let endpoint = &monitors[0]["spec"]["endpoints"][0];
    assert_eq!(endpoint["port"].as_str(), Some("metrics"));
    assert_eq!(endpoint["path"].as_str(), Some("/metrics"));
    let selector = &monitors[0]["spec"]["selector"]["matchLabels"];
    assert_eq!(
        selector["app.kubernetes.io/instance"].as_str(),
        Some(RELEASE)
    );
}

#[test]
#[ignore = "needs helm: run by the chart tier"]
fn the_helm_test_pod_probes_readyz_through_the_metrics_service() {
    let helm = Helm::require();
    let rendered = render(&helm, &[]);
    let pod: Pod = rendered.one("Pod");
    let annotations = pod.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(
        annotations.get("helm.sh/hook").map(String::as_str),
        Some("test")
    );

    let service: Service = rendered.one("Service");
    let service_name = service.metadata.name.clone().expect("service name");
    let env_prefix = service_name.to_uppercase().replace('-', "_");
    let container = &pod.spec.as_ref().expect("spec").containers[0];
    assert_eq!(
        container.args.clone().unwrap_or_default(),
        vec![
            "probe".to_owned(),
            format!("http://$({env_prefix}_SERVICE_HOST):$({env_prefix}_SERVICE_PORT)/readyz"),
        ]
    );
    let (_deployment, _pod, operator_container) = operator(&rendered);
    assert_eq!(
        container.image, operator_container.image,
        "the operator image runs the probe"
    );

    // The Service selects operator pods only, never the test pod.
    let selector = service.spec.and_then(|s| s.selector).expect("selector");
    let labels = pod.metadata.labels.unwrap_or_default();
    assert!(
        selector
            .iter()
            .any(|(key, value)| labels.get(key) != Some(value)),
        "the Service would select the test pod: {selector:?} vs {labels:?}"
    );
}

#[test]
#[ignore = "needs helm: run by the chart tier"]
fn crds_ship_with_the_chart() {
    let helm = Helm::require();
    let rendered = render(&helm, &["--include-crds"]);
    let crds = rendered.of_kind("CustomResourceDefinition");
    assert_eq!(crds.len(), 1);
    assert_eq!(
        crds[0]["metadata"]["name"].as_str(),
        Some("apps.readyroll.dev")
    );
}

#[test]
#[ignore = "needs helm: run by the chart tier"]
fn kubernetes_older_than_1_30_is_refused() {
    let helm = Helm::require();
    let stderr = refused(&helm, &["--kube-version", "1.29.9"]);
    assert!(
        stderr.contains("kubeVersion") || stderr.contains(">=1.30"),
        "{stderr}"
    );
    render(&helm, &["--kube-version", "1.30.0"]);
}

#[test]
#[ignore = "needs helm: run by the chart tier"]
fn typos_and_wrong_types_in_values_are_refused() {
    let helm = Helm::require();
    let cases: [(&[&str], &str); 6] = [
        (&["--set", "replica=2"], "replica"),
        (&["--set", "image.pullpolicy=Never"], "pullpolicy"),
        (&["--set", "metrics.serviceMonitor.enable=true"], "enable"),
        (&["--set-string", "replicas=two"], "replicas"),
        (&["--set", "logFormat=yaml"], "logFormat"),
        (&["--set", "image.pullPolicy=Sometimes"], "pullPolicy"),
    ];
    for (args, named) in cases {
        let stderr = refused(&helm, args);
        assert!(stderr.contains("schema"), "{args:?}: {stderr}");
        assert!(
            stderr.contains(named),
            "{args:?} should name {named}: {stderr}"
        );
    }
}

#[test]
#[ignore = "needs helm: run by the chart tier"]
fn a_typo_in_a_values_file_is_refused() {
    let helm = Helm::require();
    let values =
        std::env::temp_dir().join(format!("readyroll-chart-typo-{}.yaml", std::process::id()));
    std::fs::write(
        &values,
        "replicas: 2\nleaderElection:\n  leaseDuration: 30\n",
    )
    .must("write values file");
    let stderr = refused(&helm, &["-f", values.to_str().expect("UTF-8 temp path")]);
    std::fs::remove_file(&values).must("remove values file");
    assert!(stderr.contains("leaseDuration"), "{stderr}");
}
