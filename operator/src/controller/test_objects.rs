//! Objects the controller's unit tests share.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

/// The controller reference readyroll puts on what it makes for App
/// `shop/web` (uid `app-uid`).
pub fn app_owner() -> OwnerReference {
    OwnerReference {
        api_version: "readyroll.dev/v1alpha1".into(),
        kind: "App".into(),
        name: "web".into(),
        uid: "app-uid".into(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}
