use super::*;
use crate::rollout::Failure;

fn spec(image: &str) -> AppSpec {
    AppSpec {
        image: image.into(),
        ..AppSpec::default()
    }
}

fn current(name: &str, pod: &str, change: &str) -> Current {
    Current {
        name: name.into(),
        pod_revision: pod.into(),
        change: change.into(),
    }
}

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(second).unwrap()
}

const ROLLING: Decision = Decision::Proceed(Phase::InProgress);
const DONE: Decision = Decision::Proceed(Phase::Complete);

#[test]
fn a_new_spec_is_a_new_revision_whose_outcome_follows_the_rollout() {
    let h = record(&[], &current("web-rev-a", "p1", "created"), &ROLLING, at(1));
    assert_eq!(h.len(), 1);
    assert_eq!(
        (h[0].revision, h[0].outcome.as_str(), h[0].change.as_str()),
        (1, PROGRESSING, "created")
    );
    assert_eq!(h[0].at, at(1).to_string());
    let h = record(&h, &current("web-rev-a", "p1", "ignored"), &DONE, at(2));
    assert_eq!((h.len(), h[0].outcome.as_str()), (1, COMPLETE));
    assert_eq!(h[0].at, at(1).to_string(), "first seen stays");

    let failed = Decision::Fail {
        failure: Failure::TooManyRestarts {
            restarts: 9,
            max: 3,
        },
        rollback_to: Some("p1".into()),
    };
    let h = record(
        &h,
        &current("web-rev-b", "p2", "image: 1 -> 2"),
        &failed,
        at(3),
    );
    assert_eq!(h.len(), 2);
    assert_eq!(
        h[0].outcome, COMPLETE,
        "a completed revision stays complete"
    );
    assert_eq!(
        (
            h[1].revision,
            h[1].outcome.as_str(),
            h[1].pod_revision.as_str()
        ),
        (2, ROLLED_BACK, "p2")
    );
    // Held: the outcome stays.
    let held = Decision::Hold {
        rollback_to: Some("p1".into()),
    };
    assert_eq!(record(&h, &current("web-rev-b", "p2", ""), &held, at(4)), h);
}

#[test]
fn a_revision_replaced_before_it_completed_is_superseded() {
    let h = record(&[], &current("a", "p1", "created"), &ROLLING, at(1));
    let h = record(&h, &current("b", "p2", "x"), &ROLLING, at(2));
    assert_eq!(h[0].outcome, SUPERSEDED);
    assert_eq!(h[1].outcome, PROGRESSING);
    let no_target = Decision::Fail {
        failure: Failure::ProgressDeadlineExceeded {
            message: "m".into(),
        },
        rollback_to: None,
    };
    assert_eq!(
        record(&h, &current("b", "p2", "x"), &no_target, at(3))[1].outcome,
        FAILED
    );
}

#[test]
fn the_history_keeps_the_last_ten_and_says_which_saved_specs_go() {
    let mut h = Vec::new();
    for i in 0..12 {
        h = record(&h, &current(&format!("rev-{i}"), "p", "c"), &DONE, at(i));
    }
    assert_eq!(h.len(), HISTORY_LIMIT);
    assert_eq!(h.first().unwrap().revision, 3);
    assert_eq!(h.last().unwrap().revision, 12);
    let next = record(&h, &current("rev-12", "p", "c"), &DONE, at(20));
    assert_eq!(dropped(&h, &next), ["rev-2"]);
    // A spec that comes back shares its saved spec with the revision it
    // pushes out, which is then kept.
    let back = record(&next, &current("rev-3", "p", "c"), &DONE, at(21));
    assert_eq!(back.last().unwrap().revision, 14);
    assert_eq!(back.first().unwrap().revision, 5);
    assert_eq!(dropped(&next, &back), Vec::<String>::new());
}

#[test]
fn the_name_hashes_the_saved_spec_without_count_or_pause() {
    let one = spec("web:1");
    let mut scaled = one.clone();
    scaled.replicas = Some(7);
    scaled.paused = Some(true);
    assert_eq!(object_name("web", &one), object_name("web", &scaled));
    assert_ne!(object_name("web", &one), object_name("web", &spec("web:2")));
    assert!(object_name("web", &one).starts_with("web-rev-"));
    assert_eq!(object_name("web", &one).len(), "web-rev-".len() + 10);
}

#[test]
fn the_summary_names_what_changed() {
    let mut before = spec("web:1");
    before.env.insert("LEVEL".into(), "debug".into());
    before.env.insert("GONE".into(), "x".into());
    let mut after = spec("web:2");
    after.env.insert("LEVEL".into(), "info".into());
    after.cron_restart = Some("@daily".into());
    after.replicas = Some(5);
    after.args = vec!["--fast".into()];
    assert_eq!(
        summary(&before, &after),
        "+args; +cronRestart; -env.GONE; env.LEVEL: debug -> info; image: web:1 -> web:2"
    );
    assert_eq!(summary(&before, &before), "no spec change");
    let long = spec(&"x".repeat(500));
    let text = summary(&before, &long);
    assert!(
        text.len() <= CHANGE_LEN + 3 && text.ends_with("..."),
        "{text}"
    );
}

#[test]
fn a_saved_spec_reads_back_without_count_or_pause() {
    use crate::build::{build, BuildOptions};
    let mut app = App::new("web", spec("web:1"));
    app.metadata.namespace = Some("shop".into());
    app.metadata.uid = Some("uid".into());
    app.spec.replicas = Some(4);
    app.spec.paused = Some(true);
    let opts = BuildOptions {
        shim_image: "readyroll:test".into(),
    };
    let desired = build(&app, &[], &opts).unwrap();
    let saved = save(&app, &desired.deployment, 3).unwrap();
    assert_eq!(saved.revision, 3);
    assert_eq!(
        saved.metadata.name.as_deref(),
        Some(object_name("web", &app.spec).as_str())
    );
    assert_eq!(
        saved.metadata.owner_references,
        desired.deployment.metadata.owner_references
    );
    assert_eq!(spec_of(&saved), Some(spec("web:1")));
}
