//! An in-memory Kubernetes API server, enough for reconcile scenarios: GET,
//! server-side apply (with field-manager conflicts), merge patches of status,
//! POST, DELETE, group discovery, and injected failures.

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
    rv: u64,
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

impl FakeApi {
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

    pub fn insert(&self, path: &str, obj: Value) {
        self.0.lock().unwrap().objects.insert(path.into(), obj);
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
            Method::GET => match st.objects.get(&path) {
                Some(o) => (200, o.clone()),
                None => status(404, "NotFound", &format!("{path} not found")),
            },
            Method::DELETE => match st.objects.remove(&path) {
                Some(_) => (
                    200,
                    json!({"kind": "Status", "apiVersion": "v1", "status": "Success"}),
                ),
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
                    return (if created { 201 } else { 200 }, obj.clone());
                }
                let Some(obj) = st.objects.get_mut(&path) else {
                    return status(404, "NotFound", &format!("{path} not found"));
                };
                merge(obj, &patch);
                (200, obj.clone())
            }
            _ => status(405, "MethodNotAllowed", "unsupported"),
        }
    }
}
