use super::*;

const NS: &str = "readyroll-system";
const LEASE: &str = "readyroll-leader";

fn lease_event(at: &str, pod: &str, holder: &str, renewed: &str, code: i32) -> String {
    serde_json::json!({
        "stage": "ResponseComplete", "verb": "update",
        "user": {"username": format!("system:serviceaccount:{NS}:readyroll"),
                 "extra": {POD_NAME_EXTRA: [pod]}},
        "sourceIPs": ["10.88.0.7"],
        "objectRef": {"resource": "leases", "namespace": NS, "name": LEASE},
        "responseStatus": {"code": code},
        "requestReceivedTimestamp": at, "stageTimestamp": at,
        "responseObject": {"spec": {"holderIdentity": holder, "renewTime": renewed,
                                     "leaseDurationSeconds": 8}},
    })
    .to_string()
}

fn write_event(at: &str, pod: &str) -> String {
    serde_json::json!({
        "stage": "ResponseComplete", "verb": "patch",
        "user": {"username": format!("system:serviceaccount:{NS}:readyroll"),
                 "extra": {POD_NAME_EXTRA: [pod]}},
        "sourceIPs": ["10.88.0.9"],
        "objectRef": {"resource": "deployments", "namespace": "app-ns", "name": "web"},
        "responseStatus": {"code": 200},
        "requestReceivedTimestamp": at, "stageTimestamp": at,
    })
    .to_string()
}

fn audit(lines: &[String]) -> OperatorAudit {
    OperatorAudit::parse(&lines.join("\n"), NS, LEASE).expect("parses")
}

#[test]
fn writes_of_the_holder_within_its_lease_are_allowed() {
    let a = audit(&[
        lease_event(
            "2026-01-01T00:00:00Z",
            "a",
            "a",
            "2026-01-01T00:00:00Z",
            200,
        ),
        write_event("2026-01-01T00:00:05Z", "a"),
    ]);
    assert_eq!(a.writes.len(), 1);
    assert!(a.writes_without_leadership().is_empty());
}

#[test]
fn a_write_by_the_standby_or_after_expiry_or_before_any_lease_is_a_violation() {
    let a = audit(&[
        write_event("2025-12-31T23:59:59Z", "a"),
        lease_event(
            "2026-01-01T00:00:00Z",
            "a",
            "a",
            "2026-01-01T00:00:00Z",
            200,
        ),
        write_event("2026-01-01T00:00:01Z", "b"),
        write_event("2026-01-01T00:00:09Z", "a"),
        // A refused Lease write changes nothing.
        lease_event(
            "2026-01-01T00:00:10Z",
            "b",
            "b",
            "2026-01-01T00:00:10Z",
            409,
        ),
        write_event("2026-01-01T00:00:11Z", "b"),
    ]);
    let pods: Vec<(String, bool)> = a
        .writes_without_leadership()
        .into_iter()
        .map(|v| (v.write.pod, v.lease.is_some()))
        .collect();
    let expected = [("a", false), ("b", true), ("a", true), ("b", true)];
    assert_eq!(pods, expected.map(|(p, l)| (p.to_owned(), l)));
}

#[test]
fn holder_changes_and_the_window_are_taken_from_the_lease_writes() {
    let a = audit(&[
        lease_event(
            "2026-01-01T00:00:00Z",
            "a",
            "a",
            "2026-01-01T00:00:00Z",
            200,
        ),
        lease_event(
            "2026-01-01T00:00:04Z",
            "a",
            "a",
            "2026-01-01T00:00:04Z",
            200,
        ),
        write_event("2026-01-01T00:00:05Z", "a"),
        lease_event(
            "2026-01-01T00:00:13Z",
            "b",
            "b",
            "2026-01-01T00:00:13Z",
            200,
        ),
        write_event("2026-01-01T00:00:14Z", "b"),
    ])
    .since("2026-01-01T00:00:10Z".parse().expect("timestamp"));
    assert_eq!(a.writes.len(), 1);
    assert!(a.writes_without_leadership().is_empty());
    let changes = a.holder_changes("2026-01-01T00:00:01Z".parse().expect("timestamp"));
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].1, "b");
    assert_eq!(a.writers()["b"], (1, vec!["10.88.0.9".to_owned()]));
}

#[test]
fn other_users_and_stages_are_ignored() {
    let mut other = write_event("2026-01-01T00:00:05Z", "a");
    other = other.replace(NS, "elsewhere");
    let received =
        write_event("2026-01-01T00:00:05Z", "a").replace("ResponseComplete", "ResponseStarted");
    let a = audit(&[other, received]);
    assert!(a.writes.is_empty());
}
