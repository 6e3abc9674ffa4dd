//! What to run: PM2's `script`, `args`, `interpreter`, `node_args`, `cwd`.

use crate::crd::AppSpec;

use super::fields::{non_empty, Fields};
use super::report::join;
use super::values;

pub fn apply(f: &mut Fields<'_, '_>, spec: &mut AppSpec) {
    spec.script = f.read("script", non_empty);
    spec.args = f.read("args", values::arguments).unwrap_or_default();
    if let Some(script) = spec.script.clone().filter(|s| s.contains(' ')) {
        through_a_shell(f, spec, script);
    }
    spec.interpreter = f
        .read("exec_interpreter", values::string)
        .filter(|i| !i.is_empty());
    if let Some(version) = spec
        .interpreter
        .as_deref()
        .and_then(|i| i.strip_prefix("node@"))
    {
        f.report.warning(
            f.get("exec_interpreter").and_then(|e| e.value.pos),
            format!(
                "{}: interpreter 'node@{version}' picks a Node.js version through nvm on the PM2 host; \
                 in a pod the image's node runs, so it becomes 'node' (choose the version with the image)",
                f.label
            ),
        );
        spec.interpreter = Some("node".to_string());
    }
    spec.interpreter_args = f.read("node_args", values::arguments).unwrap_or_default();
    spec.cwd = f.read("cwd", non_empty);
    // Without a script the image's entry point runs: an interpreter or its
    // arguments have nothing to run (the CRD and the operator refuse it).
    if spec.script.is_none() {
        let set = [
            ("exec_interpreter", spec.interpreter.is_some()),
            ("node_args", !spec.interpreter_args.is_empty()),
        ];
        for (option, _) in set.into_iter().filter(|(_, set)| *set) {
            if let Some(entry) = f.get(option) {
                f.report.error(
                    entry.key_pos,
                    format!(
                        "{}: needs script: without one the image's entry point runs",
                        join(f.path, &entry.key)
                    ),
                );
            }
        }
    }
}

/// PM2 (`Common.verifyConfs`) runs a script containing spaces as
/// `bash -c SCRIPT` and replaces `args` with that.
fn through_a_shell(f: &mut Fields<'_, '_>, spec: &mut AppSpec, script: String) {
    if let Some(args) = f.get("args") {
        f.report.error(
            args.key_pos,
            format!(
                "{}: PM2 drops args when script contains spaces (it runs the script through a shell); \
                 put the whole command in script, or split it into script and args",
                join(f.path, &args.key)
            ),
        );
    }
    f.report.warning(
        f.get("script").and_then(|e| e.value.pos),
        format!(
            "{}: script {script:?} contains spaces, so PM2 runs it through a shell: it becomes \
             script \"sh\" with args [\"-c\", {script:?}] (PM2 prefers bash; write script \"bash\" and \
             args [\"-c\", ...] if the command needs bash)",
            f.label
        ),
    );
    spec.script = Some("sh".to_string());
    spec.args = vec!["-c".to_string(), script];
}
