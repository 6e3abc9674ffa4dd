//! PM2's `script`, `interpreter`, `interpreter_args`, `args` and `cwd` as a
//! container's `command`, `args` and `workingDir`, for Apps that run
//! without the runtime shim. With the shim (the default for a `script`) the
//! shim resolves them in the pod, as PM2 does, and this is not used.

use crate::crd::AppSpec;

use super::error::SpecError;

/// PM2's interpreter for a script extension (`lib/API/interpreter.json`).
/// `.mjs`/`.cjs` are listed too: PM2 runs any non-binary file with node,
/// which readyroll cannot check inside an image, so it names them here.
const INTERPRETERS: [(&str, &str); 12] = [
    (".sh", "bash"),
    (".py", "python"),
    (".rb", "ruby"),
    (".php", "php"),
    (".pl", "perl"),
    (".js", "node"),
    (".mjs", "node"),
    (".cjs", "node"),
    (".coffee", "coffee"),
    (".ls", "lsc"),
    (".ts", "bun"),
    (".tsx", "bun"),
];

/// PM2's way of saying "run the script itself".
const NO_INTERPRETER: &str = "none";

/// What the app container runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Command {
    /// The program and its leading arguments; empty runs the image's entry point.
    pub command: Vec<String>,
    /// PM2 `args`.
    pub args: Vec<String>,
    pub working_dir: Option<String>,
    /// The interpreter that runs the script, if any (after PM2's inference).
    pub interpreter: Option<String>,
}

impl Command {
    pub fn of(spec: &AppSpec) -> Result<Self, SpecError> {
        let working_dir = spec.cwd.clone().filter(|c| !c.is_empty());
        let Some(script) = spec.script.as_deref() else {
            return image_entry_point(spec, working_dir);
        };
        if script.is_empty() {
            return Err(SpecError::new(
                "spec.script",
                "must not be empty; omit it to run the image's entry point",
            ));
        }
        let interpreter = match spec.interpreter.as_deref() {
            Some("") => return Err(SpecError::new(
                "spec.interpreter",
                "must not be empty; omit it to choose by the script's extension, or use \"none\"",
            )),
            Some(NO_INTERPRETER) => None,
            Some(explicit) => Some(explicit.to_string()),
            None => interpreter_for(script).map(str::to_string),
        };
        let command = match &interpreter {
            Some(interpreter) => std::iter::once(interpreter.clone())
                .chain(spec.interpreter_args.iter().cloned())
                .chain(std::iter::once(script.to_string()))
                .collect(),
            None => {
                // Also a CEL rule of the CRD, for Apps admitted before it.
                if !spec.interpreter_args.is_empty() {
                    return Err(SpecError::new(
                        "spec.interpreterArgs",
                        format!("has no effect: {script:?} runs without an interpreter; set spec.interpreter or remove them"),
                    ));
                }
                vec![executable_path(script)]
            }
        };
        Ok(Command {
            command,
            args: spec.args.clone(),
            working_dir,
            interpreter,
        })
    }
}

/// The rules here are also CEL rules of the CRD (`crd::rules`); they are
/// checked here too for Apps admitted before the CRD held them.
fn image_entry_point(spec: &AppSpec, working_dir: Option<String>) -> Result<Command, SpecError> {
    if spec.interpreter.is_some() {
        return Err(SpecError::new(
            "spec.interpreter",
            "needs spec.script: without a script the image's entry point runs",
        ));
    }
    if !spec.interpreter_args.is_empty() {
        return Err(SpecError::new(
            "spec.interpreterArgs",
            "needs spec.script: without a script the image's entry point runs",
        ));
    }
    Ok(Command {
        command: Vec::new(),
        args: spec.args.clone(),
        working_dir,
        interpreter: None,
    })
}

/// PM2's choice by extension (`path.extname`: the last dot of the file
/// name, not a leading one). Unknown extensions run the script itself.
pub fn interpreter_for(script: &str) -> Option<&'static str> {
    let file_name = script.rsplit('/').next().unwrap_or(script);
    let dot = file_name.rfind('.').filter(|&i| i > 0)?;
    let extension = &file_name[dot..];
    INTERPRETERS
        .iter()
        .find(|(ext, _)| *ext == extension)
        .map(|(_, interpreter)| *interpreter)
}

/// A bare file name as a container command is looked up in `PATH`; PM2
/// means the file in the working directory, so it gets a `./`.
fn executable_path(script: &str) -> String {
    if script.contains('/') {
        script.to_string()
    } else {
        format!("./{script}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::testing::spec;

    /// The CRD's CEL rule for interpreter arguments knows the same
    /// extensions as the core.
    #[test]
    fn the_crds_extensions_are_the_cores() {
        let crd = crate::crd::rules::SCRIPT_EXTENSIONS;
        assert_eq!(crd.len(), INTERPRETERS.len());
        for (ext, _) in INTERPRETERS {
            assert!(crd.contains(&ext), "{ext}");
        }
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn interpreter_follows_the_extension_like_pm2() {
        let cases = [
            ("server.js", Some("node")),
            ("server.mjs", Some("node")),
            ("server.cjs", Some("node")),
            ("dist/app.min.js", Some("node")),
            ("run.sh", Some("bash")),
            ("app.py", Some("python")),
            ("app.rb", Some("ruby")),
            ("index.php", Some("php")),
            ("tool.pl", Some("perl")),
            ("app.coffee", Some("coffee")),
            ("app.ls", Some("lsc")),
            ("app.ts", Some("bun")),
            ("app.tsx", Some("bun")),
            ("server", None),
            ("./bin/server", None),
            (".hidden", None),
            ("dir.js/server", None),
            ("app.JS", None),
            ("app.go", None),
        ];
        for (script, interpreter) in cases {
            assert_eq!(interpreter_for(script), interpreter, "{script}");
        }
    }

    #[test]
    fn script_with_inferred_interpreter() {
        let cmd = Command::of(&AppSpec {
            script: Some("server.js".into()),
            args: strings(&["--port", "3000"]),
            interpreter_args: strings(&["--max-old-space-size=512"]),
            cwd: Some("/srv/app".into()),
            ..spec()
        })
        .unwrap();
        assert_eq!(
            cmd,
            Command {
                command: strings(&["node", "--max-old-space-size=512", "server.js"]),
                args: strings(&["--port", "3000"]),
                working_dir: Some("/srv/app".into()),
                interpreter: Some("node".into()),
            }
        );
    }

    #[test]
    fn explicit_interpreter_wins_over_the_extension() {
        let cmd = Command::of(&AppSpec {
            script: Some("app.py".into()),
            interpreter: Some("python3".into()),
            ..spec()
        })
        .unwrap();
        assert_eq!(cmd.command, strings(&["python3", "app.py"]));
    }

    #[test]
    fn none_and_unknown_extensions_run_the_script_itself() {
        for (script, interpreter, command) in [
            ("server.js", Some("none"), "./server.js"),
            ("server", None, "./server"),
            ("bin/server", None, "bin/server"),
            ("/usr/local/bin/server", None, "/usr/local/bin/server"),
        ] {
            let cmd = Command::of(&AppSpec {
                script: Some(script.into()),
                interpreter: interpreter.map(Into::into),
                args: strings(&["a"]),
                ..spec()
            })
            .unwrap();
            assert_eq!(cmd.command, strings(&[command]), "{script}");
            assert_eq!(cmd.args, strings(&["a"]));
            assert_eq!(cmd.interpreter, None);
        }
    }

    #[test]
    fn no_script_runs_the_image_entry_point_with_args() {
        let cmd = Command::of(&AppSpec {
            args: strings(&["serve", "--port=80"]),
            cwd: Some("/app".into()),
            ..spec()
        })
        .unwrap();
        assert!(cmd.command.is_empty(), "the image entry point runs");
        assert_eq!(cmd.args, strings(&["serve", "--port=80"]));
        assert_eq!(cmd.working_dir.as_deref(), Some("/app"));
    }

    #[test]
    fn contradictions_name_the_field() {
        let cases = [
            (
                AppSpec {
                    interpreter: Some("node".into()),
                    ..spec()
                },
                "spec.interpreter",
            ),
            (
                AppSpec {
                    interpreter_args: strings(&["--inspect"]),
                    ..spec()
                },
                "spec.interpreterArgs",
            ),
            (
                AppSpec {
                    script: Some("server".into()),
                    interpreter_args: strings(&["--inspect"]),
                    ..spec()
                },
                "spec.interpreterArgs",
            ),
            (
                AppSpec {
                    script: Some("server.js".into()),
                    interpreter: Some(String::new()),
                    ..spec()
                },
                "spec.interpreter",
            ),
            (
                AppSpec {
                    script: Some(String::new()),
                    ..spec()
                },
                "spec.script",
            ),
        ];
        for (spec, field) in cases {
            assert_eq!(Command::of(&spec).unwrap_err().field, field);
        }
    }
}
