//! The spec's cross-field rules as CEL, so that the API server refuses at
//! admission, naming the field, what the operator's core would otherwise
//! refuse after it and report on the App's status. The core keeps its own
//! checks of the same rules: they guard Apps admitted before the CRD held
//! these rules. Each rule matches the core's check exactly or is stricter.

use kube::core::{Reason, Rule};

/// Whether the runtime shim runs, as `build::shim::enabled` decides it: as
/// `runtimeShim.enabled` says, else whenever there is a `script`, or when
/// `waitReady` has no explicit readiness check to rely on.
const SHIM_ON: &str = "(has(self.runtimeShim) && has(self.runtimeShim.enabled) ? self.runtimeShim.enabled : (has(self.script) || (has(self.waitReady) && self.waitReady && !has(self.readiness))))";

/// `runtimeShim.enabled: false`, the only way to run a `script` without the shim.
const SHIM_OFF_EXPLICITLY: &str =
    "(has(self.runtimeShim) && has(self.runtimeShim.enabled) && !self.runtimeShim.enabled)";

/// The extensions PM2 (and the core's `interpreter_for`) chooses an
/// interpreter for; a script with another one runs itself.
pub const SCRIPT_EXTENSIONS: [&str; 12] = [
    ".sh", ".py", ".rb", ".php", ".pl", ".js", ".mjs", ".cjs", ".coffee", ".ls", ".ts", ".tsx",
];

fn invalid(rule: String, field: &str, message: &str) -> Rule {
    Rule::new(rule)
        .message(message)
        .reason(Reason::FieldValueInvalid)
        .field_path(field.to_string())
}

fn none_of(list: &str) -> String {
    format!("(!has(self.{list}) || size(self.{list}) == 0)")
}

pub fn interpreter_needs_script() -> Rule {
    invalid(
        "has(self.script) || !has(self.interpreter)".into(),
        ".interpreter",
        "spec.interpreter needs spec.script: without a script the image's entry point runs",
    )
}

pub fn interpreter_args_need_script() -> Rule {
    invalid(
        format!("has(self.script) || {}", none_of("interpreterArgs")),
        ".interpreterArgs",
        "spec.interpreterArgs needs spec.script: without a script the image's entry point runs",
    )
}

/// Without the shim the core builds the command itself: a script that runs
/// without an interpreter (`interpreter: none`, or an extension PM2 has none
/// for) leaves the interpreter's arguments nowhere to go. (With the shim,
/// PM2's rule is applied in the pod, where node runs any text file.)
pub fn interpreter_args_need_an_interpreter() -> Rule {
    let extensions = SCRIPT_EXTENSIONS
        .iter()
        .map(|e| format!("'{e}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let known_extension = format!(
        "[{extensions}].exists(e, self.script.endsWith(e) && self.script.size() > e.size() && !self.script.endsWith('/' + e))"
    );
    invalid(
        format!(
            "!has(self.script) || {} || !{SHIM_OFF_EXPLICITLY} || (has(self.interpreter) ? self.interpreter != 'none' : {known_extension})",
            none_of("interpreterArgs")
        ),
        ".interpreterArgs",
        "spec.interpreterArgs needs an interpreter to go to: without the runtime shim the script runs itself (spec.interpreter none, or an extension PM2 has no interpreter for); set spec.interpreter or remove them",
    )
}

pub fn shim_needs_script() -> Rule {
    invalid(
        "has(self.script) || !(has(self.runtimeShim) && has(self.runtimeShim.enabled) && self.runtimeShim.enabled)".into(),
        ".runtimeShim.enabled",
        "spec.runtimeShim.enabled needs spec.script: the shim starts the script itself and cannot wrap the image's entry point",
    )
}

/// `waitReady` without a `readiness` check turns the shim on by default.
pub fn implied_shim_needs_script() -> Rule {
    invalid(
        "has(self.script) || has(self.readiness) || !(has(self.waitReady) && self.waitReady) || (has(self.runtimeShim) && has(self.runtimeShim.enabled))".into(),
        ".waitReady",
        "spec.waitReady without a spec.readiness check needs the runtime shim, which needs spec.script: set spec.script or a spec.readiness check",
    )
}

pub fn probe_port_is_not_the_port() -> Rule {
    invalid(
        format!("!has(self.port) || !has(self.runtimeShim) || !has(self.runtimeShim.probePort) || self.runtimeShim.probePort != self.port || !{SHIM_ON}"),
        ".runtimeShim.probePort",
        "spec.runtimeShim.probePort must differ from spec.port: the shim's readiness endpoint needs a port of its own",
    )
}

pub fn port_is_not_the_default_probe_port() -> Rule {
    invalid(
        format!(
            "!has(self.port) || self.port != {} || (has(self.runtimeShim) && has(self.runtimeShim.probePort)) || !{SHIM_ON}",
            super::DEFAULT_SHIM_PROBE_PORT
        ),
        ".port",
        "spec.port must differ from the runtime shim's readiness port (spec.runtimeShim.probePort, 9797 unless set): set another spec.runtimeShim.probePort",
    )
}

/// Kubernetes requires a Deployment's `progressDeadlineSeconds` to exceed
/// its `minReadySeconds`, which is `minUptime` rounded up to seconds.
pub fn deadline_exceeds_min_ready() -> Rule {
    invalid(
        format!(
            "!has(self.rollout) || !has(self.rollout.progressDeadlineSeconds) || self.rollout.progressDeadlineSeconds > ((has(self.minUptime) ? self.minUptime : {}) + 999) / 1000",
            crate::build::MIN_UPTIME_MS
        ),
        ".rollout.progressDeadlineSeconds",
        "spec.rollout.progressDeadlineSeconds must be more than minReadySeconds, which is spec.minUptime (1000 ms unless set) rounded up to seconds",
    )
}

// ---- Memory: `maxMemoryRestart` against `resources` ----

const MAX_MEMORY: &str = "self.maxMemoryRestart";

/// `maxMemoryRestart` is one the byte count below cannot overflow for
/// (at most 16 digits of bytes, fewer with a unit); its own rule refuses
/// the rest with its own message.
fn threshold_readable() -> String {
    let m = MAX_MEMORY;
    format!(
        "(type({m}) == int ? ({m} >= 1 && {m} <= 1125899906842624) : {m}.matches('^([0-9]{{1,16}}|[0-9]{{1,13}}K|[0-9]{{1,10}}M|[0-9]{{1,7}}G)$'))"
    )
}

/// `maxMemoryRestart` in bytes (K, M and G are powers of 1024).
fn threshold_bytes() -> String {
    let m = MAX_MEMORY;
    let digits = format!("int({m}.substring(0, {m}.size() - 1))");
    format!(
        "(type({m}) == int ? {m} : {m}.endsWith('G') ? {digits} * 1073741824 : {m}.endsWith('M') ? {digits} * 1048576 : {m}.endsWith('K') ? {digits} * 1024 : int({m}))"
    )
}

/// A memory amount as text. Indexed, not selected (`.memory`): the API
/// server's cost estimate of a selected map value is unbounded.
fn amount(map: &str) -> String {
    format!("string(self.resources.{map}['memory'])")
}

fn has_amount(map: &str) -> String {
    format!(
        "(has(self.resources) && has(self.resources.{map}) && 'memory' in self.resources.{map} && isQuantity({}))",
        amount(map)
    )
}

/// With the shim, an explicit memory limit is the safety net above the
/// threshold at which the shim restarts the app gracefully.
pub fn memory_limit_at_least_threshold() -> Rule {
    invalid(
        format!(
            "!has({MAX_MEMORY}) || !{} || !{SHIM_ON} || !{} || !quantity({}).isLessThan(quantity(string({})))",
            threshold_readable(),
            has_amount("limits"),
            amount("limits"),
            threshold_bytes()
        ),
        ".resources.limits.memory",
        "spec.resources.limits.memory must be at least spec.maxMemoryRestart: the kernel would kill the app before the runtime shim restarts it gracefully",
    )
}

/// The memory request against the limit readyroll gives the container:
/// `maxMemoryRestart` itself without the shim; with it, an explicit limit
/// (compared by [`requests_within_limits`]) or `memoryLimitPercent` of the
/// threshold (150 unless set).
pub fn memory_request_within_limit() -> Rule {
    let t = threshold_bytes();
    let percent = "(has(self.memoryLimitPercent) ? self.memoryLimitPercent : 150)";
    // Exact floor(t * percent / 100) without the product overflowing.
    let safety_net = format!("({t} / 100 * {percent} + {t} % 100 * {percent} / 100)");
    let request = format!("quantity({})", amount("requests"));
    // Compared as integers (a fractional request as a float): the API
    // server's cost estimate of `quantity(string(...))` of this arithmetic
    // is beyond its budget.
    let at_most = |bytes: &str| {
        format!("({request}.isInteger() ? {request}.asInteger() <= {bytes} : {request}.asApproximateFloat() <= double({bytes}))")
    };
    invalid(
        format!(
            "!has({MAX_MEMORY}) || !{} || !{} || ({SHIM_ON} ? ({} || {}) : {})",
            threshold_readable(),
            has_amount("requests"),
            has_amount("limits"),
            at_most(&safety_net),
            at_most(&t),
        ),
        ".resources.requests.memory",
        "spec.resources.requests.memory must be at most the container's memory limit: spec.maxMemoryRestart without the runtime shim; with it an explicit spec.resources.limits.memory, else spec.memoryLimitPercent (150 unless set) of spec.maxMemoryRestart",
    )
}

/// Kubernetes refuses a pod whose request of a resource exceeds its limit;
/// compared for the resources a container names by value (extended
/// resources and huge pages must be equal, which Kubernetes checks).
pub fn requests_within_limits() -> Rule {
    let within = |name: &str| {
        let request = format!("string(self.requests['{name}'])");
        let limit = format!("string(self.limits['{name}'])");
        format!(
            "(!('{name}' in self.requests) || !('{name}' in self.limits) || !isQuantity({request}) || !isQuantity({limit}) || !quantity({request}).isGreaterThan(quantity({limit})))"
        )
    };
    invalid(
        format!(
            "!has(self.requests) || !has(self.limits) || ({} && {} && {})",
            within("cpu"),
            within("memory"),
            within("ephemeral-storage")
        ),
        ".requests",
        "spec.resources.requests must be at most spec.resources.limits for each resource (cpu, memory, ephemeral-storage)",
    )
}
