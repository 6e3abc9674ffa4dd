//! Foreign objects and refused applies, as properties of the plan.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ManagedFieldsEntry, OwnerReference};

use super::*;
use crate::plan::tests::{
    app, desired, final_status, now, opts, owned_by, reasons, running, settled, shape, UID,
};

fn foreign_service() -> ObjectMeta {
    ObjectMeta {
        name: Some("web".into()),
        uid: Some("theirs".into()),
        managed_fields: Some(vec![ManagedFieldsEntry {
            manager: Some("kubectl-client-side-apply".into()),
            ..Default::default()
        }]),
        ..Default::default()
    }
}

fn helm_deployment(desired: &Desired) -> Deployment {
    let mut deployment = running(desired, settled(3));
    deployment.metadata.owner_references = Some(vec![OwnerReference {
        kind: "HelmRelease".into(),
        name: "shop".into(),
        uid: "helm-uid".into(),
        controller: Some(true),
        ..Default::default()
    }]);
    deployment
}

fn degraded_condition(
    status: &AppStatus,
) -> &k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
    conditions::find(&status.conditions, CONDITION_DEGRADED).expect("Degraded")
}

#[test]
fn foreign_objects_are_left_alone_and_reported_once() {
    let web = app("web:1", 3, None);
    let observed = Observed {
        deployment: Some(helm_deployment(&desired(&web))),
        service: Some(foreign_service()),
        pdb: Some(owned_by(UID)),
        ..Default::default()
    };

    let first = plan(&web, &observed, &opts(), now());

    assert_eq!(shape(&first), ["apply pdb", "events", "final status"]);
    assert_eq!(
        reasons(&first),
        [reason::OWNERSHIP_CONFLICT, reason::OWNERSHIP_CONFLICT],
        "no rollout is announced for a Deployment that is not the App's"
    );
    assert_eq!(first.requeue, Requeue::After(CONFLICT_RECHECK));
    let status = final_status(&first)
        .after(&ObservedDeployment::default())
        .expect("a new status");
    let degraded = degraded_condition(&status);
    assert_eq!(
        (degraded.status.as_str(), degraded.reason.as_str()),
        ("True", reason::OWNERSHIP_CONFLICT)
    );
    assert!(
        degraded.message.contains("Deployment web")
            && degraded.message.contains("HelmRelease/shop")
            && degraded.message.contains("Service web")
            && degraded.message.contains("kubectl-client-side-apply"),
        "{}",
        degraded.message
    );
    assert_eq!(
        status.replicas,
        Some(0),
        "the foreign pods are not the App's"
    );

    let again = plan(&app("web:1", 3, Some(status)), &observed, &opts(), now());
    assert!(reasons(&again).is_empty(), "{:?}", reasons(&again));
}

#[test]
fn a_foreign_object_that_is_not_desired_is_no_conflict() {
    let mut web = app("web:1", 1, None);
    web.spec.port = None;
    let observed = Observed {
        service: Some(foreign_service()),
        pdb: Some(foreign_service()),
        ..Default::default()
    };
    let plan = plan(&web, &observed, &opts(), now());
    assert_eq!(
        shape(&plan),
        [
            "apply deployment",
            "save revision",
            "events",
            "final status"
        ]
    );
    assert_eq!(reasons(&plan), [reason::ROLLOUT_STARTED]);
    assert_eq!(plan.requeue, Requeue::After(RESYNC));
}

#[test]
fn a_refused_apply_makes_the_app_degraded_and_keeps_the_last_good_revision() {
    let web = app("web:1", 2, None);
    let want = desired(&web);
    let observed = Observed {
        deployment: Some(running(&want, settled(2))),
        ..Default::default()
    };
    let applied = ObservedDeployment::from_deployment(observed.deployment.as_ref().unwrap());
    let good = final_status(&plan(&web, &observed, &opts(), now()))
        .after(&applied)
        .expect("rolled out");

    let settled_app = app("web:1", 2, Some(good.clone()));
    let last = plan(&settled_app, &observed, &opts(), now());
    let refused = [Problem::apply_failed(
        "applying Service web",
        "Service \"web\" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated",
    )];
    let last = final_status(&last);
    let notes = last.failure_notes(&refused);
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].reason, reason::APPLY_FAILED);
    let status = last.after_failures(&applied, &refused).expect("changed");
    let degraded = degraded_condition(&status);
    assert_eq!(degraded.reason, reason::APPLY_FAILED);
    assert!(
        degraded.message.contains("spec.ports[0].nodePort"),
        "{}",
        degraded.message
    );
    assert_eq!(status.last_good_revision, good.last_good_revision);

    // Once the Service is accepted, Degraded clears.
    let retried = plan(&app("web:1", 2, Some(status)), &observed, &opts(), now());
    let cleared = final_status(&retried).after(&applied).expect("changed");
    assert_eq!(degraded_condition(&cleared).status, "False");
    assert!(
        final_status(&retried).failure_notes(&refused).is_empty(),
        "reported once"
    );
}
