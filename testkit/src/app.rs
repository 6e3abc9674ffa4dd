//! `App` specs: [`valid_app`] draws what the CRD accepts (every field in
//! range, the cross-field rules of its CEL kept), [`wild_app`] what is only
//! close to it (numbers anywhere in their type, names of any text).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    EmptyDirVolumeSource, EnvVar, LocalObjectReference, ResourceRequirements, SecurityContext,
    Toleration, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;
use readyroll_core::crd::{
    App, AppSpec, Check, ExecCheck, ExecMode, HttpGetCheck, HttpScheme, Instances, MemorySize,
    RolloutSpec, RuntimeShimSpec, ServiceSpec, ServiceType, TcpSocketCheck, MAX_DURATION_MS,
};

use crate::names::{app_name, env_name, label_value, qualified_key, subdomain, text};

/// Cron schedules of every form the CRD and PM2 accept.
pub const CRON_EXAMPLES: &[&str] = &[
    "0 3 * * *",
    "*/15 * * * *",
    "30 */10 * * * *",
    "0 0 * * MON",
    "0 0 1 JAN *",
    "@daily",
    "@hourly",
    "0",
    "0 0 29 2 *",
    "5,10 1-3 * * 1-5",
];

/// IANA zones, and the one a pod has by default.
pub const TIME_ZONES: &[&str] = &[
    "UTC",
    "Europe/Paris",
    "America/New_York",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "Etc/GMT+5",
];

const STOP_SIGNALS: &[&str] = &[
    "SIGINT", "SIGTERM", "SIGQUIT", "SIGHUP", "SIGUSR1", "SIGUSR2",
];

/// An App named and placed in `namespace` as the API server would hand it
/// over (with a uid), whose spec the CRD accepts.
pub fn valid_app(namespace: &str) -> impl Strategy<Value = App> {
    let namespace = namespace.to_string();
    (app_name(), valid_spec()).prop_map(move |(name, spec)| named(&name, &namespace, spec))
}

/// A spec within every bound of the CRD, its cross-field rules kept.
pub fn valid_spec() -> impl Strategy<Value = AppSpec> {
    // Boxed parts: one unboxed strategy of this size overflows a test
    // thread's stack in a debug build.
    (
        what_to_run().boxed(),
        lifecycle().boxed(),
        environment().boxed(),
        network().boxed(),
        pod().boxed(),
    )
        .prop_map(|(run, life, env, net, pod)| keep_rules(assemble(run, life, env, net, pod)))
}

/// An App whose every field is drawn from far wider than the CRD allows:
/// `build` must turn it into objects or refuse it naming a field, never
/// panic.
pub fn wild_app() -> impl Strategy<Value = App> {
    (
        prop_oneof![app_name(), text()],
        prop_oneof![valid_spec().boxed(), wild_spec().boxed()],
    )
        .prop_map(|(name, spec)| named(&name, "shop", spec))
}

fn named(name: &str, namespace: &str, spec: AppSpec) -> App {
    let mut app = App::new(name, spec);
    app.metadata.namespace = Some(namespace.to_string());
    app.metadata.uid = Some("0b5e0a8c-6c1e-4a3e-9d1f-1f2e3d4c5b6a".into());
    app
}

/// Every field of [`valid_spec`], then numbers and strings replaced by
/// any value of their type.
fn wild_spec() -> impl Strategy<Value = AppSpec> {
    (
        valid_spec().boxed(),
        vec(any::<i64>(), 6),
        vec(any::<i32>(), 8),
        vec(text(), 8),
        btree_map(text(), text(), 0..3),
        any::<u16>(),
    )
        .prop_map(|(mut s, longs, ints, texts, map, bits)| {
            let pick = |bit: u16| bits & (1 << bit) != 0;
            if pick(0) {
                s.listen_timeout = Some(longs[0]);
            }
            if pick(1) {
                s.kill_timeout = Some(longs[1]);
            }
            if pick(2) {
                s.min_uptime = Some(longs[2]);
            }
            if pick(3) {
                s.memory_check_interval_ms = Some(longs[3]);
            }
            if pick(4) {
                s.rollout
                    .get_or_insert_with(Default::default)
                    .drain_delay_ms = Some(longs[4]);
            }
            if pick(5) {
                s.port = Some(ints[0]);
                s.runtime_shim
                    .get_or_insert_with(Default::default)
                    .probe_port = Some(ints[1]);
            }
            if pick(6) {
                s.max_restarts = Some(ints[2]);
                s.memory_limit_percent = Some(ints[3]);
            }
            if pick(7) {
                let rollout = s.rollout.get_or_insert_with(Default::default);
                rollout.progress_deadline_seconds = Some(ints[4]);
                rollout.revision_history_limit = Some(ints[5]);
                rollout.max_surge = Some(if ints[6] % 2 == 0 {
                    IntOrString::Int(ints[6])
                } else {
                    IntOrString::String(texts[0].clone())
                });
            }
            if pick(8) {
                s.instances = Some(Instances::Count(ints[7]));
            }
            if pick(9) {
                s.cron_restart = Some(texts[1].clone());
                s.cron_time_zone = Some(texts[2].clone());
            }
            if pick(10) {
                s.env.extend(map.clone());
                s.labels.extend(map.clone());
            }
            if pick(11) {
                s.stop_signal = Some(texts[3].clone());
                s.image = texts[4].clone();
            }
            if pick(12) {
                s.script = Some(texts[5].clone());
                s.interpreter = Some(texts[6].clone());
            }
            if pick(13) {
                s.profile = Some(texts[7].clone());
                s.annotations.extend(map);
            }
            if pick(14) {
                let q = |t: &str| Quantity(t.to_string());
                s.resources = Some(ResourceRequirements {
                    limits: Some(BTreeMap::from([
                        ("cpu".into(), q(&texts[0])),
                        ("memory".into(), q(&texts[1])),
                    ])),
                    requests: Some(BTreeMap::from([("memory".into(), q(&texts[2]))])),
                    ..Default::default()
                });
            }
            s
        })
}

#[derive(Debug)]
struct Run {
    image: String,
    pull: Option<String>,
    script: Option<String>,
    args: Vec<String>,
    interpreter: Option<String>,
    interpreter_args: Vec<String>,
    cwd: Option<String>,
    instances: Option<Instances>,
    exec_mode: Option<ExecMode>,
}

fn what_to_run() -> impl Strategy<Value = Run> {
    (
        image(),
        option::of(prop::sample::select(vec![
            "Always",
            "IfNotPresent",
            "Never",
        ])),
        option::of(
            prop_oneof![
                "[a-z]{1,8}(\\.(js|mjs|cjs|py|sh|rb|php|ts))?",
                "(\\./|/)?[a-zA-Z0-9_.-]{1,12}(/[a-zA-Z0-9_.-]{1,12}){0,3}",
                printable(),
            ]
            .prop_filter("script is not empty", |s| !s.is_empty()),
        ),
        vec(printable(), 0..4),
        option::of(prop_oneof![
            prop::sample::select(vec!["node", "python3", "bash", "none", "bun", "deno"])
                .prop_map(String::from),
            "[a-z]{1,10}",
        ]),
        vec("--[a-z-]{1,20}(=[0-9]{1,4})?", 0..3),
        option::of("/[a-z]{1,8}(/[a-z]{1,8}){0,2}"),
        option::of(prop_oneof![
            4 => (1..=6i32).prop_map(Instances::Count),
            1 => (1..=10_000i32).prop_map(Instances::Count),
            2 => Just(Instances::PerCpu),
            1 => (1..=10_000i32).prop_map(Instances::PerCpuMinus),
        ]),
        option::of(prop_oneof![Just(ExecMode::Cluster), Just(ExecMode::Fork)]),
    )
        .prop_map(
            |(
                image,
                pull,
                script,
                args,
                interpreter,
                interpreter_args,
                cwd,
                instances,
                exec_mode,
            )| Run {
                image,
                pull: pull.map(String::from),
                script,
                args,
                interpreter,
                interpreter_args,
                cwd,
                instances,
                exec_mode,
            },
        )
}

/// Text without control characters: what the API tier submits.
fn printable() -> impl Strategy<Value = String> {
    prop_oneof![4 => "\\PC{1,24}", 1 => "[a-z0-9 =-]{1,40}"]
}

fn image() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9]{1,12}(:[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,20})?",
        "registry\\.example(:5000)?/[a-z0-9]{1,8}/[a-z0-9-]{1,12}:[0-9]\\.[0-9]{1,2}",
        "[a-z]{1,6}@sha256:[0-9a-f]{64}",
    ]
}

#[derive(Debug)]
struct Life {
    wait_ready: Option<bool>,
    listen_timeout: Option<i64>,
    ready_on_listen_timeout: Option<bool>,
    kill_timeout: Option<i64>,
    stop_signal: Option<String>,
    shutdown_with_message: Option<bool>,
    treekill: Option<bool>,
    min_uptime: Option<i64>,
    max_restarts: Option<i32>,
    max_memory: Option<MemorySize>,
    memory_interval: Option<i64>,
    memory_percent: Option<i32>,
    cron: Option<String>,
    zone: Option<String>,
}

fn millis() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(0i64),
        0..=20_000i64,
        0..=MAX_DURATION_MS,
        Just(MAX_DURATION_MS),
    ]
}

/// A PM2 memory size within the CRD's bounds, in every unit.
pub fn memory_size() -> impl Strategy<Value = MemorySize> {
    prop_oneof![
        (1u64..=4096, prop::sample::select(vec!["K", "M", "G"]))
            .prop_map(|(n, unit)| format!("{n}{unit}")),
        (1u64..=1 << 50).prop_map(|n| n.to_string()),
        Just("1048576G".to_string()),
    ]
    .prop_map(|s| MemorySize::parse(&s).expect("generated memory sizes are valid"))
}

fn lifecycle() -> impl Strategy<Value = Life> {
    (
        (
            option::of(any::<bool>()),
            option::of(millis()),
            option::of(any::<bool>()),
            option::of(millis()),
            option::of(prop::sample::select(STOP_SIGNALS).prop_map(String::from)),
            option::of(any::<bool>()),
            option::of(any::<bool>()),
        ),
        (
            option::of(millis()),
            option::of(prop_oneof![0..=20i32, 0..=1_000_000i32]),
            option::of(memory_size()),
            option::of(100..=MAX_DURATION_MS),
            option::of(100..=1000i32),
            option::of(prop::sample::select(CRON_EXAMPLES).prop_map(String::from)),
            option::of(prop::sample::select(TIME_ZONES).prop_map(String::from)),
        ),
    )
        .prop_map(|(a, b)| Life {
            wait_ready: a.0,
            listen_timeout: a.1,
            ready_on_listen_timeout: a.2,
            kill_timeout: a.3,
            stop_signal: a.4,
            shutdown_with_message: a.5,
            treekill: a.6,
            min_uptime: b.0,
            max_restarts: b.1,
            max_memory: b.2,
            memory_interval: b.3,
            memory_percent: b.4,
            cron: b.5,
            zone: b.6,
        })
}

#[derive(Debug)]
struct Env {
    env: BTreeMap<String, String>,
    profiles: BTreeMap<String, BTreeMap<String, String>>,
    select: bool,
    extra: Vec<EnvVar>,
}

fn environment() -> impl Strategy<Value = Env> {
    (
        btree_map(env_name(), printable(), 0..6),
        btree_map(
            "[a-z]{1,10}",
            btree_map(env_name(), printable(), 0..4),
            0..3,
        ),
        any::<bool>(),
        btree_map("[A-Z_][A-Z0-9_]{0,10}", printable(), 0..3).prop_map(|vars| {
            vars.into_iter()
                .map(|(name, value)| EnvVar {
                    name,
                    value: Some(value),
                    value_from: None,
                })
                .collect::<Vec<_>>()
        }),
    )
        .prop_map(|(env, profiles, select, extra)| Env {
            env,
            profiles,
            select,
            extra,
        })
}

#[derive(Debug)]
struct Net {
    port: Option<i32>,
    service: Option<ServiceSpec>,
    readiness: Option<Check>,
    liveness: Option<Check>,
    rollout: Option<RolloutSpec>,
    shim: Option<RuntimeShimSpec>,
}

fn port() -> impl Strategy<Value = i32> {
    prop_oneof![1..=65535i32, Just(1), Just(65535), Just(8080)]
}

fn check() -> impl Strategy<Value = Check> {
    (
        prop_oneof![
            (
                option::of("/[a-z0-9/._-]{0,20}"),
                option::of(port()),
                option::of(prop_oneof![Just(HttpScheme::Http), Just(HttpScheme::Https)])
            )
                .prop_map(|(path, port, scheme)| Check {
                    http_get: Some(HttpGetCheck { path, port, scheme }),
                    ..Default::default()
                }),
            option::of(port()).prop_map(|port| Check {
                tcp_socket: Some(TcpSocketCheck { port }),
                ..Default::default()
            }),
            vec(printable(), 1..4).prop_map(|command| Check {
                exec: Some(ExecCheck { command }),
                ..Default::default()
            }),
        ],
        option::of(1..=3600i32),
        option::of(1..=3600i32),
        option::of(1..=1000i32),
    )
        .prop_map(|(check, period, timeout, failures)| Check {
            period_seconds: period,
            timeout_seconds: timeout,
            failure_threshold: failures,
            ..check
        })
}

fn network() -> impl Strategy<Value = Net> {
    (
        option::of(port()),
        option::of(
            (
                option::of(any::<bool>()),
                option::of(prop_oneof![
                    Just(ServiceType::ClusterIP),
                    Just(ServiceType::NodePort),
                    Just(ServiceType::LoadBalancer)
                ]),
                option::of(port()),
                option::of(30000..=32767i32),
                btree_map(qualified_key(), printable(), 0..3),
            )
                .prop_map(|(enabled, type_, port, node_port, annotations)| {
                    ServiceSpec {
                        enabled,
                        type_,
                        port,
                        node_port,
                        annotations,
                    }
                }),
        ),
        option::of(check()),
        option::of(check()),
        option::of(
            (
                option::of(prop_oneof![
                    (1..=100i32).prop_map(IntOrString::Int),
                    (1..=100u32).prop_map(|p| IntOrString::String(format!("{p}%"))),
                ]),
                option::of(millis()),
                // drainMaxMs, as an extension past drainDelayMs (the CRD
                // refuses a maximum below it).
                option::of(0..=60_000i64),
                option::of(any::<bool>()),
                option::of(1..=86_400i32),
                option::of(1..=100i32),
            )
                .prop_map(|(max_surge, drain, extra, auto, deadline, history)| {
                    RolloutSpec {
                        max_surge,
                        drain_delay_ms: drain,
                        drain_max_ms: extra.map(|e| (drain.unwrap_or(5000) + e).min(86_400_000)),
                        auto_rollback: auto,
                        progress_deadline_seconds: deadline,
                        revision_history_limit: history,
                    }
                }),
        ),
        option::of(
            (
                option::of(any::<bool>()),
                option::of(image()),
                option::of(port()),
            )
                .prop_map(|(enabled, image, probe_port)| RuntimeShimSpec {
                    enabled,
                    image,
                    probe_port,
                }),
        ),
    )
        .prop_map(|(port, service, readiness, liveness, rollout, shim)| Net {
            port,
            service,
            readiness,
            liveness,
            rollout,
            shim,
        })
}

#[derive(Debug)]
struct Pod {
    resources: Option<Res>,
    volumes: usize,
    service_account: Option<String>,
    pull_secrets: Vec<String>,
    node_selector: BTreeMap<String, String>,
    tolerations: Vec<Toleration>,
    run_as_user: Option<i64>,
    priority_class: Option<String>,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
}

/// Requests and limits as numbers (millicores, MiB), each request at most
/// its limit as the API server requires; written out in [`Res::render`].
#[derive(Debug)]
struct Res {
    cpu: (Option<u64>, Option<u64>),
    memory: (Option<u64>, Option<u64>),
    notation: u8,
}

fn ordered(pair: (Option<u64>, Option<u64>)) -> (Option<u64>, Option<u64>) {
    match pair {
        (Some(request), Some(limit)) if request > limit => (Some(limit), Some(request)),
        pair => pair,
    }
}

impl Res {
    /// Keeps memory on the right side of `maxMemoryRestart` (in bytes), as
    /// the CRD and the operator require: a request at most it (stricter
    /// than the rule, which allows up to the limit the shim's container
    /// gets), a limit at least it.
    fn around(mut self, threshold: Option<u64>) -> Self {
        if let Some(bytes) = threshold {
            let mib = bytes.div_ceil(1 << 20);
            self.memory.0 = self.memory.0.filter(|&r| r << 20 <= bytes);
            self.memory.1 = self.memory.1.map(|l| l.max(mib));
        }
        self
    }

    fn render(&self) -> ResourceRequirements {
        let cpu = |m: u64| match self.notation % 3 {
            0 => format!("{m}m"),
            1 if m.is_multiple_of(1000) => (m / 1000).to_string(),
            _ => format!("{}.{:03}", m / 1000, m % 1000),
        };
        let memory = |mib: u64| match self.notation % 4 {
            0 => format!("{mib}Mi"),
            1 => format!("{}Ki", mib * 1024),
            2 => (mib << 20).to_string(),
            _ if mib.is_multiple_of(1024) => format!("{}Gi", mib / 1024),
            _ => format!("{mib}Mi"),
        };
        let map = |cpu_amount: Option<u64>, memory_amount: Option<u64>| {
            let map: BTreeMap<String, Quantity> = [
                ("cpu", cpu_amount.map(cpu)),
                ("memory", memory_amount.map(memory)),
            ]
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_string(), Quantity(v))))
            .collect();
            (!map.is_empty()).then_some(map)
        };
        ResourceRequirements {
            requests: map(self.cpu.0, self.memory.0),
            limits: map(self.cpu.1, self.memory.1),
            ..Default::default()
        }
    }
}

fn resources() -> impl Strategy<Value = Res> {
    let cpu = || option::of(prop_oneof![1..=4000u64, (1..=64u64).prop_map(|n| n * 1000)]);
    let memory = || option::of(prop_oneof![1..=4096u64, (1..=64u64).prop_map(|n| n * 1024)]);
    (cpu(), cpu(), memory(), memory(), any::<u8>()).prop_map(|(cr, cl, mr, ml, notation)| Res {
        cpu: ordered((cr, cl)),
        memory: ordered((mr, ml)),
        notation,
    })
}

fn toleration() -> impl Strategy<Value = Toleration> {
    (
        qualified_key(),
        option::of(label_value()),
        option::of(prop::sample::select(vec![
            "NoSchedule",
            "PreferNoSchedule",
            "NoExecute",
        ])),
    )
        .prop_map(|(key, value, effect)| Toleration {
            operator: Some(if value.is_some() { "Equal" } else { "Exists" }.into()),
            key: Some(key),
            value,
            effect: effect.map(String::from),
            toleration_seconds: None,
        })
}

fn pod() -> impl Strategy<Value = Pod> {
    (
        (
            option::of(resources()),
            0..3usize,
            option::of(subdomain()),
            vec(subdomain(), 0..2),
            btree_map(qualified_key(), label_value(), 0..3),
        ),
        (
            vec(toleration(), 0..2),
            option::of(0..=i64::from(i32::MAX)),
            option::of("[a-z]([-a-z0-9]{0,10}[a-z0-9])?"),
            btree_map(qualified_key(), label_value(), 0..3),
            btree_map(qualified_key(), printable(), 0..3),
        ),
    )
        .prop_map(|(a, b)| Pod {
            resources: a.0,
            volumes: a.1,
            service_account: a.2,
            pull_secrets: a.3,
            node_selector: a.4,
            tolerations: b.0,
            run_as_user: b.1,
            priority_class: b.2,
            labels: b.3,
            annotations: b.4,
        })
}

fn assemble(run: Run, life: Life, env: Env, net: Net, pod: Pod) -> AppSpec {
    let profile = env
        .select
        .then(|| env.profiles.keys().next().cloned())
        .flatten();
    let threshold = life.max_memory.as_ref().map(MemorySize::bytes);
    AppSpec {
        image: run.image,
        image_pull_policy: run.pull,
        script: run.script,
        args: run.args,
        interpreter: run.interpreter,
        interpreter_args: run.interpreter_args,
        cwd: run.cwd,
        instances: run.instances,
        exec_mode: run.exec_mode,
        wait_ready: life.wait_ready,
        listen_timeout: life.listen_timeout,
        ready_on_listen_timeout: life.ready_on_listen_timeout,
        kill_timeout: life.kill_timeout,
        stop_signal: life.stop_signal,
        shutdown_with_message: life.shutdown_with_message,
        treekill: life.treekill,
        min_uptime: life.min_uptime,
        max_restarts: life.max_restarts,
        max_memory_restart: life.max_memory,
        memory_check_interval_ms: life.memory_interval,
        memory_limit_percent: life.memory_percent,
        cron_restart: life.cron,
        cron_time_zone: life.zone,
        env: env.env,
        env_profiles: env.profiles,
        profile,
        extra_env: env.extra,
        port: net.port,
        service: net.service,
        readiness: net.readiness,
        liveness: net.liveness,
        rollout: net.rollout,
        runtime_shim: net.shim,
        resources: pod.resources.map(|r| r.around(threshold).render()),
        volumes: (0..pod.volumes)
            .map(|i| Volume {
                name: format!("data-{i}"),
                empty_dir: Some(EmptyDirVolumeSource::default()),
                ..Default::default()
            })
            .collect(),
        volume_mounts: (0..pod.volumes)
            .map(|i| VolumeMount {
                name: format!("data-{i}"),
                mount_path: format!("/data/{i}"),
                ..Default::default()
            })
            .collect(),
        service_account_name: pod.service_account,
        image_pull_secrets: pod
            .pull_secrets
            .into_iter()
            .map(|name| LocalObjectReference { name })
            .collect(),
        node_selector: pod.node_selector,
        tolerations: pod.tolerations,
        security_context: pod.run_as_user.map(|uid| SecurityContext {
            run_as_user: Some(uid),
            ..Default::default()
        }),
        priority_class_name: pod.priority_class,
        labels: pod.labels,
        annotations: pod.annotations,
        ..AppSpec::default()
    }
}

/// The CRD's cross-field rules (its CEL, which the operator checks too),
/// applied by dropping or adding the field a rule needs: every spec drawn
/// is one `kubectl apply` accepts and the operator builds.
fn keep_rules(mut s: AppSpec) -> AppSpec {
    let port = s.port;
    if s.service.is_some() && port.is_none() {
        s.port = Some(8080);
    }
    if let Some(service) = &mut s.service {
        if matches!(service.type_, None | Some(ServiceType::ClusterIP)) {
            service.node_port = None;
        }
    }
    let shim_off = s.runtime_shim.as_ref().and_then(|r| r.enabled) == Some(false);
    if s.wait_ready == Some(true) && s.readiness.is_none() && shim_off {
        s.wait_ready = Some(false);
    }
    if s.shutdown_with_message == Some(true) && (s.script.is_none() || shim_off) {
        s.shutdown_with_message = None;
    }
    if s.ready_on_listen_timeout == Some(true)
        && (s.script.is_none() || s.readiness.is_some() || shim_off)
    {
        s.ready_on_listen_timeout = None;
    }
    for check in [&mut s.readiness, &mut s.liveness].into_iter().flatten() {
        let own_port = check.http_get.as_ref().is_some_and(|h| h.port.is_some())
            || check.tcp_socket.as_ref().is_some_and(|t| t.port.is_some())
            || check.exec.is_some();
        if !own_port && s.port.is_none() {
            *check = Check {
                exec: Some(ExecCheck {
                    command: vec!["true".into()],
                }),
                ..check.clone()
            };
            check.http_get = None;
            check.tcp_socket = None;
        }
    }
    if let (Some(shim), Some(port)) = (&mut s.runtime_shim, s.port) {
        if shim.probe_port == Some(port) {
            shim.probe_port = None;
        }
    }
    command_rules(&mut s);
    s
}

/// The rules between the command, the runtime shim, the ports and the
/// rollout's deadline (CEL rules of the CRD since they moved there from
/// the operator, which still checks them).
fn command_rules(s: &mut AppSpec) {
    if s.script.is_none() {
        s.interpreter = None;
        s.interpreter_args.clear();
    } else if !s.interpreter_args.is_empty()
        && matches!(s.interpreter.as_deref(), None | Some("none"))
    {
        // Interpreter arguments need an interpreter to go to.
        s.interpreter = Some("node".into());
    }
    // The shim (explicitly on, or implied by waitReady without a readiness
    // check) starts the script: it needs one.
    let shim_explicit = s.runtime_shim.as_ref().and_then(|r| r.enabled);
    let implied = s.wait_ready == Some(true) && s.readiness.is_none();
    if s.script.is_none() {
        if shim_explicit == Some(true) {
            if let Some(shim) = s.runtime_shim.as_mut() {
                shim.enabled = None;
            }
        }
        if implied {
            s.wait_ready = Some(false);
        }
    }
    // Its readiness endpoint needs a port of its own, 9797 unless set.
    let probe_port = s.runtime_shim.as_ref().and_then(|r| r.probe_port);
    if s.port.is_some() && s.port == Some(probe_port.unwrap_or(9797)) {
        s.runtime_shim
            .get_or_insert_with(Default::default)
            .probe_port = Some(if s.port == Some(9797) { 9798 } else { 9797 });
    }
    // The Deployment's progress deadline must exceed its minReadySeconds.
    let min_ready = |ms: i64| (ms + 999) / 1000;
    if min_ready(s.min_uptime.unwrap_or(1000)) >= 86_400 {
        s.min_uptime = Some(86_000_000);
    }
    let min_ready = min_ready(s.min_uptime.unwrap_or(1000));
    if let Some(rollout) = &mut s.rollout {
        if let Some(deadline) = &mut rollout.progress_deadline_seconds {
            if i64::from(*deadline) <= min_ready {
                *deadline = i32::try_from(min_ready + 1).unwrap_or(86_400);
            }
        }
    }
}
