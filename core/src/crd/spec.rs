//! The `App` custom resource: a PM2 ecosystem entry plus what Kubernetes needs.
//!
//! Field names are the camelCase of PM2's options and keep PM2's units
//! (milliseconds, `"300M"` memory strings), so an ecosystem file converts
//! one-to-one. Every doc comment here becomes `kubectl explain` text.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, EnvFromSource, EnvVar, LocalObjectReference, PodSecurityContext,
    ResourceRequirements, SecurityContext, Toleration, TopologySpreadConstraint, Volume,
    VolumeMount,
};
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::checks::Check;
use super::instances::Instances;
use super::memory::MemorySize;
use super::rollout::RolloutSpec;
use super::rules;
use super::service::ServiceSpec;
use super::shim::RuntimeShimSpec;
use super::status::AppStatus;

/// Longest time, in milliseconds, any timeout field accepts (one day). It keeps
/// every derived number (grace periods, deadlines) far from integer overflow.
pub const MAX_DURATION_MS: i64 = 86_400_000;

/// Most variables `env` and each profile may hold: bounds the cost of the
/// name rule the API server evaluates.
pub const MAX_ENV_VARS: u32 = 4096;
/// Most `envProfiles`.
pub const MAX_ENV_PROFILES: u32 = 64;

fn env_profiles_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "maxProperties": MAX_ENV_PROFILES,
        "additionalProperties": {
            "type": "object",
            "maxProperties": MAX_ENV_VARS,
            "additionalProperties": { "type": "string" }
        }
    })
}

/// An application run the way PM2 runs it: replaced only after the new
/// version is ready, stopped gracefully.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "readyroll.dev",
    version = "v1alpha1",
    kind = "App",
    plural = "apps",
    singular = "app",
    shortname = "rrapp",
    category = "readyroll",
    category = "all",
    namespaced,
    // `kubectl explain app` shows this: without it kube-derive writes a placeholder.
    doc = "An application described as in PM2's ecosystem.json, run as a Deployment whose rollouts are readiness-gated (a new pod replaces an old one only after it is ready) and whose pods stop gracefully (PM2's stop signal, drain and kill timeout).",
    status = "AppStatus",
    scale(
        spec_replicas_path = ".spec.replicas",
        status_replicas_path = ".status.replicas",
        label_selector_path = ".status.selector"
    ),
    printcolumn = r#"{"name":"Desired","type":"integer","jsonPath":".status.instances","description":"Resolved instance count"}"#,
    printcolumn = r#"{"name":"Ready","type":"integer","jsonPath":".status.readyReplicas"}"#,
    printcolumn = r#"{"name":"Up-To-Date","type":"integer","jsonPath":".status.updatedReplicas"}"#,
    printcolumn = r#"{"name":"Available","type":"string","jsonPath":".status.conditions[?(@.type==\"Available\")].status"}"#,
    printcolumn = r#"{"name":"Progressing","type":"string","jsonPath":".status.conditions[?(@.type==\"Progressing\")].status","priority":1}"#,
    printcolumn = r#"{"name":"Degraded","type":"string","jsonPath":".status.conditions[?(@.type==\"Degraded\")].status"}"#,
    printcolumn = r#"{"name":"Revision","type":"string","jsonPath":".status.currentRevision","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    validation = Rule::new("self.metadata.name.size() <= 63 && self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')").message("metadata.name must be a DNS-1035 label (lowercase letters, digits and '-', starting with a letter, at most 63 characters): it names the Deployment, Service and PodDisruptionBudget"),
)]
#[serde(rename_all = "camelCase")]
// Every string of the spec flows into an object the operator applies.
#[schemars(transform = super::text::refuse_in_strings)]
#[x_kube(validation = Rule::new("!has(self.service) || has(self.port)").message("spec.service needs spec.port: the Service forwards to the app's port").reason(kube::core::Reason::FieldValueRequired).field_path(".service"))]
#[x_kube(validation = Rule::new("!has(self.profile) || (has(self.envProfiles) && self.profile in self.envProfiles)").message("spec.profile must name an entry of spec.envProfiles").reason(kube::core::Reason::FieldValueInvalid).field_path(".profile"))]
#[x_kube(validation = Rule::new("!(has(self.waitReady) && self.waitReady) || has(self.readiness) || !has(self.runtimeShim) || !has(self.runtimeShim.enabled) || self.runtimeShim.enabled").message("spec.waitReady needs either the runtime shim (spec.runtimeShim.enabled) or an explicit spec.readiness check to learn when the app is ready").reason(kube::core::Reason::FieldValueInvalid).field_path(".waitReady"))]
#[x_kube(validation = Rule::new("!(has(self.shutdownWithMessage) && self.shutdownWithMessage) || (has(self.script) && !(has(self.runtimeShim) && has(self.runtimeShim.enabled) && !self.runtimeShim.enabled))").message("spec.shutdownWithMessage needs the runtime shim, which needs spec.script (and spec.runtimeShim.enabled not false)").reason(kube::core::Reason::FieldValueInvalid).field_path(".shutdownWithMessage"))]
#[x_kube(validation = Rule::new("!(has(self.readyOnListenTimeout) && self.readyOnListenTimeout) || (has(self.script) && !has(self.readiness) && !(has(self.runtimeShim) && has(self.runtimeShim.enabled) && !self.runtimeShim.enabled))").message("spec.readyOnListenTimeout needs the runtime shim's readiness: spec.script, no spec.readiness check, and spec.runtimeShim.enabled not false").reason(kube::core::Reason::FieldValueInvalid).field_path(".readyOnListenTimeout"))]
#[x_kube(validation = Rule::new("!has(self.readiness) || has(self.port) || has(self.readiness.exec) || (has(self.readiness.httpGet) && has(self.readiness.httpGet.port)) || (has(self.readiness.tcpSocket) && has(self.readiness.tcpSocket.port))").message("spec.readiness needs a port: set spec.port or the check's own port").reason(kube::core::Reason::FieldValueRequired).field_path(".readiness"))]
#[x_kube(validation = Rule::new("!has(self.liveness) || has(self.port) || has(self.liveness.exec) || (has(self.liveness.httpGet) && has(self.liveness.httpGet.port)) || (has(self.liveness.tcpSocket) && has(self.liveness.tcpSocket.port))").message("spec.liveness needs a port: set spec.port or the check's own port").reason(kube::core::Reason::FieldValueRequired).field_path(".liveness"))]
#[x_kube(validation = rules::interpreter_needs_script())]
#[x_kube(validation = rules::interpreter_args_need_script())]
#[x_kube(validation = rules::interpreter_args_need_an_interpreter())]
#[x_kube(validation = rules::shim_needs_script())]
#[x_kube(validation = rules::implied_shim_needs_script())]
#[x_kube(validation = rules::probe_port_is_not_the_port())]
#[x_kube(validation = rules::port_is_not_the_default_probe_port())]
#[x_kube(validation = rules::deadline_exceeds_min_ready())]
#[x_kube(validation = rules::memory_limit_at_least_threshold())]
#[x_kube(validation = rules::memory_request_within_limit())]
pub struct AppSpec {
    // ---- What to run (PM2: script, args, interpreter, interpreter_args, cwd) ----
    /// Container image that holds the application. Required.
    #[x_kube(validation = Rule::new("self.trim().size() > 0").message("spec.image must not be empty"))]
    pub image: String,

    /// When the kubelet pulls the image: Always, IfNotPresent or Never.
    /// Defaults to Kubernetes' rule (Always for `:latest`, else IfNotPresent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self in ['Always', 'IfNotPresent', 'Never']").message("spec.imagePullPolicy must be Always, IfNotPresent or Never"))]
    pub image_pull_policy: Option<String>,

    /// PM2 `script`: the program to start, relative to `cwd` or absolute. When
    /// omitted the image's own entry point runs (with `args` as its arguments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.size() > 0").message("spec.script must not be empty; omit it to run the image's entry point"))]
    pub script: Option<String>,

    /// PM2 `args`: arguments passed to the script.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,

    /// PM2 `interpreter` (alias `exec_interpreter`): the program that runs the
    /// script, e.g. `node`, `python3`, `bash`. `none` runs the script itself.
    /// When omitted PM2's rule applies: chosen from the script's extension
    /// (`.js` node, `.py` python, `.sh` bash, ...), else the script runs itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.size() > 0").message("spec.interpreter must not be empty; omit it to choose by the script's extension, or use \"none\""))]
    pub interpreter: Option<String>,

    /// PM2 `interpreter_args` (alias `node_args`): arguments for the interpreter,
    /// placed before the script, e.g. `["--max-old-space-size=512"]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interpreter_args: Vec<String>,

    /// PM2 `cwd`: the working directory of the app (container `workingDir`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,

    // ---- How many (PM2: instances, exec_mode) ----
    /// PM2 `instances`: a count N >= 1 runs N pods. `0` or `"max"` runs one pod
    /// per schedulable CPU of the nodes this App may run on (CPU divided by the
    /// container's CPU request, one CPU when no request is set); `-N` runs that
    /// many fewer. Never fewer than 1. Default 1. The resolved count is in
    /// `status.instances`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<Instances>,

    /// The instance count set through the scale subresource (`kubectl scale
    /// app/NAME --replicas=N`, a HorizontalPodAutoscaler, KEDA): when set it
    /// wins over `instances`, which keeps PM2's meaning for whoever writes the
    /// manifest. Leave it out of GitOps manifests when a scaler owns the
    /// count (as with a Deployment's `replicas`), so the two never fight;
    /// removing it hands the count back to `instances`. At least 1, as PM2
    /// never runs fewer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10_000))]
    pub replicas: Option<i32>,

    /// PM2 `exec_mode`: `cluster` or `fork`. Accepted for fidelity; both get
    /// readiness-gated rolling updates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec_mode: Option<ExecMode>,

    /// PM2 `instance_var`: the environment variable that receives the pod's
    /// instance index, 0..N-1, distinct among the App's running pods (a
    /// replacement pod takes over the index of the pod it replaces, as in
    /// PM2's reload). Set by the runtime shim before the app starts.
    /// Default `NODE_APP_INSTANCE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.matches('^[A-Za-z_][A-Za-z0-9_]*$')").message("spec.instanceVar must be an environment variable name (letters, digits, '_', not starting with a digit)"))]
    #[schemars(length(max = 256))]
    pub instance_var: Option<String>,

    /// PM2 `increment_var`: an environment variable set to its value in
    /// `env` (a number, else 0) plus the instance index, e.g. `PORT` to give
    /// each instance its own port as PM2 does. Set by the runtime shim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.matches('^[A-Za-z_][A-Za-z0-9_]*$')").message("spec.incrementVar must be an environment variable name (letters, digits, '_', not starting with a digit)"))]
    #[schemars(length(max = 256))]
    pub increment_var: Option<String>,

    // ---- Readiness and stopping (PM2: wait_ready, listen_timeout, kill_timeout, ...) ----
    /// PM2 `wait_ready`: the pod is Ready only when the app says so, through
    /// PM2's `process.send('ready')` (via the runtime shim) or the check in
    /// `readiness`. Without it a pod is Ready once the app accepts connections
    /// on `port` (PM2's `listening`). Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_ready: Option<bool>,

    /// PM2 `listen_timeout`, milliseconds: how long a new pod is expected to
    /// take to become ready. Past it the App reports a slow start
    /// (`Progressing` reason `SlowStart`, and an Event); the pod is never
    /// restarted for being slow. The rollout's progress deadline is derived
    /// from it (listenTimeout + minUptime + 60 s, unless
    /// `rollout.progressDeadlineSeconds` is set) and decides rollback.
    /// Unlike PM2, an unready pod never takes traffic, unless
    /// `readyOnListenTimeout` asks for PM2's "ready anyway". 0 means PM2's
    /// default, 3000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 86_400_000))]
    pub listen_timeout: Option<i64>,

    /// PM2's behaviour when `listenTimeout` expires: treat the app as ready
    /// anyway (runtime shim only: its `/ready` turns 200). Off by default,
    /// because a pod that has not said it is ready then takes traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_on_listen_timeout: Option<bool>,

    /// PM2 `kill_timeout`, milliseconds: how long the app may take to exit
    /// after its stop signal before it is killed. 0 means PM2's default,
    /// 1600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 86_400_000))]
    pub kill_timeout: Option<i64>,

    /// The signal that asks the app to stop, as PM2 sends it: SIGINT by
    /// default. Delivered by the runtime shim; without the shim Kubernetes
    /// sends the image's stop signal (usually SIGTERM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self in ['SIGINT', 'SIGTERM', 'SIGQUIT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2']").message("spec.stopSignal must be one of SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2"))]
    pub stop_signal: Option<String>,

    /// PM2 `shutdown_with_message`: ask the app to stop with the IPC message
    /// `'shutdown'` instead of a signal (runtime shim only, so it needs
    /// `script`). Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shutdown_with_message: Option<bool>,

    /// PM2 `treekill`: the stop signal goes to the app's whole process
    /// tree, deepest first (true, the default), or to its main process only
    /// (false). Delivered by the runtime shim; after `killTimeout` whatever
    /// is left is killed either way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub treekill: Option<bool>,

    /// PM2 `min_uptime`, milliseconds: how long a new pod must stay ready
    /// before it counts as available (`minReadySeconds`, rounded up). Default 1000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 86_400_000))]
    pub min_uptime: Option<i64>,

    /// PM2 `max_restarts`: container restarts beyond this mark the App
    /// Degraded, and during a rollout count as a failed release. Default 16.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1_000_000))]
    pub max_restarts: Option<i32>,

    /// PM2 `max_memory_restart`: memory of the app's process tree above
    /// which it is restarted, as PM2 writes it (`"300M"`, `"1G"`, `"512K"`,
    /// or bytes; K/M/G are powers of 1024; at most 1 PiB). With the runtime
    /// shim it is PM2's graceful restart: the shim samples memory every
    /// `memoryCheckIntervalMs`, and above the threshold turns the pod
    /// unready, drains, stops the app with its stop signal and
    /// `killTimeout`, and the container restarts (counted in
    /// `status.memoryRestarts`, not against `maxRestarts`). The container's
    /// memory limit stays as a safety net above it (`memoryLimitPercent`).
    /// Without the shim it is the container's memory limit itself: the
    /// kernel kills the app when it is exceeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_memory_restart: Option<MemorySize>,

    /// How often, in milliseconds, the runtime shim samples the app's memory
    /// for `maxMemoryRestart`. Default PM2's 30000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 100, max = 86_400_000))]
    pub memory_check_interval_ms: Option<i64>,

    /// The container's memory limit as a percentage of `maxMemoryRestart`
    /// when the runtime shim restarts the app gracefully: the safety net for
    /// memory that grows faster than the shim samples it. Default 150. An
    /// explicit `resources.limits.memory` wins (it must not be below
    /// `maxMemoryRestart`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 100, max = 1000))]
    pub memory_limit_percent: Option<i32>,

    /// PM2 `cron_restart`: a cron expression (5 fields, or 6 with seconds
    /// first; names such as `MON`; nicknames such as `@daily`; `"0"` for
    /// none) on which the App is restarted with a zero-downtime rolling
    /// restart, evaluated in `cronTimeZone`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new(r"self.matches('^\\s*(0|@[a-zA-Z]+|\\S+(\\s+\\S+){4,5})\\s*$')").message("spec.cronRestart must be a cron expression of 5 fields (6 with seconds first), a nickname such as @daily, or \"0\" for none"))]
    #[schemars(length(max = 256))]
    pub cron_restart: Option<String>,

    /// The time zone `cronRestart` is evaluated in: an IANA name such as
    /// `Europe/Paris`, like a CronJob's `timeZone`. Default UTC. (PM2 used
    /// the host's local time, which a pod does not have.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new(r"self.size() <= 64 && self.matches('^[A-Za-z][-+_/A-Za-z0-9]*$')").message("spec.cronTimeZone must be an IANA time zone name such as Europe/Paris or UTC"))]
    #[schemars(length(max = 64))]
    pub cron_time_zone: Option<String>,

    // ---- Day-to-day operations (`readyroll pause`, `resume`, `reload`) ----
    /// Pauses rollouts, like a Deployment's `paused` (which it sets): a
    /// changed spec is applied to the Deployment but no pod is replaced
    /// until it is cleared. The status says so (condition `Paused`; while a
    /// rollout waits, `Ready` is False and `Reconciling` True with reason
    /// `RolloutPaused`). Set by `readyroll pause`, cleared by `resume`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<bool>,

    /// A zero-downtime rolling restart, as `pm2 reload` does: any new value
    /// (`readyroll reload` writes the current time, RFC 3339) becomes the
    /// pod annotation `readyroll.dev/reloadedAt`, so the pods are replaced
    /// one by one, each only after its replacement is ready. The same as
    /// `kubectl rollout restart`, but written in the App, so a GitOps
    /// source can say it too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub restarted_at: Option<String>,

    // ---- Environment (PM2: env, env_<profile>) ----
    /// PM2 `env`: environment variables of the app (at most 4096). Names are
    /// letters, digits, `_`, `-` and `.`, not starting with a digit.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = MAX_ENV_VARS))]
    #[x_kube(validation = Rule::new("self.all(name, name.matches('^[-._a-zA-Z][-._a-zA-Z0-9]*$'))").message("spec.env names must be letters, digits, '_', '-' or '.', not starting with a digit"))]
    pub env: BTreeMap<String, String>,

    /// PM2 `env_<profile>` blocks, keyed by profile name (`env_production`
    /// becomes `envProfiles.production`): at most 64 profiles of at most
    /// 4096 variables, names as in `env`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "env_profiles_schema")]
    #[x_kube(validation = Rule::new("self.all(profile, self[profile].all(name, name.matches('^[-._a-zA-Z][-._a-zA-Z0-9]*$')))").message("spec.envProfiles names must be letters, digits, '_', '-' or '.', not starting with a digit"))]
    pub env_profiles: BTreeMap<String, BTreeMap<String, String>>,

    /// The profile of `envProfiles` laid over `env` (PM2's `--env NAME`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,

    /// Extra Kubernetes environment entries, e.g. values from Secrets or
    /// ConfigMaps (`valueFrom`). They come after `env` and win on a clash.
    /// Each name at most once (a list keyed by `name`, as a container's `env`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    pub extra_env: Vec<EnvVar>,

    /// Whole Secrets or ConfigMaps exposed as environment variables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_from: Vec<EnvFromSource>,

    // ---- Network ----
    /// The port the app listens on. Enables the Service and the default
    /// readiness check (the app accepts connections on it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,

    /// The Service in front of the app (created whenever `port` is set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceSpec>,

    /// An explicit readiness check. Without it readiness comes from
    /// `waitReady` (runtime shim) or from the app accepting connections on
    /// `port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness: Option<Check>,

    /// An optional liveness check: the kubelet restarts the container when
    /// it fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness: Option<Check>,

    // ---- Rollouts and the runtime shim ----
    /// How new versions replace old ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<RolloutSpec>,

    /// The runtime shim that gives PM2 apps `process.send('ready')` and PM2's
    /// stop semantics inside a pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_shim: Option<RuntimeShimSpec>,

    // ---- Pod settings ----
    /// CPU and memory requests and limits of the app container. The CPU
    /// request divides node CPUs for `instances: 0`; `maxMemoryRestart`, when
    /// set, overrides the memory limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = rules::requests_within_limits())]
    pub resources: Option<ResourceRequirements>,

    /// Volumes of the pod.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Volume>,

    /// Where the app container mounts the volumes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volume_mounts: Vec<VolumeMount>,

    /// The ServiceAccount the pods run as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,

    /// Secrets used to pull the image.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_pull_secrets: Vec<LocalObjectReference>,

    /// Nodes the pods may run on (and whose CPUs `instances: 0` counts).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,

    /// Pod affinity and anti-affinity; required node affinity also limits the
    /// nodes `instances: 0` counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,

    /// Taints the pods tolerate; nodes with taints they do not tolerate are
    /// not counted for `instances: 0`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,

    /// How pods spread across zones or nodes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topology_spread_constraints: Vec<TopologySpreadConstraint>,

    /// Security settings of the app container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_context: Option<SecurityContext>,

    /// Security settings of the whole pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_security_context: Option<PodSecurityContext>,

    /// PriorityClass of the pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,

    /// Extra labels for the pods and every generated object.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,

    /// Extra annotations for the pods.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// PM2's `exec_mode`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExecMode {
    /// Several instances behind one address (PM2's Node cluster mode).
    Cluster,
    /// Plain processes.
    Fork,
}
