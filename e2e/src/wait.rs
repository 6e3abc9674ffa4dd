use std::{fmt::Debug, time::Duration};

use futures::StreamExt;
use kube::{
    runtime::{
        wait::{conditions::is_deleted, Condition},
        watcher,
    },
    Api, Resource, ResourceExt,
};
use serde::{de::DeserializeOwned, Serialize};

use crate::Error;

/// Waits until the object `name` satisfies `condition` and returns it as it was then.
/// Built on a watch, so it reacts as soon as the API server reports the change. On timeout the
/// error carries the object's current state.
pub async fn wait_for<K>(
    api: &Api<K>,
    name: &str,
    condition: impl Condition<K>,
    timeout: Duration,
) -> Result<K, Error>
where
    K: Clone + Debug + Send + DeserializeOwned + Serialize + Resource + 'static,
    K::DynamicType: Default,
{
    let what = describe::<K>(api, name);
    match tokio::time::timeout(timeout, await_condition(api.clone(), name, condition)).await {
        Ok(Some(object)) => Ok(object),
        Ok(None) => Err(Error::Gone { what }),
        Err(_) => Err(Error::Timeout {
            last_seen: last_seen(api, name).await,
            what,
            after: timeout,
        }),
    }
}

/// Waits until the object `name` no longer exists (or was replaced by one with another uid).
pub async fn wait_for_deletion<K>(api: &Api<K>, name: &str, timeout: Duration) -> Result<(), Error>
where
    K: Clone + Debug + Send + DeserializeOwned + Serialize + Resource + 'static,
    K::DynamicType: Default,
{
    let Some(current) = api.get_opt(name).await? else {
        return Ok(());
    };
    let uid = current.uid().unwrap_or_default();
    let what = describe::<K>(api, name);
    match tokio::time::timeout(
        timeout,
        await_condition(api.clone(), name, is_deleted(&uid)),
    )
    .await
    {
        Ok(_) => Ok(()),
        Err(_) => Err(Error::Timeout {
            last_seen: last_seen(api, name).await,
            what,
            after: timeout,
        }),
    }
}

/// Like kube's `await_condition`, but a watch error does not end the wait: the API server
/// expires a watch's resource version (410 Gone) whenever its cache moves past it, which is
/// routine on a busy cluster, and the watcher recovers by listing again on the next poll.
/// Only the caller's timeout ends a wait that never sees the condition.
pub async fn await_condition<K>(api: Api<K>, name: &str, condition: impl Condition<K>) -> Option<K>
where
    K: Clone + Debug + Send + DeserializeOwned + Resource + 'static,
{
    let mut events = std::pin::pin!(watcher::watch_object(api, name));
    while let Some(event) = events.next().await {
        match event {
            Ok(object) if condition.matches_object(object.as_ref()) => return object,
            Ok(_) => {}
            Err(err) => {
                eprintln!("watching {name}: {err}; watching again");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    None
}

fn describe<K>(api: &Api<K>, name: &str) -> String
where
    K: Resource,
    K::DynamicType: Default,
{
    let kind = K::kind(&K::DynamicType::default()).into_owned();
    match api.namespace() {
        Some(namespace) => format!("{kind} {namespace}/{name}"),
        None => format!("{kind} {name}"),
    }
}

async fn last_seen<K>(api: &Api<K>, name: &str) -> String
where
    K: Clone + Debug + DeserializeOwned + Serialize + Resource,
{
    match api.get_opt(name).await {
        Ok(Some(mut object)) => {
            object.meta_mut().managed_fields = None;
            serde_yaml::to_string(&object).unwrap_or_else(|e| format!("<unprintable: {e}>"))
        }
        Ok(None) => "<does not exist>".to_owned(),
        Err(err) => format!("<cannot read: {err}>"),
    }
}
