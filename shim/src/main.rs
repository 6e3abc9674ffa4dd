//! readyroll-shim: the container entry point that gives a PM2 app what PM2
//! gave it (an IPC channel for `process.send('ready')`, SIGINT or a
//! 'shutdown' message on stop, SIGKILL after the kill timeout) and turns its
//! readiness into an HTTP endpoint for the kubelet.
//!
//! Everything goes through safe wrappers (std and nix): no `unsafe` here.
#![forbid(unsafe_code)]

mod cli;
mod drain;
mod install;
mod instance;
mod ipc;
mod launch;
mod memory;
mod probe_server;
mod process_tree;
mod readiness;
mod resolve;
mod signals;
mod spawn;
mod supervisor;

use std::io::Write;

use cli::{Invocation, USAGE};

/// One line on stderr. Write errors are ignored: `eprintln!` would panic
/// when stderr is gone, and the shim must keep supervising the app then.
pub(crate) fn log(message: &str) {
    let _ = writeln!(std::io::stderr(), "readyroll-shim: {message}");
}

fn main() {
    let args = std::env::args_os().skip(1).collect();
    let code = match cli::parse(args) {
        Ok(Invocation::Run(config)) => supervisor::run(*config),
        Ok(Invocation::Drain(args)) => drain::run(args),
        Ok(Invocation::Install { dest }) => match install::install(&dest) {
            Ok(()) => 0,
            Err(e) => {
                log(&format!("install: {e}"));
                1
            }
        },
        Ok(Invocation::Help) => {
            let _ = write!(std::io::stdout(), "{USAGE}");
            0
        }
        Ok(Invocation::Version) => {
            let _ = writeln!(
                std::io::stdout(),
                "readyroll-shim {}",
                env!("CARGO_PKG_VERSION")
            );
            0
        }
        Err(e) => {
            log(&format!("{e}\nrun `readyroll-shim --help` for usage"));
            2
        }
    };
    std::process::exit(code);
}
