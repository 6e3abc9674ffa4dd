//! Publishing the Events a reconcile decided on (see
//! `readyroll_core::notes`); publishing never fails a reconcile.

use kube::runtime::events::{Event, EventType, Recorder};
use kube::Resource;
use tracing::warn;

pub use readyroll_core::notes::*;

use crate::crd::App;
use crate::leader::Leadership;

/// Publishes `notes` about `app`; a failure is logged, not returned, because
/// an event that cannot be written must not hold up the rollout.
pub async fn publish(leadership: &Leadership, recorder: &Recorder, app: &App, notes: &[Note]) {
    let reference = app.object_ref(&());
    for note in notes {
        if !leadership.is_leader() {
            return;
        }
        let event = Event {
            type_: if note.warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: note.reason.to_string(),
            note: Some(note.message.clone()),
            action: "Reconcile".to_string(),
            secondary: None,
        };
        if let Err(error) = recorder.publish(&event, &reference).await {
            warn!(reason = note.reason, %error, "could not publish event");
        }
    }
}
