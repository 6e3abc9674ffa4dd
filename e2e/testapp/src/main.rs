//! readyroll-testapp: an HTTP/1.1 server (hyper) whose startup delay, readiness
//! signal, shutdown behaviour, latency, memory use and crashes are set by
//! environment variables, so end-to-end tests can model well- and
//! badly-behaved applications. See `config.rs` for the variables.

#![deny(unsafe_code)]

mod config;
mod readiness;
mod server;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use config::{Config, StopSignal};
use readiness::Reporter;
use server::{Server, Shared};

/// Something that makes the main thread act.
pub enum Event {
    /// Start a graceful drain; the text says why.
    Stop(&'static str),
}

fn main() -> ExitCode {
    let config = match Config::from_lookup(|name| std::env::var(name).ok()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("readyroll-testapp: {e}");
            return ExitCode::from(2);
        }
    };
    if config.crash_on_start {
        println!("CRASH_ON_START is set: exiting with status 1");
        return ExitCode::FAILURE;
    }
    match run(&config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("readyroll-testapp: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(config: &Config) -> std::io::Result<()> {
    let (events, stop_requests) = mpsc::channel();
    watch_signals(config.stop_signal, events.clone())?;
    let mut reporter = Reporter::open(&config.readiness, events)?;
    let shared = Shared::new(config.version.clone(), hostname(), config.latency);
    let addr = SocketAddr::new(config.host, config.port);
    let started = Instant::now();

    let mut server = None;
    if config.listen_before_ready {
        server = Some(listen(addr, &shared)?);
    }
    if let Some(reason) = wait_for_stop(&stop_requests, Some(config.ready_delay)) {
        return stop(server, &mut reporter, config.drain_max, reason);
    }
    let server = match server {
        Some(server) => server,
        None => listen(addr, &shared)?,
    };
    shared.set_ready();
    reporter.report_ready()?;
    println!(
        "ready after {} ms (version {})",
        started.elapsed().as_millis(),
        config.version
    );
    // Held until exit so the memory stays allocated.
    let _ballast = allocate(config.allocate_mb);
    let reason = wait_for_stop(&stop_requests, None).unwrap_or("event channel closed");
    stop(Some(server), &mut reporter, config.drain_max, reason)
}

fn listen(addr: SocketAddr, shared: &std::sync::Arc<Shared>) -> std::io::Result<Server> {
    let server = Server::start(addr, std::sync::Arc::clone(shared))
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))?;
    println!("listening on {}", server.local_addr());
    Ok(server)
}

/// Waits for a stop request, at most `timeout` (forever when `None`).
fn wait_for_stop(events: &Receiver<Event>, timeout: Option<Duration>) -> Option<&'static str> {
    let event = match timeout {
        Some(timeout) => match events.recv_timeout(timeout) {
            Ok(event) => event,
            Err(RecvTimeoutError::Timeout) => return None,
            Err(RecvTimeoutError::Disconnected) => return Some("event channel closed"),
        },
        None => events.recv().ok()?,
    };
    match event {
        Event::Stop(reason) => Some(reason),
    }
}

fn stop(
    server: Option<Server>,
    reporter: &mut Reporter,
    drain_max: Duration,
    reason: &str,
) -> std::io::Result<()> {
    println!("draining ({reason})");
    reporter.report_draining()?;
    let started = Instant::now();
    let left_open = server.map_or(0, |server| {
        let draining = server.stop_accepting();
        println!("stopped accepting connections");
        draining.wait(drain_max)
    });
    println!(
        "drained in {} ms, {left_open} connection(s) cut off; exiting",
        started.elapsed().as_millis()
    );
    Ok(())
}

fn watch_signals(mode: StopSignal, events: Sender<Event>) -> std::io::Result<()> {
    let mut signals = Signals::new([SIGTERM, SIGINT])?;
    thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                let name = if signal == SIGTERM {
                    "SIGTERM"
                } else {
                    "SIGINT"
                };
                match mode {
                    StopSignal::Ignore => {
                        println!("received {name}; ignoring it (STOP_SIGNAL=ignore)")
                    }
                    StopSignal::Graceful => {
                        let _ = events.send(Event::Stop(name));
                    }
                }
            }
        })?;
    Ok(())
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_owned())
        .unwrap_or_default()
}

/// Allocates and touches `mb` MiB so the pages count against memory limits.
fn allocate(mb: u64) -> Vec<u8> {
    if mb == 0 {
        return Vec::new();
    }
    let bytes = usize::try_from(mb.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX);
    let mut ballast = Vec::with_capacity(bytes);
    // Writing every byte (not just capacity) makes the kernel back each page.
    ballast.resize(bytes, 1u8);
    println!("allocated {mb} MiB");
    ballast
}
