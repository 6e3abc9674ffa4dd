//! Everything that happens before the app runs: the working directory, the
//! command (`resolve`) and the instance variables (`instance`).

use crate::cli::{AppSpec, RunConfig};
use crate::log;
use crate::probe_server::ProbeServer;
use crate::readiness::Phase;
use crate::spawn::StartError;
use crate::{instance, resolve};

/// Enters `--cwd`, finds the script and its interpreter, and reads the
/// instance index (answering probes while it waits for it).
pub fn prepare_launch(
    config: &RunConfig,
    probe: &mut ProbeServer,
) -> Result<resolve::Launch, StartError> {
    if let Some(cwd) = &config.cwd {
        std::env::set_current_dir(cwd).map_err(|e| StartError {
            exit_code: 127,
            message: format!("--cwd {}: cannot enter the directory: {e}", cwd.display()),
        })?;
    }
    let cwd = std::env::current_dir().map_err(|e| StartError {
        exit_code: 1,
        message: format!("cannot read the working directory: {e}"),
    })?;
    let path = std::env::var("PATH").unwrap_or_default();
    let mut launch = resolve::resolve(&config.app, &cwd, &path).map_err(|e| StartError {
        exit_code: 127,
        message: e.0,
    })?;
    if matches!(config.app, AppSpec::Script { .. }) {
        log(&format!("starting {}", launch.command.join(" ")));
    }
    if let Some(instance) = &config.instance {
        let serve = |period| probe.serve_for(period, Phase::Starting);
        match instance::wait_for_index(&instance.file, config.listen_timeout, serve) {
            Ok(index) => {
                let current = instance
                    .increment_var
                    .as_ref()
                    .and_then(|var| std::env::var(var).ok());
                let vars = instance::variables(instance, index, current.as_deref());
                log(&format!(
                    "instance {index}: {}",
                    vars.iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                ));
                launch.env.extend(vars);
            }
            Err(why) => log(&format!(
                "warning: no instance index after {} ms ({why}); starting without {}",
                config.listen_timeout.as_millis(),
                instance.var
            )),
        }
    }
    Ok(launch)
}
