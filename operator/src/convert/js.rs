//! JavaScript ecosystem files (`ecosystem.config.js`, `.cjs`, `.mjs`),
//! evaluated by `node` exactly as PM2 would load them, then read as JSON;
//! and `.json` files that need more than JSON5 (`process.env.PORT`),
//! evaluated as the expression PM2 makes of them.
//! Positions are not reported for them: the file is code, not data.

use std::io::{ErrorKind, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use super::diagnostic::Diagnostic;
use super::tree::{Node, MAX_DEPTH};

/// Marks the line where the exported configuration starts, so anything the
/// file itself prints cannot be mistaken for it.
const MARKER: &str = "--readyroll-ecosystem-json--";

/// Loads the file's export (`module.exports` or `export default`) and prints
/// it as JSON after the marker. `import()` loads CommonJS and ES modules
/// alike. The file's own console output goes to stderr; an error thrown
/// while loading is left uncaught so node reports it in its own words.
const LOADER: &str = r#"
const { pathToFileURL } = require("node:url");
const path = require("node:path");
for (const level of ["log", "info", "debug"]) console[level] = console.error;
import(pathToFileURL(path.resolve(process.argv[1])).href).then((mod) => {
  const config = mod.default !== undefined ? mod.default : { ...mod };
  const json = JSON.stringify(config);
  process.stdout.write("\n@MARKER@\n" + (json === undefined ? "" : json) + "\n");
  process.exit(0);
});
"#;

/// PM2's `Common.parseConfig` for `.json`: `vm.runInThisContext("(" +
/// text + ")")` with a one-second timeout. The text comes on stdin.
const EXPRESSION: &str = r#"
const vm = require("node:vm");
const path = require("node:path");
for (const level of ["log", "info", "debug"]) console[level] = console.error;
const text = require("node:fs").readFileSync(0, "utf8");
const config = vm.runInThisContext("(" + text + ")", {
  filename: path.resolve(process.argv[1]), displayErrors: false, timeout: 1000,
});
const json = JSON.stringify(config);
process.stdout.write("\n@MARKER@\n" + (json === undefined ? "" : json) + "\n");
"#;

/// The file's export as a tree, plus a warning carrying whatever the file
/// printed while it was loaded.
pub fn load(path: &Path, file: &str) -> Result<(Node, Vec<Diagnostic>), Diagnostic> {
    let mut command = Command::new("node");
    command
        .arg("-e")
        .arg(LOADER.replace("@MARKER@", MARKER))
        .arg(path);
    run(command, None, file)
}

/// A `.json` file's text evaluated as the JavaScript expression PM2 makes of it.
pub fn evaluate(text: &str, file: &str) -> Result<(Node, Vec<Diagnostic>), Diagnostic> {
    let mut command = Command::new("node");
    command
        .arg("-e")
        .arg(EXPRESSION.replace("@MARKER@", MARKER))
        .arg(file);
    run(command, Some(text), file)
}

fn run(
    mut command: Command,
    stdin: Option<&str>,
    file: &str,
) -> Result<(Node, Vec<Diagnostic>), Diagnostic> {
    command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let output = command
        .spawn()
        .and_then(|mut child| {
            if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
                // A script that fails early closes stdin; its error says more.
                let _ = pipe.write_all(text.as_bytes());
            }
            child.wait_with_output()
        })
        .map_err(|e| {
            let why = if e.kind() == ErrorKind::NotFound {
                "`node` was not found on PATH. Install Node.js, or turn the file into JSON \
                 (node -p 'JSON.stringify(require(\"./ecosystem.config.js\"))' > ecosystem.json)"
                    .to_string()
            } else {
                format!("could not run `node`: {e}")
            };
            Diagnostic::error(
                file,
                None,
                format!("evaluating a JavaScript ecosystem file needs node: {why}"),
            )
        })?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let json = match stdout.rsplit_once(&format!("\n{MARKER}\n")) {
        Some((_, json)) if output.status.success() => json.trim(),
        _ => {
            return Err(Diagnostic::error(
                file,
                None,
                format!(
                    "node could not load the file ({}):\n{}",
                    output.status,
                    without_node_internals(&stderr)
                ),
            ))
        }
    };
    let mut notes = Vec::new();
    if !stderr.trim().is_empty() {
        notes.push(Diagnostic::warning(
            file,
            None,
            format!(
                "node printed while loading the file:\n{}",
                stderr.trim_end()
            ),
        ));
    }
    if json.is_empty() {
        return Err(Diagnostic::error(
            file,
            None,
            "the file exports nothing JSON can hold (expected module.exports = { apps: [...] })",
        ));
    }
    read_export(json, file).map(|node| (node, notes))
}

/// The JSON node printed for the file's export, as a tree: refused, not
/// crashed on, when it is nested deeper than an ecosystem file can be.
pub(super) fn read_export(json: &str, file: &str) -> Result<Node, Diagnostic> {
    let value: serde_json::Value = serde_json::from_str(json).map_err(|e| {
        Diagnostic::error(
            file,
            None,
            format!("the export could not be read as JSON: {e}"),
        )
    })?;
    let node = Node::from_json(&value);
    if node.depth() > MAX_DEPTH {
        return Err(Diagnostic::error(
            file,
            None,
            format!("the configuration is nested more than {MAX_DEPTH} levels deep: an ecosystem file is a few levels deep"),
        ));
    }
    Ok(node)
}

/// Node's error report minus the stack frames inside node itself, which
/// say nothing about the file.
fn without_node_internals(stderr: &str) -> String {
    stderr
        .lines()
        .filter(|line| !(line.trim_start().starts_with("at ") && line.contains("node:internal/")))
        .collect::<Vec<_>>()
        .join("\n")
        .trim_end()
        .to_string()
}
