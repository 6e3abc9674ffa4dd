//! The Helm chart as `helm lint` and `helm template` see it: what the values
//! switch on and off, least-privilege RBAC, the pod security settings, the
//! CRD template, the chart as a subchart, its Artifact Hub metadata, and
//! values that must be refused.

mod chart_observability;
mod chart_support;

use std::collections::BTreeSet;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use readyroll_e2e::{Helm, HelmError, Must, Rendered};
use serde_yaml::Value;

use chart_support::{Scratch, CRD_FILE, UMBRELLA_CONFIGMAP};

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
        &[
            "--set",
            "watchNamespace=shop",
            "--set",
            "networkPolicy.enabled=true",
            "--set",
            "crds.install=false",
        ][..],
        &[
            "--set",
            "prometheusRule.enabled=true",
            "--set",
            "grafana.dashboards.enabled=true",
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
        "CustomResourceDefinition",
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
        "/pods: get,list,patch,watch".to_owned(),
        format!("apps/replicasets: {read}"),
        "apps/controllerrevisions: create,delete,get,list,patch,watch".to_owned(),
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

/// The CRD documents that `helm template` renders.
fn crds_of(rendered: &Rendered) -> Vec<CustomResourceDefinition> {
    rendered
        .of_kind("CustomResourceDefinition")
        .into_iter()
        .map(|doc| serde_yaml::from_value(doc.clone()).must("CRD parses"))
        .collect()
}

#[test]
#[ignore = "needs helm: run by the chart tier"]
fn the_crd_is_a_template_that_is_kept_on_uninstall() {
    let helm = Helm::require();
    // Helm installs crds/ once and never upgrades it: the CRD must not be there.
    assert!(
        !Helm::chart_dir().join("crds").exists(),
        "a crds/ directory would be installed by Helm beside the template"
    );
    let rendered = render(&helm, &[]);
    let crds = crds_of(&rendered);
    assert_eq!(crds.len(), 1, "installed by default");
    let crd = &crds[0];
    assert_eq!(crd.metadata.name.as_deref(), Some("apps.readyroll.dev"));
    let annotations = crd.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(
        annotations
            .get("helm.sh/resource-policy")
            .map(String::as_str),
        Some("keep"),
        "helm uninstall must not delete every App: {annotations:?}"
    );
    let labels = crd.metadata.labels.clone().unwrap_or_default();
    assert_eq!(
        labels
            .get("app.kubernetes.io/managed-by")
            .map(String::as_str),
        Some("Helm")
    );
    // Exactly the generated YAML, only metadata added.
    let generated = chart_support::generated_crd();
    let rendered_spec = serde_yaml::to_value(&crd.spec).must("CRD spec");
    let generated_spec: CustomResourceDefinition =
        serde_yaml::from_value(generated).must("generated CRD parses");
    assert_eq!(
        rendered_spec,
        serde_yaml::to_value(&generated_spec.spec).must("generated spec"),
        "the template changed the CRD's spec"
    );

    let unkept = render(&helm, &["--set", "crds.keep=false"]);
    let unkept = crds_of(&unkept);
    assert_eq!(unkept.len(), 1);
    assert!(
        unkept[0]
            .metadata
            .annotations
            .as_ref()
            .is_none_or(|a| !a.contains_key("helm.sh/resource-policy")),
        "{:?}",
        unkept[0].metadata.annotations
    );

    let managed_elsewhere = render(&helm, &["--set", "crds.install=false"]);
    assert!(crds_of(&managed_elsewhere).is_empty());
}

#[test]
#[ignore = "needs helm: run by the chart tier"]
fn a_changed_crd_file_is_what_helm_upgrade_applies() {
    let helm = Helm::require();
    let scratch = Scratch::new("chart-render-crd");
    let chart = chart_support::chart_with_changed_crd(&scratch);
    let output = helm
        .run([
            "template",
            RELEASE,
            chart.to_str().expect("UTF-8 scratch path"),
            "--namespace",
            NAMESPACE,
        ])
        .must("helm template of the changed chart");
    let text = String::from_utf8_lossy(&output.stdout);
    let crd = crd_of(&text);
    let properties = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        ["properties"];
    assert!(
        properties.get(chart_support::EXTRA_PROPERTY).is_some(),
        "the template did not render {CRD_FILE} as it is now"
    );
}

fn crd_of(manifests: &str) -> Value {
    serde_yaml::Deserializer::from_str(manifests)
        .map(|doc| serde::Deserialize::deserialize(doc).must("YAML document"))
        .find(|doc: &Value| doc["kind"].as_str() == Some("CustomResourceDefinition"))
        .expect("a CRD in the manifests")
}

#[test]
#[ignore = "needs helm: run by the chart tier"]
fn kubernetes_older_than_1_34_is_refused() {
    // The chart claims what the API tier runs on: the pin (1.34) and the newest release
    // (make test-versions).
    let helm = Helm::require();
    let stderr = refused(&helm, &["--kube-version", "1.33.9"]);
    assert!(
        stderr.contains("kubeVersion") || stderr.contains(">=1.34"),
        "{stderr}"
    );
    render(&helm, &["--kube-version", "1.34.0"]);
    render(&helm, &["--kube-version", "1.37.2"]);
}

#[test]
#[ignore = "needs helm: run by the chart tier"]
fn typos_and_wrong_types_in_values_are_refused() {
    let helm = Helm::require();
    let cases: [(&[&str], &str); 9] = [
        (&["--set", "replica=2"], "replica"),
        (&["--set", "crds.instal=false"], "instal"),
        (&["--set", "networkPolicy.enable=true"], "enable"),
        (&["--set", "enabled=yes"], "enabled"),
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

#[test]
#[ignore = "needs helm: run by the chart tier"]
fn a_parent_charts_global_and_enabled_values_are_accepted() {
    let helm = Helm::require();
    let rendered = render(
        &helm,
        &[
            "--set",
            "global.imageRegistry=registry.example.com",
            "--set",
            "global.labels.team=platform",
            "--set",
            "enabled=true",
        ],
    );
    let (_deployment, _pod, container) = operator(&rendered);
    assert_eq!(
        container.image.as_deref(),
        Some("readyroll.dev/readyroll:0.1.0"),
        "global values are accepted, not used"
    );
    // A typo of one of the chart's own keys is still refused.
    let stderr = refused(
        &helm,
        &["--set", "global.x=1", "--set", "watchNamspace=shop"],
    );
    assert!(stderr.contains("watchNamspace"), "{stderr}");
}

#[test]
#[ignore = "needs helm: run by the chart tier"]
fn an_umbrella_chart_renders_readyroll_as_a_dependency() {
    let helm = Helm::require();
    let scratch = Scratch::new("chart-render-umbrella");
    let chart = chart_support::umbrella_chart(&helm, &scratch, "watchNamespace: shop\n");
    let chart = chart.to_str().expect("UTF-8 scratch path");

    let output = helm
        .run(["lint", "--strict", chart])
        .must("helm lint of the umbrella chart");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("0 chart(s) failed"), "{text}");

    let template = |extra: &[&str]| {
        let mut args = vec!["template", "stack", chart, "--namespace", NAMESPACE];
        args.extend_from_slice(extra);
        let output = helm.run(&args).must("helm template of the umbrella chart");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let documents: Vec<Value> = serde_yaml::Deserializer::from_str(&text)
            .map(|doc| serde::Deserialize::deserialize(doc).must("YAML document"))
            .filter(|doc: &Value| !doc.is_null())
            .collect();
        documents
    };
    let named = |documents: &[Value], kind: &str| -> Vec<String> {
        documents
            .iter()
            .filter(|doc| doc["kind"].as_str() == Some(kind))
            .filter_map(|doc| doc["metadata"]["name"].as_str().map(str::to_owned))
            .collect()
    };

    let enabled = template(&[]);
    assert_eq!(
        named(&enabled, "ConfigMap"),
        vec![UMBRELLA_CONFIGMAP.to_owned()]
    );
    let settings = enabled
        .iter()
        .find(|doc| doc["kind"].as_str() == Some("ConfigMap"))
        .expect("the umbrella's ConfigMap");
    assert_eq!(settings["data"]["team"].as_str(), Some("platform"));
    assert_eq!(
        named(&enabled, "Deployment"),
        vec!["stack-readyroll".to_owned()]
    );
    assert_eq!(
        named(&enabled, "CustomResourceDefinition"),
        vec!["apps.readyroll.dev".to_owned()]
    );
    let deployment = enabled
        .iter()
        .find(|doc| doc["kind"].as_str() == Some("Deployment"))
        .expect("the operator Deployment");
    let args = &deployment["spec"]["template"]["spec"]["containers"][0]["args"];
    assert!(
        args.as_sequence().is_some_and(|a| a
            .iter()
            .any(|a| a.as_str() == Some("--watch-namespace=shop"))),
        "the parent's readyroll values reach the subchart: {args:?}"
    );

    let disabled = template(&["--set", "readyroll.enabled=false"]);
    assert_eq!(
        named(&disabled, "ConfigMap"),
        vec![UMBRELLA_CONFIGMAP.to_owned()]
    );
    assert!(
        named(&disabled, "Deployment").is_empty(),
        "readyroll.enabled=false must switch the dependency off"
    );
}

#[test]
#[ignore = "needs helm: run by the chart tier"]
fn cluster_role_names_include_the_release_namespace() {
    let helm = Helm::require();
    let mut names = BTreeSet::new();
    for namespace in ["team-a", "team-b"] {
        let rendered = helm.template(RELEASE, namespace, &[]).must("helm template");
        let role: ClusterRole = rendered.one("ClusterRole");
        let binding: ClusterRoleBinding = rendered.one("ClusterRoleBinding");
        let name = role.metadata.name.clone().expect("ClusterRole name");
        assert_eq!(name, format!("rr-readyroll-{namespace}"));
        assert_eq!(binding.metadata.name.as_deref(), Some(name.as_str()));
        assert_eq!(binding.role_ref.name, name);
        assert_eq!(binding.role_ref.kind, "ClusterRole");
        let subject = &binding.subjects.as_ref().expect("subjects")[0];
        assert_eq!(subject.namespace.as_deref(), Some(namespace));
        names.insert(name);
    }
    assert_eq!(names.len(), 2, "two namespaces, two ClusterRoles");
}

#[test]
#[ignore = "needs helm: run by the chart tier"]
fn watch_namespace_gets_a_role_there_and_only_node_reads_cluster_wide() {
    let helm = Helm::require();
    let rendered = render(&helm, &["--set", "watchNamespace=shop"]);
    let cluster: ClusterRole = rendered.one("ClusterRole");
    let read = "get,list,watch";
    assert_eq!(
        grants(&cluster.rules.unwrap_or_default()),
        BTreeSet::from([format!("/nodes: {read}")]),
        "cluster-wide: only the nodes behind `instances: max`"
    );

    let roles = rendered.of_kind("Role");
    assert_eq!(roles.len(), 2, "{:?}", rendered.kinds_and_names());
    let roles: Vec<Role> = roles
        .into_iter()
        .map(|doc| serde_yaml::from_value(doc.clone()).must("Role parses"))
        .collect();
    let in_namespace = |ns: &str| -> Vec<&Role> {
        roles
            .iter()
            .filter(|role| role.metadata.namespace.as_deref() == Some(ns))
            .collect()
    };
    let watched = in_namespace("shop");
    assert_eq!(watched.len(), 1);
    let write = "create,delete,get,list,patch,watch";
    let expected: BTreeSet<String> = [
        "readyroll.dev/apps: get,list,watch".to_owned(),
        "readyroll.dev/apps/status: patch".to_owned(),
        "readyroll.dev/apps/finalizers: update".to_owned(),
        format!("apps/deployments: {write}"),
        format!("/services: {write}"),
        format!("policy/poddisruptionbudgets: {write}"),
        "events.k8s.io/events: create,patch".to_owned(),
        "/pods: get,list,patch,watch".to_owned(),
        format!("apps/replicasets: {read}"),
        "apps/controllerrevisions: create,delete,get,list,patch,watch".to_owned(),
    ]
    .into_iter()
    .collect();
    assert_eq!(
        grants(watched[0].rules.as_deref().unwrap_or_default()),
        expected
    );
    let leader = in_namespace(NAMESPACE);
    assert_eq!(
        leader.len(),
        1,
        "the Lease Role stays in the release namespace"
    );
    assert_eq!(
        grants(leader[0].rules.as_deref().unwrap_or_default()),
        BTreeSet::from(["coordination.k8s.io/leases: create,get,patch,update".to_owned()])
    );

    let bindings: Vec<RoleBinding> = rendered
        .of_kind("RoleBinding")
        .into_iter()
        .map(|doc| serde_yaml::from_value(doc.clone()).must("RoleBinding parses"))
        .collect();
    let watched_binding = bindings
        .iter()
        .find(|b| b.metadata.namespace.as_deref() == Some("shop"))
        .expect("a RoleBinding in the watched namespace");
    assert_eq!(watched_binding.role_ref.kind, "Role");
    assert_eq!(
        Some(watched_binding.role_ref.name.as_str()),
        watched[0].metadata.name.as_deref()
    );
    let subject = &watched_binding.subjects.as_ref().expect("subjects")[0];
    assert_eq!(
        (subject.name.as_str(), subject.namespace.as_deref()),
        ("rr-readyroll", Some(NAMESPACE)),
        "the operator's ServiceAccount, in the release namespace"
    );
}

#[test]
#[ignore = "needs helm: run by the chart tier"]
fn network_policy_is_off_by_default_and_narrow_when_on() {
    let helm = Helm::require();
    assert!(render(&helm, &[]).of_kind("NetworkPolicy").is_empty());

    let open = render(&helm, &["--set", "networkPolicy.enabled=true"]);
    let policy: NetworkPolicy = open.one("NetworkPolicy");
    let spec = policy.spec.expect("spec");
    assert_eq!(
        spec.policy_types,
        Some(vec!["Ingress".to_owned(), "Egress".to_owned()])
    );
    let selector = spec
        .pod_selector
        .clone()
        .and_then(|s| s.match_labels)
        .unwrap_or_default();
    assert_eq!(
        selector
            .get("app.kubernetes.io/instance")
            .map(String::as_str),
        Some(RELEASE)
    );
    let ingress = spec.ingress.expect("ingress");
    assert_eq!(ingress.len(), 1);
    let port = |p: &k8s_openapi::api::networking::v1::NetworkPolicyPort| match &p.port {
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(n)) => *n,
        other => panic!("port {other:?}"),
    };
    let ingress_ports: Vec<i32> = ingress[0].ports.iter().flatten().map(port).collect();
    assert_eq!(ingress_ports, vec![8080], "only the metrics port");
    assert!(ingress[0].from.is_none(), "any source by default");
    let egress = spec.egress.expect("egress");
    assert_eq!(egress.len(), 1);
    let egress_ports: Vec<i32> = egress[0].ports.iter().flatten().map(port).collect();
    assert_eq!(egress_ports, vec![443, 6443], "only the API server");
    assert!(egress[0].to.is_none());

    let values = r#"
metrics: {port: 9090}
networkPolicy:
  enabled: true
  metricsFrom: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}}]
  apiServer: {to: [{ipBlock: {cidr: 10.0.0.1/32}}], ports: [6443]}
  extraEgress: [{to: [{ipBlock: {cidr: 10.1.0.0/16}}], ports: [{port: 3128}]}]
"#;
    let scratch = Scratch::new("chart-render-netpol");
    let file = scratch.path().join("values.yaml");
    std::fs::write(&file, values).must("write values file");
    let narrow = render(&helm, &["-f", file.to_str().expect("UTF-8 path")]);
    let spec = narrow
        .one::<NetworkPolicy>("NetworkPolicy")
        .spec
        .expect("spec");
    let ingress = &spec.ingress.expect("ingress")[0];
    assert_eq!(
        ingress.ports.iter().flatten().map(port).collect::<Vec<_>>(),
        vec![9090]
    );
    let from = ingress.from.clone().expect("peers");
    assert_eq!(from.len(), 2, "{from:?}");
    assert!(from[0].namespace_selector.is_some());
    // The helm test pod still reaches /readyz.
    let test_pod: Pod = narrow.one("Pod");
    let test_labels = test_pod.metadata.labels.unwrap_or_default();
    let test_peer = from[1]
        .pod_selector
        .as_ref()
        .and_then(|s| s.match_labels.clone())
        .expect("the test pod's peer");
    assert!(
        test_peer
            .iter()
            .all(|(key, value)| test_labels.get(key) == Some(value)),
        "{test_peer:?} does not select the test pod {test_labels:?}"
    );
    let egress = spec.egress.expect("egress");
    assert_eq!(egress.len(), 2);
    assert_eq!(
        egress[0]
            .ports
            .iter()
            .flatten()
            .map(port)
            .collect::<Vec<_>>(),
        vec![6443]
    );
    let to = egress[0].to.clone().expect("API server peers");
    assert_eq!(
        to[0].ip_block.as_ref().map(|b| b.cidr.as_str()),
        Some("10.0.0.1/32")
    );

    let stderr = refused(
        &helm,
        &["--set", "networkPolicy.metricsFrom[0].podSelectr.x=y"],
    );
    assert!(stderr.contains("podSelectr"), "{stderr}");
}

#[test]
#[ignore = "needs helm: run by the chart tier"]
fn security_contexts_are_overridable() {
    let helm = Helm::require();
    let rendered = render(
        &helm,
        &[
            "--set",
            "securityContext.runAsUser=1000",
            "--set",
            "securityContext.runAsGroup=1000",
            "--set",
            "podSecurityContext.runAsUser=1000",
            "--set",
            "podSecurityContext.fsGroup=2000",
        ],
    );
    let (_deployment, pod, container) = operator(&rendered);
    let test_pod: Pod = rendered.one("Pod");
    let test_spec = test_pod.spec.expect("test pod spec");
    for (what, pod_spec, container) in [
        ("operator", &pod, &container),
        ("test", &test_spec, &test_spec.containers[0]),
    ] {
        let security = container.security_context.clone().expect("securityContext");
        assert_eq!(security.run_as_user, Some(1000), "{what}");
        assert_eq!(security.run_as_group, Some(1000), "{what}");
        // What was not overridden keeps the hardened default.
        assert_eq!(security.read_only_root_filesystem, Some(true), "{what}");
        assert_eq!(security.allow_privilege_escalation, Some(false), "{what}");
        let pod_security = pod_spec
            .security_context
            .clone()
            .expect("pod securityContext");
        assert_eq!(pod_security.run_as_user, Some(1000), "{what}");
        assert_eq!(pod_security.fs_group, Some(2000), "{what}");
        assert_eq!(pod_security.run_as_non_root, Some(true), "{what}");
    }
}

/// A YAML list kept as a string in a Chart.yaml annotation (Artifact Hub's format).
fn annotation_list(annotations: &Value, key: &str) -> Vec<Value> {
    let text = annotations[key]
        .as_str()
        .unwrap_or_else(|| panic!("Chart.yaml has no annotation {key}"));
    serde_yaml::from_str(text).unwrap_or_else(|err| panic!("{key} is not a YAML list: {err}"))
}

#[test]
fn chart_metadata_is_ready_for_artifact_hub() {
    let text =
        std::fs::read_to_string(Helm::chart_dir().join("Chart.yaml")).must("read Chart.yaml");
    let chart: Value = serde_yaml::from_str(&text).must("parse Chart.yaml");
    let url = |value: &Value, what: &str| {
        let url = value
            .as_str()
            .unwrap_or_else(|| panic!("{what} missing"))
            .to_owned();
        assert!(url.starts_with("https://"), "{what}: {url}");
        url
    };
    url(&chart["home"], "home");
    let sources = chart["sources"].as_sequence().expect("sources");
    assert!(!sources.is_empty());
    for source in sources {
        url(source, "sources");
    }
    // The icon is served from the repository: the file must exist.
    let icon = url(&chart["icon"], "icon");
    let in_repo = icon
        .split_once("/main/")
        .map(|(_, path)| path)
        .expect("icon on main");
    let repo = Helm::chart_dir().join("..").join("..");
    assert!(
        repo.join(in_repo).is_file(),
        "icon {in_repo} is not in the repository"
    );
    assert!(
        chart["keywords"]
            .as_sequence()
            .is_some_and(|k| k.len() >= 3),
        "keywords"
    );
    let maintainers = chart["maintainers"].as_sequence().expect("maintainers");
    assert!(maintainers.iter().all(|m| m["name"].as_str().is_some()));

    let annotations = &chart["annotations"];
    let cargo = std::fs::read_to_string(repo.join("Cargo.toml")).must("read Cargo.toml");
    let license = cargo
        .lines()
        .find_map(|line| line.strip_prefix("license = "))
        .map(|value| value.trim_matches('"'))
        .expect("the workspace license");
    assert_eq!(
        annotations["artifacthub.io/license"].as_str(),
        Some(license)
    );
    for link in annotation_list(annotations, "artifacthub.io/links") {
        assert!(link["name"].as_str().is_some(), "{link:?}");
        url(&link["url"], "artifacthub.io/links");
    }
    let crds = annotation_list(annotations, "artifacthub.io/crds");
    let generated = chart_support::generated_crd();
    assert_eq!(crds.len(), 1);
    assert_eq!(crds[0]["name"], generated["metadata"]["name"]);
    assert_eq!(crds[0]["kind"], generated["spec"]["names"]["kind"]);
    assert_eq!(crds[0]["version"], generated["spec"]["versions"][0]["name"]);
    assert!(crds[0]["description"]
        .as_str()
        .is_some_and(|d| !d.is_empty()));
    // Every example is an App readyroll reads.
    let examples = annotation_list(annotations, "artifacthub.io/crdsExamples");
    assert!(!examples.is_empty());
    for example in examples {
        let app: readyroll::crd::App =
            serde_yaml::from_value(example.clone()).must("a crdsExamples entry is an App");
        assert_eq!(
            example["apiVersion"].as_str(),
            Some("readyroll.dev/v1alpha1"),
            "{app:?}"
        );
    }
    let changes = annotation_list(annotations, "artifacthub.io/changes");
    assert!(!changes.is_empty());
    for change in changes {
        let kind = change["kind"].as_str().unwrap_or_default();
        assert!(
            [
                "added",
                "changed",
                "deprecated",
                "removed",
                "fixed",
                "security"
            ]
            .contains(&kind),
            "{change:?}"
        );
        assert!(change["description"].as_str().is_some(), "{change:?}");
    }
    let images = annotation_list(annotations, "artifacthub.io/images");
    let app_version = chart["appVersion"].as_str().expect("appVersion");
    assert_eq!(
        images[0]["image"].as_str(),
        Some(format!("readyroll.dev/readyroll:{app_version}").as_str()),
        "the image Artifact Hub scans is the one the chart runs by default"
    );
}
