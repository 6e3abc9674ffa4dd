//! Stopping a component of the local cluster (the API server, the kubelet) for a fault, with
//! a guard that starts it again however the test ends: the cluster is shared, a failed case
//! must not leave it broken.
use std::{
    path::PathBuf,
    process::Command,
    time::{Duration, Instant},
};

/// cluster/chaos.sh: stops and starts components the way the cluster scripts do.
fn chaos_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cluster/chaos.sh")
}

fn run(args: &[&str]) -> Result<String, String> {
    let output = Command::new(chaos_script())
        .args(args)
        .output()
        .map_err(|e| format!("chaos.sh {}: {e}", args.join(" ")))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(format!(
            "chaos.sh {} failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// Where the API server writes its audit log.
pub fn audit_log() -> PathBuf {
    PathBuf::from(run(&["audit-log"]).unwrap_or_else(|e| panic!("{e}")))
}

/// A component stopped until [`Outage::end`], or until dropped (a panic included).
pub struct Outage {
    component: &'static str,
    began: Instant,
    ended: bool,
}

impl Outage {
    /// Stops `component` (`kube-apiserver` or `kubelet`); the outage counts from when it
    /// has stopped.
    pub fn begin(component: &'static str) -> Outage {
        // The guard exists before the stop, so a stop that fails half-way is repaired too.
        let mut outage = Outage {
            component,
            began: Instant::now(),
            ended: false,
        };
        run(&["stop", component]).unwrap_or_else(|e| panic!("{e}"));
        eprintln!(
            "chaos: {component} stopped (took {:.1} s)",
            outage.began.elapsed().as_secs_f64()
        );
        outage.began = Instant::now();
        outage
    }

    /// Starts the component again and waits until it is ready (the API server answers
    /// /readyz, the node is Ready). Returns how long it was down.
    pub fn end(mut self) -> Duration {
        self.ended = true;
        let down = self.began.elapsed();
        let restart = Instant::now();
        run(&["start", self.component]).unwrap_or_else(|e| panic!("{e}"));
        eprintln!(
            "chaos: {} was down {:.1} s, ready {:.1} s after its start",
            self.component,
            down.as_secs_f64(),
            restart.elapsed().as_secs_f64()
        );
        down
    }
}

impl Drop for Outage {
    fn drop(&mut self) {
        if !self.ended {
            eprintln!("chaos: restoring {} after a failure", self.component);
            if let Err(e) = run(&["start", self.component]) {
                eprintln!("chaos: could not restore {}: {e}", self.component);
            }
        }
    }
}
