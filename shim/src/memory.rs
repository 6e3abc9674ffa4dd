//! PM2's `max_memory_restart`: how much memory the app uses. PM2 samples the
//! main process with `pidusage`; the shim sums the resident set of every
//! process below it (the app, its children, orphans it left), because in a
//! container all of them count against the same limit.

use std::fs;

use crate::process_tree::{live_descendants, scan_proc};

/// `VmRSS` of a `/proc/PID/status` text, in bytes.
pub fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_ascii_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Resident bytes of every live descendant of the shim. Processes that exit
/// between the scan and the read simply count 0.
pub fn tree_rss_bytes() -> u64 {
    let me = std::process::id() as i32;
    live_descendants(me, &scan_proc())
        .into_iter()
        .filter_map(|pid| fs::read_to_string(format!("/proc/{pid}/status")).ok())
        .filter_map(|status| parse_vm_rss(&status))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vm_rss_in_bytes() {
        let status = "Name:\tnode\nVmPeak:\t  999 kB\nVmRSS:\t   51234 kB\nThreads:\t7\n";
        assert_eq!(parse_vm_rss(status), Some(51234 * 1024));
        assert_eq!(parse_vm_rss("Name:\tkthreadd\n"), None);
    }

    #[test]
    fn a_child_is_measured_and_sampling_is_cheap() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .expect("spawn sleep");
        std::thread::sleep(std::time::Duration::from_millis(50));
        let started = std::time::Instant::now();
        let rounds = 20;
        let mut bytes = 0;
        for _ in 0..rounds {
            bytes = tree_rss_bytes();
        }
        let each = started.elapsed() / rounds;
        let _ = child.kill();
        let _ = child.wait();
        eprintln!("tree_rss_bytes: {bytes} bytes, {each:?} per sample");
        assert!(bytes > 0, "the child's memory is counted");
    }
}
