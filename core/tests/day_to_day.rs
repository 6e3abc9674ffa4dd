//! The fields the day-to-day commands write, through the core's public
//! plan: `spec.paused` pauses the Deployment and the status says so;
//! `spec.restartedAt` (`readyroll reload`) is a new pod template; every
//! spec is a revision in `status.history`, saved in a ControllerRevision.

use k8s_openapi::jiff::Timestamp;
use readyroll_core::build::{build, BuildOptions, RELOADED_AT_ANNOTATION};
use readyroll_core::crd::{App, AppSpec, AppStatus, CONDITION_PAUSED, CONDITION_READY};
use readyroll_core::observed::Observed;
use readyroll_core::plan::{plan, Object, Step};
use readyroll_core::rollout::ObservedDeployment;

fn opts() -> BuildOptions {
    BuildOptions {
        shim_image: "readyroll:test".into(),
    }
}

fn app(spec: AppSpec) -> App {
    let mut app = App::new("web", spec);
    app.metadata.namespace = Some("shop".into());
    app.metadata.uid = Some("uid-web".into());
    app.metadata.generation = Some(1);
    app
}

fn spec() -> AppSpec {
    AppSpec {
        image: "web:1".into(),
        instances: Some(readyroll_core::crd::Instances::Count(3)),
        ..AppSpec::default()
    }
}

/// The final status of a plan, against an unchanged Deployment.
fn final_status(app: &App, observed: &Observed) -> AppStatus {
    let planned = plan(app, observed, &opts(), Timestamp::UNIX_EPOCH);
    let Some(Step::FinalStatus(last)) = planned.steps.last() else {
        panic!("a plan ends with the final status")
    };
    let deployment = observed
        .deployment
        .as_ref()
        .map(ObservedDeployment::from_deployment)
        .unwrap_or_default();
    last.after(&deployment)
        .unwrap_or_else(|| last.written.clone())
}

fn condition<'a>(status: &'a AppStatus, type_: &str) -> (&'a str, &'a str) {
    let c = status
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .unwrap_or_else(|| panic!("no {type_}"));
    (c.status.as_str(), c.reason.as_str())
}

#[test]
fn a_paused_app_pauses_its_deployment_and_says_so() {
    let paused = app(AppSpec {
        paused: Some(true),
        ..spec()
    });
    let desired = build(&paused, &[], &opts()).unwrap();
    let deployment_spec = desired.deployment.spec.as_ref().unwrap();
    assert_eq!(deployment_spec.paused, Some(true));
    // Pausing is no new template: the pods stay what they are.
    let running = build(&app(spec()), &[], &opts()).unwrap();
    assert_eq!(desired.revision, running.revision);
    assert_eq!(
        running.deployment.spec.as_ref().unwrap().paused,
        None,
        "unpaused, the field is left out (server-side apply removes it)"
    );

    // A rollout waiting on the paused Deployment: not Ready, not Stalled.
    let status = final_status(&paused, &Observed::default());
    assert_eq!(
        condition(&status, CONDITION_PAUSED),
        ("True", "RolloutPaused")
    );
    assert_eq!(
        condition(&status, CONDITION_READY),
        ("False", "RolloutPaused")
    );
    assert_eq!(condition(&status, "Reconciling"), ("True", "RolloutPaused"));
    assert_eq!(condition(&status, "Stalled").0, "False");
}

#[test]
fn restarted_at_is_a_new_template() {
    let before = build(&app(spec()), &[], &opts()).unwrap();
    let reloaded = app(AppSpec {
        restarted_at: Some("2026-01-02T03:04:05Z".into()),
        ..spec()
    });
    let after = build(&reloaded, &[], &opts()).unwrap();
    assert_ne!(before.revision, after.revision);
    let annotations = after
        .deployment
        .spec
        .unwrap()
        .template
        .metadata
        .unwrap()
        .annotations
        .unwrap();
    assert_eq!(
        annotations.get(RELOADED_AT_ANNOTATION).map(String::as_str),
        Some("2026-01-02T03:04:05Z")
    );
    let mut reserved = spec();
    reserved
        .annotations
        .insert(RELOADED_AT_ANNOTATION.into(), "x".into());
    let err = build(&app(reserved), &[], &opts()).unwrap_err().to_string();
    assert!(err.contains("is set by readyroll"), "{err}");
}

#[test]
fn each_spec_is_a_revision_saved_for_rollback() {
    let first = app(spec());
    let planned = plan(&first, &Observed::default(), &opts(), Timestamp::UNIX_EPOCH);
    let saved: Vec<_> = planned
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Apply(Object::Revision(c)) => Some(c.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(saved.len(), 1);
    let status = final_status(&first, &Observed::default());
    assert_eq!(status.history.len(), 1);
    let record = &status.history[0];
    assert_eq!((record.revision, record.change.as_str()), (1, "created"));
    assert_eq!(
        saved[0].metadata.name.as_deref(),
        Some(record.controller_revision.as_str())
    );

    // The next spec, with its saved predecessor observed: what changed.
    let mut second = app(AppSpec {
        image: "web:2".into(),
        ..spec()
    });
    second.status = Some(status);
    let observed = Observed {
        history_latest: Some((*saved[0]).clone()),
        ..Observed::default()
    };
    let status = final_status(&second, &observed);
    assert_eq!(status.history.len(), 2);
    assert_eq!(status.history[1].change, "image: web:1 -> web:2");
    assert_eq!(status.history[0].outcome, "Superseded");
}
