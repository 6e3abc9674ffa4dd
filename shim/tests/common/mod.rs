//! Helpers for running the real shim binary against the Node fixture app.
#![allow(dead_code)] // each test binary uses a different subset

use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// The binary under test: the one cargo built for this test run, or another
/// build (e.g. the static release binary) named by `READYROLL_SHIM_BIN`.
pub fn shim() -> String {
    std::env::var("READYROLL_SHIM_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_readyroll-shim").to_string())
}
pub const NODE: &str = "node";

pub fn app_js() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/app.js")
}

/// A port that was free a moment ago (the kernel hands out ports in a cycle,
/// so it is not reused right away).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral port")
        .port()
}

/// A fresh, empty directory for one test.
pub fn scratch_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("readyroll-shim-it-{test}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// Polls `check` every 10 ms until it returns `Some` or `timeout` passes.
pub fn wait_for<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if Instant::now() >= end {
            return None;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// One plain HTTP/1.1 GET; `None` when nothing answers.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    Some((status, body))
}

pub fn ready_status(port: u16) -> Option<u16> {
    http_get(port, "/ready").map(|(status, _)| status)
}

/// A running shim with the fixture app, its stderr collected in the background.
pub struct Shim {
    pub child: Child,
    pub probe_port: u16,
    pub marker: PathBuf,
    pub started: Instant,
    stderr: Arc<Mutex<String>>,
}

pub struct ShimBuilder {
    flags: Vec<String>,
    env: HashMap<String, String>,
    wrapper: Vec<String>,
    command: Vec<String>,
    dir: PathBuf,
}

impl ShimBuilder {
    pub fn new(test: &str) -> Self {
        ShimBuilder {
            flags: Vec::new(),
            env: HashMap::new(),
            wrapper: Vec::new(),
            command: vec![NODE.to_string(), app_js().display().to_string()],
            dir: scratch_dir(test),
        }
    }

    pub fn flag(mut self, flag: &str) -> Self {
        self.flags.push(flag.to_string());
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.insert(key.to_string(), value.to_string());
        self
    }

    /// Runs the shim under another program, e.g. `unshare --pid --fork`.
    pub fn wrapped_in(mut self, wrapper: &[&str]) -> Self {
        self.wrapper = wrapper.iter().map(|s| s.to_string()).collect();
        self
    }

    /// The test's scratch directory (the marker file lives here too).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// No command after `--`: the app is a `--script`.
    pub fn no_command(mut self) -> Self {
        self.command.clear();
        self
    }

    pub fn command(mut self, command: &[&str]) -> Self {
        self.command = command.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn spawn(self) -> Shim {
        let probe_port = free_port();
        let marker = self.dir.join("marker");
        let mut argv: Vec<String> = self.wrapper.clone();
        argv.push(shim());
        argv.extend(self.flags);
        argv.push("--probe-addr".to_string());
        argv.push(format!("127.0.0.1:{probe_port}"));
        argv.push("--".to_string());
        argv.extend(self.command);
        let mut child = Command::new(&argv[0])
            .args(&argv[1..])
            .envs(&self.env)
            .env("MARKER", &marker)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the shim");
        let started = Instant::now();
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().expect("stderr pipe");
        let sink = Arc::clone(&stderr);
        thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                eprintln!("[shim] {line}");
                sink.lock().expect("stderr lock").push_str(&(line + "\n"));
            }
        });
        Shim {
            child,
            probe_port,
            marker,
            started,
            stderr,
        }
    }
}

impl Shim {
    pub fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    pub fn signal(&self, signal: Signal) {
        kill(self.pid(), signal).expect("signal the shim");
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr lock").clone()
    }

    pub fn marker_lines(&self) -> Vec<String> {
        fs::read_to_string(&self.marker)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Waits until the app runs with all its handlers installed.
    pub fn wait_started(&self) {
        let started = wait_for(Duration::from_secs(10), || {
            self.marker_lines()
                .iter()
                .any(|l| l.starts_with("started "))
                .then_some(())
        });
        assert!(
            started.is_some(),
            "app did not start; stderr:\n{}",
            self.stderr()
        );
    }

    /// The app's `started ...` marker line.
    pub fn started_line(&self) -> Option<String> {
        self.marker_lines()
            .into_iter()
            .find(|l| l.starts_with("started "))
    }

    /// Waits until the app has written `line` to its marker file.
    pub fn wait_for_marker(&self, line: &str, timeout: Duration) -> bool {
        wait_for(timeout, || {
            self.marker_lines().iter().any(|l| l == line).then_some(())
        })
        .is_some()
    }

    pub fn wait_for_stderr(&self, text: &str, timeout: Duration) -> bool {
        wait_for(timeout, || self.stderr().contains(text).then_some(())).is_some()
    }

    /// Waits until `/ready` answers `status`; returns when it first did.
    pub fn wait_for_ready_status(&self, status: u16, timeout: Duration) -> Option<Instant> {
        wait_for(timeout, || {
            (ready_status(self.probe_port) == Some(status)).then(Instant::now)
        })
    }

    /// The shim's exit status, failing the test if it does not exit in time.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let status = wait_for(timeout, || self.child.try_wait().expect("try_wait"));
        match status {
            Some(status) => status,
            None => {
                let _ = self.child.kill();
                panic!(
                    "shim did not exit within {timeout:?}; stderr:\n{}",
                    self.stderr()
                );
            }
        }
    }

    /// Pids the app reported for its children (`child PID` marker lines).
    pub fn child_pids(&self) -> Vec<i32> {
        self.marker_lines()
            .iter()
            .filter_map(|l| l.strip_prefix("child ")?.parse().ok())
            .collect()
    }
}

impl Drop for Shim {
    fn drop(&mut self) {
        // A test that ends with the shim running (or fails) must not leave the
        // app behind: the shim's own stop kills the tree; SIGKILL is the last resort.
        if let Ok(None) = self.child.try_wait() {
            let _ = kill(self.pid(), Signal::SIGTERM);
            if wait_for(Duration::from_secs(5), || {
                self.child.try_wait().ok().flatten()
            })
            .is_none()
            {
                let _ = kill(self.pid(), Signal::SIGKILL);
                let _ = self.child.wait();
            }
        }
    }
}

/// `(state, ppid)` of a process as /proc shows it, `None` once it is gone.
pub fn proc_state(pid: i32) -> Option<(char, i32)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut rest = stat.get(stat.rfind(')')? + 1..)?.split_ascii_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some((state, ppid))
}

/// `(pid, state, command name)` of every process whose parent is `parent`.
pub fn children_of(parent: i32) -> Vec<(i32, char, String)> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let (state, ppid) = proc_state(pid)?;
            let comm = fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
            (ppid == parent).then(|| (pid, state, comm.trim().to_string()))
        })
        .collect()
}

/// Exit code, or 128+signal when the process was killed, as a shell reports it.
pub fn shell_code(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .expect("exit status has a code or a signal")
}
