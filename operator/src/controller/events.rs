//! The one event publisher: the Events a plan decided on (see
//! `readyroll_core::notes`). Publishing never fails a reconcile.

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType, Recorder};
use readyroll_core::notes::Note;
use tracing::{info, warn};

use crate::leader::Leadership;

/// Publishes `notes` about the object `reference` names; a failure is
/// logged, not returned, because an event that cannot be written must not
/// hold up the rollout. A replica that is not the leader sends nothing.
pub async fn publish(
    leadership: &Leadership,
    recorder: &Recorder,
    reference: &ObjectReference,
    notes: &[Note],
) {
    for note in notes {
        if !leadership.is_leader() {
            return;
        }
        info!(reason = note.reason, message = %note.message, "event");
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
        if let Err(error) = recorder.publish(&event, reference).await {
            warn!(reason = note.reason, %error, "could not publish event");
        }
    }
}
