use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{PodCondition, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

use super::*;

const OLD: &str = "aaaaaaaaaa";
const NEW: &str = "bbbbbbbbbb";

/// A running pod of `revision`, created at second `created`, holding
/// `index` with the cost an assignment gives it.
fn pod(name: &str, revision: &str, created: i64, index: Option<u32>) -> PodFacts {
    PodFacts {
        name: name.into(),
        uid: Some(format!("uid-{name}")),
        revision: Some(revision.into()),
        ready: true,
        created: Some(Timestamp::from_second(created).unwrap()),
        index,
        cost: index.map(|i| -(i as i32)),
        ..Default::default()
    }
}

fn terminating(mut p: PodFacts) -> PodFacts {
    p.terminating = true;
    p
}

fn settled(n: u32, revision: &str) -> Vec<PodFacts> {
    (0..n)
        .map(|i| pod(&format!("{revision}-{i}"), revision, i64::from(i), Some(i)))
        .collect()
}

fn patch(name: &str, index: Option<u32>, cost: Option<i32>) -> PodPatch {
    PodPatch {
        name: name.into(),
        uid: Some(format!("uid-{name}")),
        index,
        cost,
    }
}

/// Applies the patches, as the API server would.
fn applied(mut pods: Vec<PodFacts>, assignment: &Assignment) -> Vec<PodFacts> {
    for p in &assignment.patches {
        let pod = pods.iter_mut().find(|x| x.name == p.name).unwrap();
        if p.index.is_some() {
            pod.index = p.index;
        }
        if p.cost.is_some() {
            pod.cost = p.cost;
        }
    }
    pods
}

/// Indices of the running (not terminating) pods, sorted.
fn running_indices(pods: &[PodFacts]) -> Vec<u32> {
    let mut v: Vec<u32> = pods
        .iter()
        .filter(|p| !p.terminating && !p.finished)
        .filter_map(|p| p.index)
        .collect();
    v.sort_unstable();
    v
}

#[test]
fn new_pods_get_the_lowest_free_indices_oldest_first() {
    let pods = vec![
        pod("c", OLD, 3, None),
        pod("a", OLD, 1, None),
        pod("b", OLD, 2, None),
    ];
    let a = assign(3, OLD, &pods);
    assert_eq!(
        a.patches,
        [
            patch("c", Some(2), Some(-2)),
            patch("a", Some(0), Some(0)),
            patch("b", Some(1), Some(-1)),
        ]
    );
    assert!(a.shared.is_empty());
    assert_eq!(running_indices(&applied(pods, &a)), [0, 1, 2]);
}

#[test]
fn settled_pods_need_nothing() {
    let pods = settled(3, OLD);
    assert_eq!(assign(3, OLD, &pods), Assignment::default());
    assert!(!needs_index(3, OLD, &pods));
    assert!(needs_index(3, OLD, &[pod("x", OLD, 0, None)]));
}

#[test]
fn existing_indices_are_kept_and_gaps_filled() {
    let mut pods = settled(3, OLD);
    pods.remove(1);
    pods.push(pod("late", OLD, 9, None));
    let a = assign(3, OLD, &pods);
    assert_eq!(a.patches, [patch("late", Some(1), Some(-1))]);
}

#[test]
fn a_rollout_hands_each_index_over_and_marks_the_old_pod_first() {
    // maxSurge 1: the Deployment adds one new pod while all old ones run.
    let mut pods = settled(3, OLD);
    pods.push(pod("new-a", NEW, 10, None));
    let a = assign(3, NEW, &pods);
    assert_eq!(
        a.patches,
        [
            patch("aaaaaaaaaa-0", None, Some(FIRST_TO_GO)),
            patch("new-a", Some(0), Some(0)),
        ],
        "the old pod is marked before the new one takes its index"
    );
    assert!(a.shared.is_empty(), "a hand-over is not a duplicate");
    let pods = applied(pods, &a);
    assert_eq!(assign(3, NEW, &pods), Assignment::default());

    // The ReplicaSet controller deletes the marked pod; the next new pod
    // takes over index 1.
    let mut pods: Vec<PodFacts> = pods
        .into_iter()
        .map(|p| {
            if p.cost == Some(FIRST_TO_GO) {
                terminating(p)
            } else {
                p
            }
        })
        .collect();
    pods.push(pod("new-b", NEW, 11, None));
    let a = assign(3, NEW, &pods);
    assert_eq!(
        a.patches,
        [
            patch("aaaaaaaaaa-1", None, Some(FIRST_TO_GO)),
            patch("new-b", Some(1), Some(-1)),
        ]
    );
    let mut pods: Vec<PodFacts> = applied(pods, &a)
        .into_iter()
        .filter(|p| !p.terminating)
        .map(|p| {
            if p.cost == Some(FIRST_TO_GO) {
                terminating(p)
            } else {
                p
            }
        })
        .collect();
    pods.push(pod("new-c", NEW, 12, None));
    let a = assign(3, NEW, &pods);
    let pods: Vec<PodFacts> = applied(pods, &a)
        .into_iter()
        .filter(|p| p.cost != Some(FIRST_TO_GO))
        .collect();
    // Once the last old pod is gone: new pods only, 0..2.
    assert!(pods.iter().all(|p| p.revision.as_deref() == Some(NEW)));
    assert_eq!(running_indices(&pods), [0, 1, 2]);
}

#[test]
fn a_hand_over_whose_index_write_failed_is_retried_on_the_same_old_pod() {
    let mut pods = settled(3, OLD);
    pods[2].cost = Some(FIRST_TO_GO);
    pods.push(pod("new-a", NEW, 10, None));
    let a = assign(3, NEW, &pods);
    assert_eq!(a.patches, [patch("new-a", Some(2), Some(-2))]);
}

#[test]
fn a_mark_with_no_new_pod_behind_it_is_lifted() {
    let mut pods = settled(2, OLD);
    pods[0].cost = Some(FIRST_TO_GO);
    let a = assign(2, NEW, &pods);
    assert_eq!(a.patches, [patch("aaaaaaaaaa-0", None, Some(0))]);
}

#[test]
fn a_wider_surge_hands_over_several_indices_at_once() {
    let mut pods = settled(3, OLD);
    pods.push(pod("new-a", NEW, 10, None));
    pods.push(pod("new-b", NEW, 11, None));
    let a = assign(3, NEW, &pods);
    assert_eq!(
        a.patches,
        [
            patch("aaaaaaaaaa-0", None, Some(FIRST_TO_GO)),
            patch("aaaaaaaaaa-1", None, Some(FIRST_TO_GO)),
            patch("new-a", Some(0), Some(0)),
            patch("new-b", Some(1), Some(-1)),
        ]
    );
}

#[test]
fn scale_down_removes_the_highest_indices_first() {
    // Costs 0, -1, -2: the ReplicaSet controller deletes index 2, then 1,
    // and instance 0 (the one PM2 apps run singleton work on) stays.
    let pods = settled(3, OLD);
    assert_eq!(assign(1, OLD, &pods), Assignment::default());
    let mut by_cost: Vec<(i32, u32)> = pods
        .iter()
        .map(|p| (p.cost.unwrap(), p.index.unwrap()))
        .collect();
    by_cost.sort_unstable();
    assert_eq!(by_cost, [(-2, 2), (-1, 1), (0, 0)]);
}

#[test]
fn scale_up_while_old_pods_terminate_reuses_their_indices() {
    let mut pods = settled(3, OLD);
    pods[1] = terminating(pods[1].clone());
    pods[2] = terminating(pods[2].clone());
    pods.push(pod("up-a", OLD, 10, None));
    pods.push(pod("up-b", OLD, 11, None));
    let a = assign(3, OLD, &pods);
    assert_eq!(
        a.patches,
        [
            patch("up-a", Some(1), Some(-1)),
            patch("up-b", Some(2), Some(-2)),
        ],
        "terminating pods are never patched"
    );
    assert_eq!(running_indices(&applied(pods, &a)), [0, 1, 2]);
}

#[test]
fn free_indices_are_preferred_to_those_of_terminating_pods() {
    let mut pods = settled(2, OLD);
    pods[0] = terminating(pods[0].clone());
    pods.push(pod("up", OLD, 10, None));
    let a = assign(3, OLD, &pods);
    assert_eq!(a.patches, [patch("up", Some(2), Some(-2))]);
}

#[test]
fn duplicates_are_reported_and_all_but_the_oldest_go_first() {
    let mut pods = settled(3, OLD);
    pods.push(pod("dup", OLD, 5, Some(1)));
    let a = assign(3, OLD, &pods);
    assert_eq!(
        a.shared,
        BTreeMap::from([(1, vec!["aaaaaaaaaa-1".to_string(), "dup".to_string()])])
    );
    assert_eq!(a.patches, [patch("dup", None, Some(FIRST_TO_GO))]);
    // A new-revision pod sharing with another new-revision pod is no
    // hand-over either.
    let mut pods = settled(2, NEW);
    pods.push(pod("dup", NEW, 5, Some(0)));
    assert_eq!(assign(2, NEW, &pods).shared.len(), 1);
}

#[test]
fn finished_pods_hold_nothing_and_bad_annotations_are_rewritten() {
    let mut pods = settled(2, OLD);
    pods[0].finished = true;
    pods.push(pod("next", OLD, 10, None));
    pods[1].index = None; // the annotation held "x"
    pods[1].cost = None;
    let a = assign(2, OLD, &pods);
    assert_eq!(
        a.patches,
        [
            patch("aaaaaaaaaa-1", Some(0), Some(0)),
            patch("next", Some(1), Some(-1)),
        ]
    );
}

#[test]
fn surplus_pods_get_an_index_above_the_range_rather_than_a_taken_one() {
    let mut pods = settled(2, NEW);
    pods.push(pod("extra", NEW, 10, None));
    let a = assign(2, NEW, &pods);
    assert_eq!(a.patches, [patch("extra", Some(2), Some(-2))]);
    assert!(assign(0, NEW, &[pod("x", NEW, 0, None)]).patches[0].index == Some(0));
}

#[test]
fn the_merge_patch_sets_the_annotations_for_that_pod_only() {
    assert_eq!(
        patch("web-1", Some(1), Some(-1)).merge_patch(),
        serde_json::json!({"metadata": {
            "uid": "uid-web-1",
            "annotations": {
                "readyroll.dev/instance": "1",
                "controller.kubernetes.io/pod-deletion-cost": "-1",
            }
        }})
    );
    assert_eq!(
        patch("web-0", None, Some(FIRST_TO_GO)).merge_patch(),
        serde_json::json!({"metadata": {
            "uid": "uid-web-0",
            "annotations": {"controller.kubernetes.io/pod-deletion-cost": "-2147483648"}
        }})
    );
}

#[test]
fn facts_come_from_the_pod() {
    let pod = Pod {
        metadata: ObjectMeta {
            name: Some("web-x".into()),
            uid: Some("u1".into()),
            creation_timestamp: Some(Time(Timestamp::from_second(7).unwrap())),
            deletion_timestamp: Some(Time(Timestamp::from_second(9).unwrap())),
            annotations: Some(BTreeMap::from([
                (REVISION_ANNOTATION.to_string(), NEW.to_string()),
                (INDEX_ANNOTATION.to_string(), "2".to_string()),
                (DELETION_COST_ANNOTATION.to_string(), "-2".to_string()),
            ])),
            ..Default::default()
        },
        status: Some(PodStatus {
            phase: Some("Running".into()),
            conditions: Some(vec![PodCondition {
                type_: "Ready".into(),
                status: "True".into(),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let facts = PodFacts::of(&pod);
    assert_eq!(
        facts,
        PodFacts {
            name: "web-x".into(),
            uid: Some("u1".into()),
            revision: Some(NEW.into()),
            ready: true,
            terminating: true,
            finished: false,
            created: Some(Timestamp::from_second(7).unwrap()),
            index: Some(2),
            cost: Some(-2),
        }
    );
    let bare = PodFacts::of(&Pod {
        status: Some(PodStatus {
            phase: Some("Failed".into()),
            ..Default::default()
        }),
        ..Default::default()
    });
    assert!(bare.finished && !bare.ready && bare.index.is_none());
}

mod in_the_plan {
    use super::*;
    use crate::build::{self, BuildOptions};
    use crate::crd::{App, AppSpec, Instances};
    use crate::observed::Observed;
    use crate::plan::{plan, Object, Step};

    fn app(script: Option<&str>) -> App {
        let mut app = App::new(
            "web",
            AppSpec {
                image: "web:1".into(),
                instances: Some(Instances::Count(3)),
                script: script.map(str::to_string),
                ..Default::default()
            },
        );
        app.metadata.namespace = Some("shop".into());
        app.metadata.uid = Some("app-uid".into());
        app
    }

    fn opts() -> BuildOptions {
        BuildOptions {
            shim_image: "readyroll:test".into(),
        }
    }

    fn now() -> Timestamp {
        "2030-01-01T12:00:00Z".parse().unwrap()
    }

    fn kinds(steps: &[Step]) -> Vec<&'static str> {
        steps
            .iter()
            .map(|s| match s {
                Step::Apply(Object::Deployment(_)) => "deployment",
                Step::PodAnnotations(_) => "pods",
                Step::Events(_) => "events",
                _ => "other",
            })
            .collect()
    }

    #[test]
    fn new_pods_are_indexed_right_after_the_deployment_is_applied() {
        let app = app(Some("server.js"));
        let revision = build::build(&app, &[], &opts()).unwrap().revision;
        let pods: Vec<PodFacts> = (0..3)
            .map(|i| pod(&format!("web-{i}"), &revision, i, None))
            .collect();
        let observed = Observed {
            instance_pods: Some(pods),
            ..Default::default()
        };
        let plan = plan(&app, &observed, &opts(), now());
        let shape = kinds(&plan.steps);
        let at = shape.iter().position(|k| *k == "deployment").unwrap();
        assert_eq!(shape[at + 1], "pods", "{shape:?}");
        let Step::PodAnnotations(patches) = &plan.steps[at + 1] else {
            unreachable!()
        };
        let indices: Vec<Option<u32>> = patches.iter().map(|p| p.index).collect();
        assert_eq!(indices, [Some(0), Some(1), Some(2)]);
    }

    #[test]
    fn pods_are_left_alone_without_a_fresh_list_or_without_the_shim() {
        let stale = Observed::default();
        let stale_plan = plan(&app(Some("server.js")), &stale, &opts(), now());
        assert!(!kinds(&stale_plan.steps).contains(&"pods"));

        let no_shim = app(None);
        let revision = build::build(&no_shim, &[], &opts()).unwrap().revision;
        let observed = Observed {
            instance_pods: Some(vec![pod("web-0", &revision, 0, None)]),
            ..Default::default()
        };
        let plan = plan(&no_shim, &observed, &opts(), now());
        assert!(!kinds(&plan.steps).contains(&"pods"));
    }

    #[test]
    fn shared_indices_are_reported_in_an_event() {
        let app = app(Some("server.js"));
        let revision = build::build(&app, &[], &opts()).unwrap().revision;
        let mut pods = settled(3, &revision);
        pods.push(pod("dup", &revision, 9, Some(0)));
        let observed = Observed {
            instance_pods: Some(pods),
            ..Default::default()
        };
        let plan = plan(&app, &observed, &opts(), now());
        let notes: Vec<&crate::notes::Note> = plan
            .steps
            .iter()
            .filter_map(|s| match s {
                Step::Events(notes) => Some(notes),
                _ => None,
            })
            .flatten()
            .collect();
        assert!(
            notes
                .iter()
                .any(|n| n.warning && n.reason == crate::reason::INSTANCE_INDEX_SHARED),
            "{notes:?}"
        );
    }
}
