//! An in-memory Kubernetes API server, enough for reconcile and watch
//! scenarios: GET, LIST and WATCH (with label and field selectors), server-side
//! apply (with field-manager conflicts and resourceVersion preconditions),
//! merge patches, POST, DELETE, group discovery, and injected failures.
//!
//! A watch answers with the events after its resourceVersion and then ends, as
//! a real watch does when its timeout passes; clients watch again from the
//! last version they saw.

use base64::Engine;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use kube::client::Body;
use kube::Client;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct State {
    pub objects: BTreeMap<String, Value>,
    /// Every request as "METHOD path".
    pub requests: Vec<String>,
    /// Group versions served beyond the built-in ones (e.g. monitoring.coreos.com/v1).
    pub served: BTreeSet<String>,
    /// Objects whose fields another manager owns: an apply without force conflicts.
    pub foreign_owned: BTreeSet<String>,
    /// (method, path fragment, status code, times): fail matching requests.
    pub failures: Vec<(Method, String, u16, usize)>,
    /// Applies that carried force=true, by path.
    pub forced: BTreeSet<String>,
    /// Every change: (resourceVersion, ADDED|MODIFIED|DELETED, path, object).
    pub events: Vec<(u64, &'static str, String, Value)>,
    rv: u64,
}

impl State {
    /// Stores `obj` at `path` with a new resourceVersion and records the event.
    fn put(&mut self, path: &str, mut obj: Value) -> Value {
        self.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        let kind = if self.objects.contains_key(path) {
            "MODIFIED"
        } else {
            "ADDED"
        };
        self.objects.insert(path.into(), obj.clone());
        self.events.push((self.rv, kind, path.into(), obj.clone()));
        obj
    }
}

/// A collection path: /api/v1/namespaces/NS/RES or /apis/G/V/namespaces/NS/RES.
fn is_collection(path: &str) -> bool {
    let segs = path.trim_start_matches('/').split('/').count();
    (path.starts_with("/api/") && segs == 5) || (path.starts_with("/apis/") && segs == 6)
}

fn query_param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| {
            v.replace("%3D", "=")
                .replace("%2F", "/")
                .replace("%2C", ",")
        })
    })
}

/// Whether `obj` matches the request's label and field selectors (equality only).
fn selected(obj: &Value, query: &str) -> bool {
    let labels_ok = query_param(query, "labelSelector").is_none_or(|sel| {
        sel.split(',').all(|term| match term.split_once('=') {
            Some((k, v)) => obj["metadata"]["labels"][k] == v,
            None => false,
        })
    });
    let fields_ok = query_param(query, "fieldSelector").is_none_or(|sel| {
        sel.split(',').all(|term| match term.split_once('=') {
            Some(("metadata.name", v)) => obj["metadata"]["name"] == v,
            Some(("metadata.namespace", v)) => obj["metadata"]["namespace"] == v,
            _ => false,
        })
    });
    labels_ok && fields_ok
}

/// The objects directly under a collection path.
fn in_collection(path: &str, p: &str) -> bool {
    p.strip_prefix(path)
        .and_then(|rest| rest.strip_prefix('/'))
        .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'))
}

#[derive(Clone, Default)]
pub struct FakeApi(pub Arc<Mutex<State>>);

fn status(code: u16, reason: &str, message: &str) -> (u16, Value) {
    (
        code,
        json!({"apiVersion": "v1", "kind": "Status", "status": "Failure", "code": code, "reason": reason, "message": message}),
    )
}

/// Merges `patch` into `target`, JSON merge-patch style (null deletes).
fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

/// Where [`FakeApi::with_cluster`] puts the CacheCluster `apps/cache`.
pub const CC: &str = "/apis/shoal.dev/v1alpha1/namespaces/apps/cacheclusters/cache";

impl FakeApi {
    /// An API server holding the CacheCluster `apps/cache` with `spec`.
    pub fn with_cluster(spec: Value) -> FakeApi {
        let api = FakeApi::default();
        api.insert(
            CC,
            json!({"apiVersion": "shoal.dev/v1alpha1", "kind": "CacheCluster",
                "metadata": {"name": "cache", "namespace": "apps", "uid": "cc-uid", "generation": 1},
                "spec": spec}),
        );
        api
    }

    pub fn client(&self) -> Client {
        let api = self.clone();
        let svc = tower::service_fn(move |req: Request<Body>| {
            let api = api.clone();
            async move {
                let (parts, body) = req.into_parts();
                let bytes = body
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                let query = parts.uri.query().unwrap_or("").to_string();
                if parts.method == Method::GET && query.contains("watch=true") {
                    return Ok::<_, Infallible>(api.watch(parts.uri.path(), &query).await);
                }
                let (code, value) = api.handle(
                    &parts.method,
                    &parts.uri,
                    parts.headers.get("content-type"),
                    &bytes,
                );
                let resp = Response::builder()
                    .status(StatusCode::from_u16(code).expect("valid code"))
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from(
                        serde_json::to_vec(&value).expect("json"),
                    )))
                    .expect("response");
                Ok::<_, Infallible>(resp)
            }
        });
        Client::new(svc, "default")
    }

    /// Stores an object as a controller or user would (a watch sees it).
    pub fn insert(&self, path: &str, obj: Value) {
        self.0.lock().unwrap().put(path, obj);
    }

    /// Answers a watch: the events after `resourceVersion` matching the
    /// selectors, waiting a little for some, then ends the stream.
    async fn watch(&self, path: &str, query: &str) -> Response<Full<Bytes>> {
        let since: u64 = query_param(query, "resourceVersion")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(300);
        loop {
            let mut body = Vec::new();
            {
                let mut st = self.0.lock().unwrap();
                st.requests.push(format!("WATCH {path}"));
                if let Some(f) = st
                    .failures
                    .iter_mut()
                    .find(|(m, frag, _, n)| m == Method::GET && frag == "watch" && *n > 0)
                {
                    f.3 -= 1;
                    let code = f.2;
                    let (_, v) = status(code, "Expired", "injected watch failure");
                    // An expired resourceVersion comes as an ERROR event in a
                    // successful stream, as the real API server sends it.
                    if code == 410 {
                        let mut line = serde_json::to_vec(&json!({"type": "ERROR", "object": v}))
                            .expect("json");
                        line.push(b'\n');
                        return Response::builder()
                            .status(StatusCode::OK)
                            .header("content-type", "application/json")
                            .body(Full::new(Bytes::from(line)))
                            .expect("response");
                    }
                    return Response::builder()
                        .status(StatusCode::from_u16(code).expect("valid code"))
                        .header("content-type", "application/json")
                        .body(Full::new(Bytes::from(
                            serde_json::to_vec(&v).expect("json"),
                        )))
                        .expect("response");
                }
                for (rv, kind, p, obj) in &st.events {
                    if *rv > since && in_collection(path, p) && selected(obj, query) {
                        let line = json!({"type": kind, "object": obj});
                        body.extend(serde_json::to_vec(&line).expect("json"));
                        body.push(b'\n');
                    }
                }
            }
            if !body.is_empty() || tokio::time::Instant::now() >= deadline {
                return Response::builder()
                    .status(StatusCode::OK)
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from(body)))
                    .expect("response");
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    pub fn get(&self, path: &str) -> Option<Value> {
        self.0.lock().unwrap().objects.get(path).cloned()
    }

    pub fn paths_under(&self, prefix: &str) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .objects
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect()
    }

    pub fn fail(&self, method: Method, fragment: &str, code: u16, times: usize) {
        self.0
            .lock()
            .unwrap()
            .failures
            .push((method, fragment.into(), code, times));
    }

    fn handle(
        &self,
        method: &Method,
        uri: &http::Uri,
        ctype: Option<&http::HeaderValue>,
        body: &[u8],
    ) -> (u16, Value) {
        let mut st = self.0.lock().unwrap();
        let path = uri.path().to_string();
        let query = uri.query().unwrap_or("");
        st.requests.push(format!("{method} {path}"));
        if let Some(f) = st
            .failures
            .iter_mut()
            .find(|(m, frag, _, n)| m == method && path.contains(frag.as_str()) && *n > 0)
        {
            f.3 -= 1;
            let code = f.2;
            return status(code, "InternalError", "injected failure");
        }
        // Group discovery.
        if method == Method::GET && path.starts_with("/apis/") && path.matches('/').count() == 3 {
            let gv = path.trim_start_matches("/apis/").to_string();
            if st.served.contains(&gv) {
                return (
                    200,
                    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
                        "resources": [{"name": "servicemonitors", "singularName": "servicemonitor", "namespaced": true,
                        "kind": "ServiceMonitor", "verbs": ["get", "list", "watch", "create", "patch", "delete"]}]}),
                );
            }
            return status(
                404,
                "NotFound",
                "the server could not find the requested resource",
            );
        }
        st.rv += 1;
        let rv = st.rv;
        match *method {
            Method::GET if is_collection(&path) && !st.objects.contains_key(&path) => {
                let items: Vec<Value> = st
                    .objects
                    .iter()
                    .filter(|(p, o)| in_collection(&path, p) && selected(o, query))
                    .map(|(_, o)| o.clone())
                    .collect();
                (
                    200,
                    json!({"apiVersion": "v1", "kind": "List",
                        "metadata": {"resourceVersion": rv.to_string()}, "items": items}),
                )
            }
            Method::GET => match st.objects.get(&path) {
                Some(o) => (200, o.clone()),
                None => status(404, "NotFound", &format!("{path} not found")),
            },
            Method::DELETE => match st.objects.remove(&path) {
                Some(o) => {
                    st.events.push((rv, "DELETED", path.clone(), o));
                    (
                        200,
                        json!({"kind": "Status", "apiVersion": "v1", "status": "Success"}),
                    )
                }
                None => status(404, "NotFound", &format!("{path} not found")),
            },
            Method::POST => {
                let mut obj: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
                let name = obj["metadata"]["name"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| {
                        format!(
                            "{}{rv}",
                            obj["metadata"]["generateName"].as_str().unwrap_or("obj-")
                        )
                    });
                obj["metadata"]["name"] = json!(name);
                obj["metadata"]["resourceVersion"] = json!(rv.to_string());
                let full = format!("{path}/{name}");
                if st.objects.contains_key(&full) {
                    return status(409, "AlreadyExists", &format!("{full} already exists"));
                }
                st.objects.insert(full, obj.clone());
                (201, obj)
            }
            Method::PATCH => {
                let ctype = ctype.and_then(|v| v.to_str().ok()).unwrap_or("");
                let patch: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
                if let Some(parent) = path.strip_suffix("/status") {
                    let Some(obj) = st.objects.get_mut(parent) else {
                        return status(404, "NotFound", &format!("{parent} not found"));
                    };
                    let mut only_status = json!({});
                    only_status["status"] = patch["status"].clone();
                    merge(obj, &only_status);
                    obj["metadata"]["resourceVersion"] = json!(rv.to_string());
                    return (200, obj.clone());
                }
                if ctype.starts_with("application/apply-patch") {
                    let force = query.contains("force=true");
                    if st.foreign_owned.contains(&path) && !force {
                        return status(
                            409,
                            "Conflict",
                            "Apply failed with 1 conflict: conflict with \"kubectl\"",
                        );
                    }
                    // A resourceVersion in an apply is a precondition.
                    if let Some(want) = patch["metadata"]["resourceVersion"].as_str() {
                        let have = st
                            .objects
                            .get(&path)
                            .map(|o| &o["metadata"]["resourceVersion"]);
                        if have.and_then(Value::as_str) != Some(want) {
                            return status(
                                409,
                                "Conflict",
                                "Operation cannot be fulfilled: the object has been modified; please apply your changes to the latest version and try again",
                            );
                        }
                    }
                    if force {
                        st.forced.insert(path.clone());
                    }
                    let mut applied = patch;
                    // The API server turns stringData into base64 data.
                    if let Some(sd) = applied.get("stringData").cloned() {
                        let mut data = serde_json::Map::new();
                        for (k, v) in sd.as_object().into_iter().flatten() {
                            let b = base64::engine::general_purpose::STANDARD
                                .encode(v.as_str().unwrap_or("").as_bytes());
                            data.insert(k.clone(), json!(b));
                        }
                        applied["data"] = Value::Object(data);
                        applied
                            .as_object_mut()
                            .expect("object")
                            .remove("stringData");
                    }
                    let created = !st.objects.contains_key(&path);
                    let obj = st.objects.entry(path.clone()).or_insert_with(|| {
                        json!({"metadata": {"uid": format!("uid-{rv}"), "creationTimestamp": "2026-01-01T00:00:00Z", "generation": 0}})
                    });
                    let spec_before = obj.get("spec").cloned();
                    merge(obj, &applied);
                    let gen = obj["metadata"]["generation"].as_i64().unwrap_or(0);
                    if created || obj.get("spec").cloned() != spec_before {
                        obj["metadata"]["generation"] = json!(gen + 1);
                    }
                    obj["metadata"]["resourceVersion"] = json!(rv.to_string());
                    let out = obj.clone();
                    let kind = if created { "ADDED" } else { "MODIFIED" };
                    st.events.push((rv, kind, path.clone(), out.clone()));
                    return (if created { 201 } else { 200 }, out);
                }
                let Some(obj) = st.objects.get_mut(&path) else {
                    return status(404, "NotFound", &format!("{path} not found"));
                };
                // As in an apply, a resourceVersion is a precondition.
                if let Some(want) = patch["metadata"]["resourceVersion"].as_str() {
                    if obj["metadata"]["resourceVersion"].as_str() != Some(want) {
                        return status(409, "Conflict", "the object has been modified");
                    }
                }
                merge(obj, &patch);
                obj["metadata"]["resourceVersion"] = json!(rv.to_string());
                let out = obj.clone();
                st.events.push((rv, "MODIFIED", path, out.clone()));
                (200, out)
            }
            _ => status(405, "MethodNotAllowed", "unsupported"),
        }
    }
}
