//! An in-memory API server behind kube's mock transport (`tower-test`), for
//! reconcile tests: it stores what is applied, answers reads from what it
//! holds and records every request for the test to inspect.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use http::{Method, Request, Response, StatusCode};
use kube::client::Body;
use kube::Client;
use serde_json::{json, Value};

/// One request the controller made.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub body: Value,
}

#[derive(Clone, Default)]
pub struct FakeApi {
    objects: Arc<Mutex<BTreeMap<String, Value>>>,
    log: Arc<Mutex<Vec<Recorded>>>,
    /// The namespace is being deleted: creations are refused.
    terminating: Arc<Mutex<bool>>,
}

impl FakeApi {
    /// A client whose requests this fake answers.
    pub fn client(&self) -> Client {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let fake = self.clone();
        tokio::spawn(async move {
            while let Some((request, respond)) = handle.next_request().await {
                let response = fake.answer(request).await;
                respond.send_response(response);
            }
        });
        Client::new(service, "default")
    }

    /// Stores `object` at `path` as if it had been created.
    pub fn put(&self, path: &str, mut object: Value) {
        let meta = &mut object["metadata"];
        if meta.get("uid").is_none() {
            meta["uid"] = json!(format!("uid-{path}"));
        }
        if meta.get("generation").is_none() {
            meta["generation"] = json!(1);
        }
        meta["resourceVersion"] = json!("1");
        self.objects
            .lock()
            .unwrap()
            .insert(path.to_string(), object);
    }

    /// From now on, refuses every creation (a POST, or an apply of an object
    /// not stored) as the API server does in a namespace being deleted.
    pub fn terminate_namespace(&self) {
        *self.terminating.lock().unwrap() = true;
    }

    /// Deletes the object at `path`, as someone else would.
    pub fn remove(&self, path: &str) {
        self.objects.lock().unwrap().remove(path);
    }

    pub fn get(&self, path: &str) -> Option<Value> {
        self.objects.lock().unwrap().get(path).cloned()
    }

    /// Every request so far, oldest first.
    pub fn requests(&self) -> Vec<Recorded> {
        self.log.lock().unwrap().clone()
    }

    /// The requests that changed something (everything but reads).
    pub fn writes(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method != Method::GET)
            .collect()
    }

    pub fn clear_log(&self) {
        self.log.lock().unwrap().clear();
    }

    async fn answer(&self, request: Request<Body>) -> Response<Body> {
        let method = request.method().clone();
        let path = request.uri().path().to_string();
        let query = request.uri().query().unwrap_or("").to_string();
        let bytes = request
            .into_body()
            .collect_bytes()
            .await
            .unwrap_or_default();
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        self.log.lock().unwrap().push(Recorded {
            method: method.clone(),
            path: path.clone(),
            query: query.clone(),
            body: body.clone(),
        });
        let mut objects = self.objects.lock().unwrap();
        let creates = match method {
            Method::POST => true,
            Method::PATCH => !objects.contains_key(path.strip_suffix("/status").unwrap_or(&path)),
            _ => false,
        };
        if creates && *self.terminating.lock().unwrap() {
            return namespace_terminating(&path);
        }
        match method {
            Method::GET => match objects.get(&path) {
                Some(object) => respond(StatusCode::OK, object),
                None if is_collection(&path) => {
                    respond(StatusCode::OK, &list(&objects, &path, &query))
                }
                None => not_found(&path),
            },
            Method::PATCH => {
                let (object_path, subresource) = match path.strip_suffix("/status") {
                    Some(p) => (p.to_string(), true),
                    None => (path.clone(), false),
                };
                let stored = apply(objects.get(&object_path), body, subresource, &object_path);
                objects.insert(object_path, stored.clone());
                respond(StatusCode::OK, &stored)
            }
            Method::POST => respond(StatusCode::CREATED, &body),
            Method::DELETE => match objects.remove(&path) {
                Some(object) => respond(StatusCode::OK, &object),
                None => not_found(&path),
            },
            _ => respond(StatusCode::METHOD_NOT_ALLOWED, &json!({})),
        }
    }
}

/// Server-side apply, simplified: the applied object replaces the stored
/// one, except for what the server owns (uid, status, generation).
fn apply(existing: Option<&Value>, applied: Value, subresource: bool, path: &str) -> Value {
    let Some(existing) = existing else {
        let mut created = applied;
        created["metadata"]["uid"] = json!(format!("uid-{path}"));
        created["metadata"]["generation"] = json!(1);
        created["metadata"]["resourceVersion"] = json!("1");
        return created;
    };
    let mut stored = existing.clone();
    if subresource {
        stored["status"] = applied["status"].clone();
    } else {
        let spec_changed = existing.get("spec") != applied.get("spec");
        for (key, value) in applied.as_object().into_iter().flatten() {
            if key != "metadata" && key != "status" {
                stored[key] = value.clone();
            }
        }
        for (key, value) in applied["metadata"].as_object().into_iter().flatten() {
            stored["metadata"][key] = value.clone();
        }
        if spec_changed {
            let generation = existing["metadata"]["generation"].as_i64().unwrap_or(1);
            stored["metadata"]["generation"] = json!(generation + 1);
        }
    }
    let version: i64 = existing["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    stored["metadata"]["resourceVersion"] = json!((version + 1).to_string());
    stored
}

fn is_collection(path: &str) -> bool {
    // /api/v1/namespaces/NS/KIND or /apis/GROUP/VERSION/namespaces/NS/KIND
    let segments = path.trim_start_matches('/').split('/').count();
    (path.starts_with("/api/") && segments == 5) || (path.starts_with("/apis/") && segments == 6)
}

/// The stored objects directly under `collection` whose labels match the
/// `labelSelector` (equality terms only) of `query`.
fn list(objects: &BTreeMap<String, Value>, collection: &str, query: &str) -> Value {
    let selector: Vec<(String, String)> = query
        .split('&')
        .filter_map(|p| p.strip_prefix("labelSelector="))
        .flat_map(|s| {
            let decoded = s
                .replace("%3D", "=")
                .replace("%2C", ",")
                .replace("%2F", "/");
            decoded
                .split(',')
                .filter_map(|term| {
                    term.split_once('=')
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let prefix = format!("{collection}/");
    let items: Vec<Value> = objects
        .iter()
        .filter(|(path, _)| {
            path.strip_prefix(&prefix)
                .is_some_and(|rest| !rest.contains('/'))
        })
        .map(|(_, object)| object.clone())
        .filter(|object| {
            selector
                .iter()
                .all(|(k, v)| object["metadata"]["labels"][k].as_str() == Some(v.as_str()))
        })
        .collect();
    json!({ "apiVersion": "v1", "kind": "List", "metadata": { "resourceVersion": "1" }, "items": items })
}

fn respond(status: StatusCode, body: &Value) -> Response<Body> {
    let mut response = Response::new(Body::from(serde_json::to_vec(body).unwrap_or_default()));
    *response.status_mut() = status;
    response
}

fn not_found(path: &str) -> Response<Body> {
    respond(
        StatusCode::NOT_FOUND,
        &json!({
            "kind": "Status", "apiVersion": "v1", "status": "Failure",
            "message": format!("{path} not found"), "reason": "NotFound", "code": 404
        }),
    )
}

/// The NamespaceLifecycle admission plugin's answer to a creation in a
/// namespace being deleted.
fn namespace_terminating(path: &str) -> Response<Body> {
    respond(
        StatusCode::FORBIDDEN,
        &json!({
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "message": format!("{path} is forbidden: unable to create new content in namespace shop because it is being terminated"),
            "reason": "Forbidden",
            "details": {"causes": [{
                "reason": "NamespaceTerminating",
                "message": "namespace shop is being terminated",
                "field": "metadata.namespace"
            }]},
            "code": 403
        }),
    )
}
