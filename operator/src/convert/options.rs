//! Every option PM2 knows for an app (its `lib/API/schema.json`), with the
//! aliases PM2 accepts, and what `readyroll convert` does with it.

/// What becomes of a PM2 option in an App.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Meaning {
    /// Carried into the App (see `app.rs`).
    Mapped,
    /// Has no meaning in a pod; reported, with the reason.
    Ignored(&'static str),
}

/// One PM2 app option.
#[derive(Debug)]
pub struct Pm2Option {
    /// PM2's canonical spelling.
    pub name: &'static str,
    /// Other spellings PM2 accepts besides the automatic camelCase one.
    pub aliases: &'static [&'static str],
    pub meaning: Meaning,
}

const LOGS: Meaning = Meaning::Ignored(
    "containers log to stdout and stderr, which Kubernetes collects (`kubectl logs`)",
);
const TIMESTAMPS: Meaning =
    Meaning::Ignored("log timestamps come from Kubernetes (`kubectl logs --timestamps`)");
const WATCH: Meaning = Meaning::Ignored(
    "an image does not change while it runs: roll out a new image instead of watching files",
);
const BACKOFF: Meaning =
    Meaning::Ignored("the kubelet restarts a crashed container with its own exponential back-off");
const PM2_IO: Meaning = Meaning::Ignored("PM2.io (Keymetrics) monitoring has no Kubernetes part");
const SOURCE_MAPS: Meaning = Meaning::Ignored(
    "PM2 injects source-map-support itself; use interpreter_args [\"--enable-source-maps\"] instead",
);

const fn mapped(name: &'static str, aliases: &'static [&'static str]) -> Pm2Option {
    Pm2Option {
        name,
        aliases,
        meaning: Meaning::Mapped,
    }
}

const fn ignored(
    name: &'static str,
    aliases: &'static [&'static str],
    meaning: Meaning,
) -> Pm2Option {
    Pm2Option {
        name,
        aliases,
        meaning,
    }
}

/// The catalogue. `cmd` and `command` are the aliases of `script` that PM2
/// resolves before validation (`Common.verifyConfs`).
pub const OPTIONS: &[Pm2Option] = &[
    // What to run.
    mapped("name", &[]),
    mapped("script", &["exec", "cmd", "command"]),
    mapped("args", &[]),
    mapped("exec_interpreter", &["interpreter"]),
    mapped("node_args", &["interpreter_args", "interpreterArgs"]),
    mapped("cwd", &[]),
    // How many.
    mapped("instances", &[]),
    mapped("exec_mode", &[]),
    mapped("instance_var", &[]),
    mapped("increment_var", &[]),
    // Readiness and stopping.
    mapped("wait_ready", &[]),
    mapped("listen_timeout", &[]),
    mapped("kill_timeout", &[]),
    mapped("shutdown_with_message", &[]),
    mapped("min_uptime", &[]),
    mapped("max_restarts", &[]),
    mapped("max_memory_restart", &[]),
    mapped("cron_restart", &["cron"]),
    // Environment, network, identity.
    mapped("env", &[]),
    mapped("append_env_to_name", &[]),
    mapped("port", &[]),
    mapped("uid", &["user"]),
    mapped("gid", &[]),
    // No meaning in a pod.
    ignored("out_file", &["out", "output", "out_log"], LOGS),
    ignored("error_file", &["error", "err", "err_file", "err_log"], LOGS),
    ignored("log_file", &["log"], LOGS),
    ignored("merge_logs", &["combine_logs"], LOGS),
    ignored("disable_logs", &[], LOGS),
    ignored("log_type", &[], LOGS),
    ignored("log_date_format", &[], TIMESTAMPS),
    ignored("time", &[], TIMESTAMPS),
    ignored("pid_file", &["pid"], Meaning::Ignored("PM2 writes PID files on its host; a pod has no use for them")),
    ignored("watch", &[], WATCH),
    ignored("ignore_watch", &[], WATCH),
    ignored("watch_options", &[], WATCH),
    ignored("watch_delay", &[], WATCH),
    ignored("restart_delay", &[], BACKOFF),
    ignored("exp_backoff_restart_delay", &[], BACKOFF),
    // Refused when they describe a task that ends (fields.rs).
    mapped("autorestart", &[]),
    mapped("stop_exit_codes", &[]),
    ignored("autostart", &[], Meaning::Ignored("an App starts as soon as it is applied")),
    mapped("treekill", &[]),
    ignored("kill_retry_time", &[], Meaning::Ignored(
        "PM2's polling interval while stopping; the runtime shim and the kubelet handle the stop",
    )),
    ignored("source_map_support", &[], SOURCE_MAPS),
    ignored("disable_source_map_support", &[], SOURCE_MAPS),
    ignored("filter_env", &[], Meaning::Ignored(
        "PM2 filters the environment of its own daemon; a pod never inherits the host's environment",
    )),
    ignored("namespace", &[], Meaning::Ignored(
        "PM2's process group; the Kubernetes namespace comes from --namespace",
    )),
    ignored("name_prefix", &[], Meaning::Ignored("a PM2 CLI naming prefix; the App is named by `name`")),
    ignored("vizion", &[], Meaning::Ignored("PM2's version-control metadata; an image carries its own version")),
    ignored("post_update", &[], Meaning::Ignored(
        "PM2's pull-and-update hooks; a new version is a new image",
    )),
    ignored("install_url", &[], Meaning::Ignored("PM2 module installation")),
    ignored("force", &[], Meaning::Ignored(
        "a PM2 CLI switch to start a script twice; an App is declared once",
    )),
    ignored("execute_command", &[], Meaning::Ignored("PM2 CLI internal")),
    ignored("write", &[], Meaning::Ignored("PM2 internal")),
    ignored("username", &[], Meaning::Ignored("PM2 fills it in with the user running PM2")),
    ignored("windowsHide", &[], Meaning::Ignored("Windows only")),
    ignored("trace", &[], PM2_IO),
    ignored("disable_trace", &[], PM2_IO),
    ignored("v8", &[], PM2_IO),
    ignored("event_loop_inspector", &[], PM2_IO),
    ignored("deep_monitoring", &[], PM2_IO),
    ignored("pmx", &[], PM2_IO),
    ignored("automation", &[], PM2_IO),
    ignored("io", &[], PM2_IO),
];

/// The readyroll extension key naming an app's container image. PM2 keeps
/// only the options it knows, so the key does not disturb PM2.
pub const IMAGE_KEY: &str = "image";

/// PM2's automatic alias: `kill_timeout` is also accepted as `killTimeout`
/// (parts after the first are capitalised when longer than one letter).
pub fn camel_case(name: &str) -> String {
    name.split('_')
        .enumerate()
        .map(|(i, part)| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) if i > 0 && part.len() > 1 => {
                    first.to_ascii_uppercase().to_string() + chars.as_str()
                }
                _ => part.to_string(),
            }
        })
        .collect()
}

/// The option a key in an app names, under any of PM2's spellings.
pub fn lookup(key: &str) -> Option<&'static Pm2Option> {
    OPTIONS
        .iter()
        .find(|o| o.name == key || o.aliases.contains(&key) || camel_case(o.name) == key)
}

/// PM2's `env_<profile>` keys (schema pattern `^env_\S*$`): the profile name.
pub fn env_profile(key: &str) -> Option<&str> {
    key.strip_prefix("env_")
        .filter(|profile| !profile.chars().any(char::is_whitespace))
}

/// The most edits a "did you mean" suggestion is away from the key.
const MAX_EDITS: usize = 2;

/// The known spelling closest to a misspelt key, for "did you mean". Keys
/// far longer than any option get no suggestion, which bounds the work
/// whatever the file holds.
pub fn closest(key: &str) -> Option<&'static str> {
    let longest = OPTIONS.iter().map(|o| o.name.len()).max().unwrap_or(0);
    if key.chars().count() > longest + MAX_EDITS {
        return None;
    }
    let spellings = OPTIONS
        .iter()
        .flat_map(|o| std::iter::once(o.name).chain(o.aliases.iter().copied()))
        .chain(std::iter::once(IMAGE_KEY));
    spellings
        .map(|s| (edit_distance(&key.to_ascii_lowercase(), s), s))
        .filter(|(d, s)| *d <= MAX_EDITS && *d < s.len() / 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, s)| s)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = substitution.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_case_follows_pm2() {
        assert_eq!(camel_case("kill_timeout"), "killTimeout");
        assert_eq!(
            camel_case("exp_backoff_restart_delay"),
            "expBackoffRestartDelay"
        );
        assert_eq!(camel_case("name"), "name");
    }

    #[test]
    fn every_spelling_finds_its_option() {
        for (key, name) in [
            ("interpreter", "exec_interpreter"),
            ("execInterpreter", "exec_interpreter"),
            ("nodeArgs", "node_args"),
            ("interpreter_args", "node_args"),
            ("cron", "cron_restart"),
            ("command", "script"),
            ("combine_logs", "merge_logs"),
            ("waitReady", "wait_ready"),
        ] {
            assert_eq!(lookup(key).map(|o| o.name), Some(name), "{key}");
        }
        assert!(lookup("node_version").is_none());
        assert!(lookup("env_production").is_none());
    }

    #[test]
    fn spellings_are_unambiguous() {
        // lookup() takes the first match, so a spelling shared by two
        // options would resolve to the wrong one for one of them.
        for o in OPTIONS {
            let camel = camel_case(o.name);
            for s in [o.name, camel.as_str()]
                .into_iter()
                .chain(o.aliases.iter().copied())
            {
                assert_eq!(lookup(s).map(|f| f.name), Some(o.name), "{s}");
            }
        }
    }

    #[test]
    fn profiles_and_suggestions() {
        assert_eq!(env_profile("env_production"), Some("production"));
        assert_eq!(env_profile("environment"), None);
        assert_eq!(closest("kill_timout"), Some("kill_timeout"));
        assert_eq!(closest("instance"), Some("instances"));
        assert_eq!(closest("totally_different"), None);
    }

    #[test]
    fn suggestions_for_huge_keys_cost_nothing() {
        let huge = "k".repeat(1 << 20);
        let started = std::time::Instant::now();
        for _ in 0..20 {
            assert_eq!(closest(&huge), None);
        }
        assert!(started.elapsed() < std::time::Duration::from_millis(500));
    }
}
