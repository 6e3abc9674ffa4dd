use std::collections::BTreeMap;

use super::*;
use crate::load::ClientTally;

fn tally(requests: u64, failed: u64, failures: &[(&str, u64)]) -> Tally {
    Tally {
        requests,
        ok: requests - failed,
        failed,
        retried: 1,
        keep_alive: ClientTally {
            requests: requests / 2,
            failed: 0,
        },
        new_connection: ClientTally {
            requests: requests - requests / 2,
            failed,
        },
        failures: failures
            .iter()
            .map(|(k, n)| ((*k).to_owned(), *n))
            .collect(),
        versions: BTreeMap::from([("v1".to_owned(), requests - failed)]),
        hosts: BTreeMap::new(),
    }
}

fn record() -> BenchRecord {
    let rollout = |change: &str, settled_ms, failed| RolloutRecord {
        change: change.to_owned(),
        from_version: "v1".to_owned(),
        to_version: "v2".to_owned(),
        settled_ms,
        old_pods_gone_ms: settled_ms + 5_000,
        tally: tally(1000, failed, &[("connection refused", failed)]),
    };
    BenchRecord {
        test: "node_example".to_owned(),
        recorded_at: "2025-01-02T03:04:05Z".to_owned(),
        environment: Environment {
            kubernetes: "v1.34.4".to_owned(),
            node: "kubelet v1.34.4".to_owned(),
            host_cpus: 2,
            operator_image: "readyroll.dev/readyroll:dev".to_owned(),
            source: "0123456789ab".to_owned(),
        },
        test_duration_ms: 90_000,
        scenarios: vec![Scenario {
            name: "plain Deployment".to_owned(),
            setup: "defaults".to_owned(),
            load: LoadSummary {
                duration_ms: 60_000,
                keep_alive_workers: 2,
                new_connection_workers: 2,
                rate_per_worker: 50.0,
                ended_by: EndedBy::Stopped,
            },
            total: tally(3000, 7, &[("connection refused", 7)]),
            rollouts: vec![
                rollout("image", 20_000, 3),
                rollout("env", 12_000, 4),
                rollout("restart", 31_000, 0),
            ],
        }],
        measurements: vec![Measurement {
            name: "kill".to_owned(),
            expected: "12 s".to_owned(),
            measured_ms: 12_345,
            detail: "SIGKILL".to_owned(),
        }],
        faults: Vec::new(),
    }
}

#[test]
fn renders_totals_rollouts_and_measurements() {
    let text = render(&[record()]);
    assert!(text.contains("### `node_example`"), "{text}");
    assert!(text.contains("from readyroll `0123456789ab`"), "{text}");
    assert!(
        text.contains("| `node_example` | plain Deployment | 3 | 3000 | 7 | 7 connection refused | 1 | 20.0 s / 31.0 s | 25.0 s / 36.0 s |"),
        "{text}"
    );
    assert!(
        text.contains("| 2 | env | v1 → v2 | 12.0 s | 17.0 s | 1000 | 4 | 4 connection refused |"),
        "{text}"
    );
    assert!(
        text.contains("| kill | 12 s | 12.35 s | SIGKILL |"),
        "{text}"
    );
}

#[test]
fn records_round_trip_through_their_directory() {
    let dir = std::env::temp_dir().join(crate::names::unique_name("bench-test"));
    let mut second = record();
    second.test = "node_a".to_owned();
    record().write(&dir).expect("write");
    second.write(&dir).expect("write");
    std::fs::write(dir.join("notes.txt"), "ignored").expect("write");
    let read = BenchRecord::read_all(&dir).expect("read");
    std::fs::remove_dir_all(&dir).expect("clean up");
    let names: Vec<&str> = read.iter().map(|r| r.test.as_str()).collect();
    assert_eq!(names, ["node_a", "node_example"]);
    assert_eq!(read[1].scenarios[0].rollouts[2].settled_ms, 31_000);
}

#[test]
fn a_broken_record_names_its_file() {
    let dir = std::env::temp_dir().join(crate::names::unique_name("bench-test"));
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("broken.json"), "{").expect("write");
    let err = BenchRecord::read_all(&dir).expect_err("broken");
    std::fs::remove_dir_all(&dir).expect("clean up");
    assert!(err.to_string().contains("broken.json"), "{err}");
}

#[test]
fn only_the_generated_section_is_replaced() {
    let path = Path::new("BENCHMARKS.md");
    let doc = format!("# Title\nmethod\n{BEGIN_MARKER}\nold numbers\n{END_MARKER}\ntail\n");
    let new = replace_generated(&doc, "new numbers\n", path).expect("markers present");
    assert_eq!(
        new,
        format!("# Title\nmethod\n{BEGIN_MARKER}\n\nnew numbers\n{END_MARKER}\ntail\n")
    );
    assert_eq!(
        replace_generated(&new, "new numbers\n", path).expect("again"),
        new
    );
    let err = replace_generated("# no markers", "x", path).expect_err("no markers");
    assert!(err.to_string().contains("BENCHMARKS.md"), "{err}");
}

#[test]
fn headline_tests_come_first_and_scenarios_without_rollouts_have_no_table() {
    let mut failures = record();
    failures.test = "node_failures_a".to_owned();
    failures.scenarios[0].rollouts.clear();
    let mut headline = record();
    headline.test = "node_zero_downtime".to_owned();
    let text = render(&[failures, headline]);
    let first = text
        .find("### `node_zero_downtime`")
        .expect("headline rendered");
    let second = text.find("### `node_failures_a`").expect("other rendered");
    assert!(first < second, "{text}");
    let failures_part = &text[second..];
    assert!(!failures_part.contains("| # | change |"), "{failures_part}");
}

#[test]
fn the_side_by_side_table_has_a_column_per_contestant() {
    let mut headline = record();
    headline.test = "node_shim".to_owned();
    let mut plain = headline.scenarios[0].clone();
    plain.name = "plain Deployment".to_owned();
    plain.total = tally(900, 45, &[("refused", 45)]);
    headline.scenarios.push(plain.clone());
    let mut two = record();
    two.test = "node_zero_downtime".to_owned();
    two.scenarios.push(plain.clone());
    let mut argo = plain;
    argo.name = "Argo Rollouts Rollout (its defaults)".to_owned();
    argo.total = tally(800, 30, &[("refused", 30)]);
    two.scenarios.push(argo);
    let text = render(&[headline, two, record()]);
    let table = &text[text
        .find("**Zero-downtime side by side**")
        .expect("the table")..];
    let rollouts = record().scenarios[0].rollouts.len();
    let per = |failed: f64| format!("{:.1} per rollout", failed / rollouts as f64);
    let zero = table
        .lines()
        .find(|l| l.starts_with("| `node_zero_downtime`"))
        .expect("a row per headline test");
    assert!(
        zero.contains(&format!("45 of 900 ({})", per(45.0))),
        "{zero}"
    );
    assert!(
        zero.ends_with(&format!("30 of 800 ({}) |", per(30.0))),
        "{zero}"
    );
    let shim = table
        .lines()
        .find(|l| l.starts_with("| `node_shim`"))
        .expect("node_shim row");
    assert!(shim.ends_with("| not run |"), "{shim}");
    let rows = table
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .count();
    assert_eq!(
        rows,
        2 + 2,
        "header, rule and the two headline rows: {table}"
    );
}

#[test]
fn faults_survived_are_one_table_before_the_details() {
    let mut chaos = record();
    chaos.test = "chaos_kill".to_owned();
    chaos.scenarios.clear();
    chaos.faults = vec![FaultRecord {
        scenario: "operator SIGKILLed".to_owned(),
        rollouts: 6,
        requests: 12_000,
        failed: 0,
        recovery_ms: 9_500,
        operator_writes: 120,
        writes_without_lease: 0,
        detail: "seed 7".to_owned(),
    }];
    let text = render(&[record(), chaos]);
    let table = text.find("**Faults survived**").expect("a faults table");
    assert!(
        table < text.find("### `chaos_kill`").expect("details"),
        "{text}"
    );
    assert!(
        text.contains(
            "| `chaos_kill` | operator SIGKILLed | 6 | 12000 | 0 | 9.5 s | 120 / 0 | seed 7 |"
        ),
        "{text}"
    );
    assert!(!render(&[record()]).contains("Faults survived"));
}
