//! The API server's audit log read back (the local cluster writes one, see
//! cluster/lib/control-plane.sh): which operator replica wrote what, and whether it held the
//! leader Lease when the API server received the write. The proof of "only the leader
//! writes" comes from the server's side, not from the operator's own logs.
use std::{collections::BTreeMap, fmt, path::Path};

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde::Deserialize;

/// The extra user info the API server attaches to a bound service account token: the pod
/// the token was mounted into.
const POD_NAME_EXTRA: &str = "authentication.kubernetes.io/pod-name";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEvent {
    stage: String,
    verb: String,
    user: RawUser,
    #[serde(default, rename = "sourceIPs")]
    source_ips: Vec<String>,
    object_ref: Option<RawObjectRef>,
    response_status: Option<RawStatus>,
    request_received_timestamp: String,
    stage_timestamp: String,
    response_object: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct RawUser {
    username: String,
    #[serde(default)]
    extra: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawObjectRef {
    resource: Option<String>,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawStatus {
    code: Option<i32>,
}

/// One write of an operator replica that is not part of the election itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub received: Timestamp,
    pub pod: String,
    pub source_ip: String,
    /// e.g. `patch deployments/status chaos-x/web`.
    pub what: String,
    pub code: i32,
}

/// A successful write of the leader Lease, as the API server stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseWrite {
    /// When the API server had stored it (the response was complete).
    pub stored: Timestamp,
    pub by_pod: String,
    pub holder: String,
    /// Until when the Lease is valid: its renewTime plus its leaseDurationSeconds.
    pub valid_until: Timestamp,
}

/// A write made while the writer did not hold a valid Lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub write: Write,
    /// What the Lease said then: `None` when no Lease write preceded the write.
    pub lease: Option<LeaseWrite>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = &self.write;
        write!(
            f,
            "{} {} from {} ({}) → {}: ",
            w.received, w.pod, w.source_ip, w.what, w.code
        )?;
        match &self.lease {
            Some(l) => write!(
                f,
                "the Lease was held by {} (written {} by {}, valid until {})",
                l.holder, l.stored, l.by_pod, l.valid_until
            ),
            None => write!(f, "no Lease had been written"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("audit log line {line}: {message}")]
    Parse { line: usize, message: String },
}

/// The operator's writes and Lease writes found in an audit log.
#[derive(Debug, Default)]
pub struct OperatorAudit {
    pub writes: Vec<Write>,
    pub lease_writes: Vec<LeaseWrite>,
}

impl OperatorAudit {
    /// Reads `path` for the service accounts of `namespace`, whose Lease is `lease`.
    pub fn read(path: &Path, namespace: &str, lease: &str) -> Result<Self, AuditError> {
        let text = std::fs::read_to_string(path).map_err(|source| AuditError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, namespace, lease)
    }

    /// The events of `text` (one JSON object per line) by service accounts of `namespace`.
    pub fn parse(text: &str, namespace: &str, lease: &str) -> Result<Self, AuditError> {
        let prefix = format!("system:serviceaccount:{namespace}:");
        let mut audit = OperatorAudit::default();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() || !line.contains(&prefix) {
                continue;
            }
            let parse_error = |message: String| AuditError::Parse {
                line: i + 1,
                message,
            };
            let event: RawEvent =
                serde_json::from_str(line).map_err(|e| parse_error(e.to_string()))?;
            if event.stage != "ResponseComplete" || !event.user.username.starts_with(&prefix) {
                continue;
            }
            let pod = event
                .user
                .extra
                .get(POD_NAME_EXTRA)
                .and_then(|v| v.first())
                .cloned()
                .unwrap_or_else(|| format!("(no pod: {})", event.user.username));
            let object = event.object_ref.as_ref();
            let resource = object.and_then(|o| o.resource.clone()).unwrap_or_default();
            let name = object.and_then(|o| o.name.clone()).unwrap_or_default();
            let code = event
                .response_status
                .as_ref()
                .and_then(|s| s.code)
                .unwrap_or(0);
            let timestamp = |s: &str| {
                s.parse::<Timestamp>()
                    .map_err(|e| parse_error(format!("timestamp {s:?}: {e}")))
            };
            if resource == "leases" && name == lease {
                if (200..300).contains(&code) {
                    if let Some(lease) = lease_of(event.response_object.as_ref()) {
                        audit.lease_writes.push(LeaseWrite {
                            stored: timestamp(&event.stage_timestamp)?,
                            by_pod: pod,
                            holder: lease.0,
                            valid_until: lease.1,
                        });
                    }
                }
                continue;
            }
            let subresource = object
                .and_then(|o| o.subresource.clone())
                .map(|s| format!("/{s}"))
                .unwrap_or_default();
            let ns = object.and_then(|o| o.namespace.clone()).unwrap_or_default();
            audit.writes.push(Write {
                received: timestamp(&event.request_received_timestamp)?,
                pod,
                source_ip: event.source_ips.first().cloned().unwrap_or_default(),
                what: format!("{} {resource}{subresource} {ns}/{name}", event.verb),
                code,
            });
        }
        audit.lease_writes.sort_by_key(|l| l.stored);
        audit.writes.sort_by_key(|w| w.received);
        Ok(audit)
    }

    /// Writes received at or after `since` (the Lease history is kept whole).
    pub fn since(mut self, since: Timestamp) -> Self {
        self.writes.retain(|w| w.received >= since);
        self
    }

    /// Every write whose writer was not the holder of the Lease as last stored before the
    /// write arrived, or arrived after that Lease had expired.
    pub fn writes_without_leadership(&self) -> Vec<Violation> {
        self.writes
            .iter()
            .filter_map(|w| {
                let lease = self
                    .lease_writes
                    .iter()
                    .rev()
                    .find(|l| l.stored <= w.received)
                    .cloned();
                let held = lease
                    .as_ref()
                    .is_some_and(|l| l.holder == w.pod && w.received <= l.valid_until);
                (!held).then(|| Violation {
                    write: w.clone(),
                    lease,
                })
            })
            .collect()
    }

    /// When the Lease changed hands since `since`, and to whom.
    pub fn holder_changes(&self, since: Timestamp) -> Vec<(Timestamp, String)> {
        let mut changes: Vec<(Timestamp, String)> = Vec::new();
        let mut last: Option<&str> = None;
        for l in &self.lease_writes {
            if last != Some(l.holder.as_str()) {
                if l.stored >= since {
                    changes.push((l.stored, l.holder.clone()));
                }
                last = Some(&l.holder);
            }
        }
        changes
    }

    /// Writes per pod, with the source addresses they came from.
    pub fn writers(&self) -> BTreeMap<String, (usize, Vec<String>)> {
        let mut out: BTreeMap<String, (usize, Vec<String>)> = BTreeMap::new();
        for w in &self.writes {
            let entry = out.entry(w.pod.clone()).or_default();
            entry.0 += 1;
            if !entry.1.contains(&w.source_ip) {
                entry.1.push(w.source_ip.clone());
            }
        }
        out
    }
}

/// holderIdentity and renewTime + leaseDurationSeconds of a Lease object.
fn lease_of(object: Option<&serde_json::Value>) -> Option<(String, Timestamp)> {
    let spec = object?.get("spec")?;
    let holder = spec.get("holderIdentity")?.as_str()?.to_owned();
    let renewed: Timestamp = spec.get("renewTime")?.as_str()?.parse().ok()?;
    let duration = spec.get("leaseDurationSeconds")?.as_i64()?;
    let valid_until = renewed
        .checked_add(SignedDuration::from_secs(duration))
        .ok()?;
    Some((holder, valid_until))
}

#[cfg(test)]
mod tests;
