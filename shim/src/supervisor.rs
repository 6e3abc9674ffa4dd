//! Runs the app and everything around it in one single-threaded poll loop:
//! signals (via signalfd), the IPC channel, the probe server and timers.

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use readyroll_shim_contract::{MEMORY_RESTART_EXIT_CODE, MEMORY_RESTART_PREFIX};

use crate::cli::RunConfig;
use crate::ipc::IpcChannel;
use crate::launch::prepare_launch;
use crate::log;
use crate::memory;
use crate::probe_server::ProbeServer;
use crate::process_tree;
use crate::readiness::{port_accepts, Mode, Readiness};
use crate::signals::{exit_code_for, SignalInbox, FORWARDED};
use crate::spawn::spawn_app;
use crate::spawn::StartError;

/// Longest single poll; only bounds how stale a missed wake-up could get.
const MAX_POLL_MS: u16 = 60_000;
/// How long to wait for killed leftovers to be reaped before exiting anyway.
const FINAL_REAP_BUDGET: Duration = Duration::from_secs(2);

/// Runs the app to completion and returns the shim's exit status.
pub fn run(config: RunConfig) -> i32 {
    match Supervisor::start(config) {
        Ok(mut supervisor) => supervisor.run_until_exit(),
        Err(err) => {
            log(&err.message);
            err.exit_code
        }
    }
}

/// What one poll reported readable.
struct Events {
    signals: bool,
    ipc: bool,
    /// One entry per probe connection, in the probe server's order.
    connections: Vec<bool>,
}

struct Supervisor {
    config: RunConfig,
    app: Pid,
    signals: SignalInbox,
    probe: ProbeServer,
    ipc: IpcChannel,
    readiness: Readiness,
    stopping: bool,
    kill_at: Option<Instant>,
    killed: bool,
    app_exit_code: Option<i32>,
    next_memory_check: Option<Instant>,
    /// Set once a memory restart has begun: what was measured.
    memory_restart: Option<u64>,
    /// End of the drain of a memory restart, before the stop signal.
    drain_until: Option<Instant>,
}

impl Supervisor {
    fn start(config: RunConfig) -> Result<Self, StartError> {
        let setup = |what: &str| {
            let what = what.to_string();
            move |e: std::io::Error| StartError {
                exit_code: 1,
                message: format!("{what}: {e}"),
            }
        };
        let signals = SignalInbox::open().map_err(setup("cannot set up signal handling"))?;
        // Orphans of the app become our children, so they can be reaped and
        // killed even when the shim is not PID 1 (PID 1 gets this anyway).
        if let Err(e) = nix::sys::prctl::set_child_subreaper(true) {
            log(&format!("cannot become child subreaper: {e}"));
        }
        let mut probe = ProbeServer::bind(config.probe_addr).map_err(setup(&format!(
            "--probe-addr {}: cannot listen",
            config.probe_addr
        )))?;
        let (ipc, app_end) = IpcChannel::pair().map_err(setup("cannot create the IPC channel"))?;
        let launch = prepare_launch(&config, &mut probe)?;
        let app = spawn_app(&launch.command, &launch.env, &app_end)?;
        // The app holds its own copy now; keeping ours would hide its exit.
        drop(app_end);
        let mode = Mode::from_flags(config.wait_ready, config.port);
        let readiness = Readiness::new(mode, config.listen_timeout, Instant::now());
        Ok(Supervisor {
            app,
            signals,
            probe,
            ipc,
            readiness,
            stopping: false,
            kill_at: None,
            killed: false,
            app_exit_code: None,
            next_memory_check: config.memory.as_ref().map(|m| Instant::now() + m.interval),
            memory_restart: None,
            drain_until: None,
            config,
        })
    }

    fn run_until_exit(&mut self) -> i32 {
        loop {
            self.reap();
            if let Some(code) = self.app_exit_code {
                return self.finish(code);
            }
            self.handle_timers(Instant::now());
            let events = self.wait_for_events();
            if events.signals {
                self.handle_signals();
            }
            if events.ipc {
                self.handle_ipc();
            }
            self.probe
                .serve(Instant::now(), self.readiness.phase(), &events.connections);
        }
    }

    /// Blocks until a descriptor is readable or the next deadline passes.
    fn wait_for_events(&self) -> Events {
        let timeout = self.poll_timeout(Instant::now());
        let mut fds = vec![
            PollFd::new(self.signals.as_fd(), PollFlags::POLLIN),
            PollFd::new(self.probe.listener_fd(), PollFlags::POLLIN),
        ];
        let ipc_index = self.ipc.is_open().then(|| {
            fds.push(PollFd::new(self.ipc.as_fd(), PollFlags::POLLIN));
            fds.len() - 1
        });
        let first_connection = fds.len();
        fds.extend(
            self.probe
                .connection_fds()
                .map(|fd| PollFd::new(fd, PollFlags::POLLIN)),
        );
        match poll(&mut fds, timeout) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => {
                // Not expected with valid descriptors; avoid a busy loop.
                log(&format!("poll failed: {e}"));
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        let readable = |i: usize| fds[i].any().unwrap_or(false);
        Events {
            signals: readable(0),
            ipc: ipc_index.is_some_and(readable),
            connections: (first_connection..fds.len()).map(readable).collect(),
        }
    }

    fn poll_timeout(&self, now: Instant) -> PollTimeout {
        let deadline = [
            self.readiness.next_deadline(),
            self.probe.next_deadline(),
            self.kill_at.filter(|_| !self.killed),
            self.next_memory_check,
            self.drain_until.filter(|_| !self.stopping),
        ]
        .into_iter()
        .flatten()
        .min();
        let ms = match deadline {
            // Round up so a deadline 0.3 ms away does not spin with timeout 0.
            Some(at) => at.saturating_duration_since(now).as_micros().div_ceil(1000),
            None => u128::from(MAX_POLL_MS),
        };
        PollTimeout::from(u16::try_from(ms).unwrap_or(MAX_POLL_MS).min(MAX_POLL_MS))
    }

    fn handle_timers(&mut self, now: Instant) {
        if let Some(port) = self.readiness.port_check_due(now) {
            let accepted = port_accepts(port);
            if let Some(after) = self.readiness.on_port_check(Instant::now(), accepted) {
                log(&format!(
                    "app ready after {} ms (port {port} accepts connections)",
                    after.as_millis()
                ));
            }
        }
        if let Some(budget) = self.readiness.budget_expired(now) {
            let waiting_for = match (self.config.wait_ready, self.config.port) {
                (true, _) => "no process.send('ready') yet".to_string(),
                (false, Some(port)) => format!("port {port} does not accept connections yet"),
                (false, None) => "not started".to_string(),
            };
            if self.config.ready_on_listen_timeout {
                self.readiness.assume_ready(now);
                log(&format!(
                    "app not ready after --listen-timeout-ms={} ({waiting_for}); /ready answers 200 anyway (--ready-on-listen-timeout)",
                    budget.as_millis()
                ));
            } else {
                log(&format!(
                    "app not ready after --listen-timeout-ms={} ({waiting_for}); /ready keeps answering 503",
                    budget.as_millis()
                ));
            }
        }
        if self.next_memory_check.is_some_and(|at| now >= at) {
            self.check_memory();
        }
        if self.drain_until.is_some_and(|at| now >= at) && !self.stopping {
            self.stop_app("memory restart: drained");
        }
        if let Some(kill_at) = self.kill_at {
            if !self.killed && now >= kill_at {
                log(&format!(
                    "app still running --kill-timeout-ms={} after the stop request; sending SIGKILL to its process tree",
                    self.config.kill_timeout.as_millis()
                ));
                process_tree::kill_all(self.app);
                self.killed = true;
            }
        }
    }

    fn handle_signals(&mut self) {
        let received = match self.signals.drain() {
            Ok(received) => received,
            Err(e) => {
                log(&format!("cannot read signals: {e}"));
                return;
            }
        };
        for signal in received {
            match signal {
                Signal::SIGCHLD => self.reap(),
                Signal::SIGTERM => self.begin_stop(),
                s if FORWARDED.contains(&s) => self.signal_app(s),
                _ => {}
            }
        }
    }

    /// The pod is terminating: PM2's stop, at once (a memory restart's drain
    /// is cut short; the kubelet's own grace period is running).
    fn begin_stop(&mut self) {
        self.stop_app("SIGTERM received");
    }

    /// PM2's stop: not ready at once, then the stop signal (to the process
    /// tree deepest first with `treekill`, else the main process) or the
    /// 'shutdown' message, then SIGKILL once the kill timeout has passed.
    fn stop_app(&mut self, why: &str) {
        if self.stopping {
            return;
        }
        self.stopping = true;
        self.readiness.begin_stopping();
        let kill_ms = self.config.kill_timeout.as_millis();
        let signal = self.config.stop_signal;
        let target = if self.config.treekill {
            "the app's process tree"
        } else {
            "the app (treekill off)"
        };
        if self.config.shutdown_with_message {
            match self.ipc.send_string("shutdown") {
                Ok(()) => log(&format!(
                    "{why}: sent 'shutdown' over IPC; SIGKILL in {kill_ms} ms"
                )),
                Err(e) => {
                    log(&format!(
                        "{why}: IPC unavailable ({e}); sending {signal} to {target} instead; \
                         SIGKILL in {kill_ms} ms"
                    ));
                    self.signal_tree(signal);
                }
            }
        } else {
            log(&format!(
                "{why}: sending {signal} to {target}; SIGKILL in {kill_ms} ms"
            ));
            self.signal_tree(signal);
        }
        self.kill_at = Instant::now().checked_add(self.config.kill_timeout);
    }

    fn signal_tree(&self, signal: Signal) {
        match process_tree::signal_tree(self.app, signal, self.config.treekill) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(e) => log(&format!("cannot send {signal} to the app: {e}")),
        }
    }

    /// PM2's `max_memory_restart`, done so no request is lost: readiness
    /// off, the drain, then the ordinary stop; the exit status and the
    /// termination message tell the kubelet and the operator why.
    fn check_memory(&mut self) {
        let Some(limit) = self.config.memory.clone() else {
            return;
        };
        if self.stopping || self.memory_restart.is_some() {
            self.next_memory_check = None;
            return;
        }
        let used = memory::tree_rss_bytes();
        if used <= limit.max_bytes {
            self.next_memory_check = Instant::now().checked_add(limit.interval);
            return;
        }
        log(&format!(
            "memory restart: the app uses {used} bytes, above --max-memory-bytes={}; \
             /ready answers 503 now, stop signal in {} ms",
            limit.max_bytes,
            limit.drain.as_millis()
        ));
        self.memory_restart = Some(used);
        self.next_memory_check = None;
        self.readiness.begin_stopping();
        self.drain_until = Instant::now().checked_add(limit.drain);
    }

    fn signal_app(&self, signal: Signal) {
        match kill(self.app, signal) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(e) => log(&format!("cannot send {signal} to the app: {e}")),
        }
    }

    fn handle_ipc(&mut self) {
        let received = self.ipc.receive();
        if received.ready_messages > 0 {
            if let Some(after) = self.readiness.on_ready_message(Instant::now()) {
                log(&format!(
                    "app ready after {} ms (process.send('ready'))",
                    after.as_millis()
                ));
            }
        }
    }

    /// Reaps every exited child (PID 1's duty) and records the app's status.
    fn reap(&mut self) {
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) if pid == self.app => {
                    self.app_exit_code = Some(code);
                }
                Ok(WaitStatus::Signaled(pid, signal, _)) if pid == self.app => {
                    self.app_exit_code = Some(exit_code_for(signal));
                }
                Ok(WaitStatus::StillAlive) => return,
                Ok(_) | Err(Errno::EINTR) => {}
                // ECHILD: nothing left to reap.
                Err(_) => return,
            }
        }
    }

    /// The app is gone: nothing it started may outlive it.
    fn finish(&mut self, code: i32) -> i32 {
        let code = match (self.memory_restart, &self.config.memory) {
            (Some(used), Some(limit)) => {
                self.record_memory_restart(used, limit.max_bytes, code);
                MEMORY_RESTART_EXIT_CODE
            }
            _ => code,
        };
        // Every live descendant has a chain of living parents up to the shim
        // (orphans are re-parented to it), so no children means nothing to
        // kill, and the /proc scan can be skipped.
        if has_children() {
            process_tree::kill_all(self.app);
        }
        let give_up = Instant::now() + FINAL_REAP_BUDGET;
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) if Instant::now() < give_up => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Ok(WaitStatus::StillAlive) => break,
                Ok(_) | Err(Errno::EINTR) => {}
                Err(_) => break,
            }
        }
        code
    }
}

impl Supervisor {
    /// The first line is the contract's; the kubelet keeps the file's
    /// content as the container's termination message.
    fn record_memory_restart(&self, used: u64, threshold: u64, app_code: i32) {
        let message = format!(
            "{MEMORY_RESTART_PREFIX} rss_bytes={used} threshold_bytes={threshold}\n\
             the app's process tree used more memory than max_memory_restart; \
             it was stopped gracefully (app exit status {app_code}) for the kubelet to restart it\n"
        );
        let path = &self.config.termination_log;
        match std::fs::write(path, &message) {
            Ok(()) => {}
            Err(e) => log(&format!(
                "cannot write the termination message to {}: {e}",
                path.display()
            )),
        }
        log(&format!(
            "memory restart: exiting with status {MEMORY_RESTART_EXIT_CODE}"
        ));
    }
}

/// Reaps exited children and tells whether any child is still running.
fn has_children() -> bool {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => return true,
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => return false,
        }
    }
}
