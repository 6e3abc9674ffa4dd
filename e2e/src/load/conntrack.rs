//! What the node's conntrack table holds for a connection that could not be opened, so that
//! a failed connect says where its SYN went: to a pod that is gone (an entry left by an
//! earlier connection of the same 4-tuple), to a live pod that did not answer, or nowhere.
use std::{
    net::SocketAddr,
    process::{Command, Stdio},
    time::Duration,
};

/// Longest wait for `conntrack`; a failure report must not hold the worker for long.
const QUERY_TIMEOUT: Duration = Duration::from_secs(3);

/// The entries for TCP from `source_port` to `target`'s port, one per line, or why there
/// is nothing to show.
pub async fn entries_towards(target: SocketAddr, source_port: u16) -> String {
    let query = tokio::task::spawn_blocking(move || {
        Command::new("conntrack")
            .args(["-L", "-p", "tcp"])
            .args(["--sport", &source_port.to_string()])
            .args(["--dport", &target.port().to_string()])
            .stdin(Stdio::null())
            .output()
    });
    match tokio::time::timeout(QUERY_TIMEOUT, query).await {
        Err(_) => format!("conntrack did not answer within {QUERY_TIMEOUT:?}"),
        Ok(Err(e)) => format!("conntrack query failed: {e}"),
        Ok(Ok(Err(e))) => format!("conntrack not run: {e}"),
        Ok(Ok(Ok(output))) if !output.status.success() => format!(
            "conntrack -L: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ),
        Ok(Ok(Ok(output))) => {
            let text = String::from_utf8_lossy(&output.stdout);
            let lines: Vec<&str> = text.lines().map(str::trim).collect();
            if lines.is_empty() {
                "no conntrack entry".into()
            } else {
                lines.join(" | ")
            }
        }
    }
}
