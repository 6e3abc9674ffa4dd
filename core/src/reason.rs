//! The reasons readyroll gives, one name each: on the App's conditions and
//! on its Events. A failure's reason is both (`Degraded` says why, the
//! `RolloutFailed` Event repeats it).

/// A new revision is replacing pods.
pub const ROLLOUT_IN_PROGRESS: &str = "RolloutInProgress";
/// Event: a new revision started rolling out.
pub const ROLLOUT_STARTED: &str = "RolloutStarted";
/// Every pod runs the desired revision and is available.
pub const ROLLOUT_COMPLETE: &str = "RolloutComplete";
/// Event: the desired revision failed.
pub const ROLLOUT_FAILED: &str = "RolloutFailed";
/// The last good revision was put back after a failure.
pub const ROLLED_BACK: &str = "RolledBack";
/// The spec cannot be turned into objects, or the App cannot be read.
pub const INVALID_SPEC: &str = "InvalidSpec";
/// The Deployment made no progress within its deadline; the Deployment
/// controller's own reason, kept so both say the same.
pub const PROGRESS_DEADLINE_EXCEEDED: &str = "ProgressDeadlineExceeded";
/// A pod restarted more often than `maxRestarts`.
pub const TOO_MANY_RESTARTS: &str = "TooManyRestarts";
/// `Available`: every instance is available.
pub const INSTANCES_AVAILABLE: &str = "InstancesAvailable";
/// `Available`: some instances are not.
pub const INSTANCES_UNAVAILABLE: &str = "InstancesUnavailable";
/// `Degraded: False`: nothing is wrong.
pub const AS_EXPECTED: &str = "AsExpected";
/// Event: the resolved instance count changed.
pub const SCALED_INSTANCES: &str = "ScaledInstances";
/// Event: a scheduled (`cronRestart`) rolling restart began.
pub const CRON_RESTART: &str = "CronRestart";
/// `Progressing`: a pod of the desired revision is not ready after
/// `listenTimeout` (see `slow_start`).
pub const SLOW_START: &str = "SlowStart";
/// Event: the runtime shim restarted the app for `maxMemoryRestart` (see
/// `memory_restart`).
pub const MEMORY_RESTART: &str = "MemoryRestart";
/// A same-named object exists that the App does not control; readyroll
/// leaves it untouched (see `ownership`).
pub const OWNERSHIP_CONFLICT: &str = "OwnershipConflict";
/// The API server refused one of the App's objects (see `problems`).
pub const APPLY_FAILED: &str = "ApplyFailed";
/// Event: running pods of an App hold the same instance index outside a
/// rollout's hand-over (see `instance_index`).
pub const INSTANCE_INDEX_SHARED: &str = "InstanceIndexShared";
