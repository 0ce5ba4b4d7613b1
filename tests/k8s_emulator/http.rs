//! The HTTP face of the emulator: the API server's paths and query
//! parameters, JSON in and out, `Status` objects for errors, and watches as
//! streams of newline-separated JSON events.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::Shared;
use super::patch::{merge_patch, strategic_merge_patch};
use super::selector::{FieldSelector, LabelSelector};
use super::store::{ApiError, Kind, Store, Verb, remove_resource_version};

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(
            "/api/v1/namespaces/{namespace}/pods/{pod}/exec",
            any(super::exec::exec),
        )
        .fallback(handle)
        .with_state(shared)
}

/// A parsed API path: `/api/v1/namespaces/NS/pods/NAME/SUB` and friends.
#[derive(Debug)]
struct Route {
    kind: Kind,
    namespace: Option<String>,
    name: Option<String>,
    sub: Option<String>,
}

impl Route {
    fn parse(path: &str) -> Option<Route> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let (group, rest): (&[Kind], &[&str]) = match segments.as_slice() {
            ["api", "v1", rest @ ..] => (&[Kind::Pod, Kind::Node], rest),
            ["apis", "apps", "v1", rest @ ..] => (&[Kind::StatefulSet], rest),
            ["apis", "networking.k8s.io", "v1", rest @ ..] => (&[Kind::NetworkPolicy], rest),
            _ => return None,
        };
        let (namespace, rest) = match rest {
            ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some(ns.to_string()), rest),
            _ => (None, rest),
        };
        let (plural, name, sub) = match rest {
            [plural] => (*plural, None, None),
            [plural, name] => (*plural, Some(name.to_string()), None),
            [plural, name, sub] => (*plural, Some(name.to_string()), Some(sub.to_string())),
            _ => return None,
        };
        let kind = Kind::from_plural(plural).filter(|k| group.contains(k))?;
        // Cluster-scoped kinds have no namespace; a namespaced item needs one.
        if (!kind.namespaced() && namespace.is_some())
            || (kind.namespaced() && name.is_some() && namespace.is_none())
        {
            return None;
        }
        Some(Route {
            kind,
            namespace,
            name,
            sub,
        })
    }

    fn ns(&self) -> &str {
        self.namespace.as_deref().unwrap_or("")
    }

    fn verb(&self, method: &Method, query: &HashMap<String, String>) -> Option<Verb> {
        Some(match (method, &self.name) {
            (&Method::GET, None) if is_true(query.get("watch")) => Verb::Watch,
            (&Method::GET, None) => Verb::List,
            (&Method::GET, Some(_)) => Verb::Get,
            (&Method::POST, None) => Verb::Create,
            (&Method::PUT, Some(_)) => Verb::Update,
            (&Method::PATCH, Some(_)) => Verb::Patch,
            (&Method::DELETE, Some(_)) => Verb::Delete,
            _ => return None,
        })
    }
}

fn is_true(value: Option<&String>) -> bool {
    matches!(value.map(String::as_str), Some("1" | "true"))
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query: HashMap<String, String> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    if uri.path() == "/version" {
        return json_response(StatusCode::OK, &version());
    }
    let Some(route) = Route::parse(uri.path()) else {
        return error(&ApiError::new(
            404,
            "NotFound",
            format!(
                "the server could not find the requested resource ({})",
                uri.path()
            ),
        ));
    };
    let Some(verb) = route.verb(&method, &query) else {
        return error(&ApiError::new(
            405,
            "MethodNotAllowed",
            format!("{method} is not supported on {}", uri.path()),
        ));
    };
    let failure = shared.edit(|s| {
        s.count(verb, route.kind);
        s.take_failure(verb, route.kind)
    });
    if let Some(failure) = failure {
        return error(&failure);
    }
    let result = match verb {
        Verb::Watch => return watch(shared, &route, &query),
        Verb::List => list(&shared, &route, &query),
        Verb::Get => get(&shared, &route),
        Verb::Create => create(&shared, &route, &body),
        Verb::Update => update(&shared, &route, &body),
        Verb::Patch => patch(&shared, &route, &headers, &body),
        Verb::Delete => delete(&shared, &route, &query, &body),
        // Served by its own route (a WebSocket upgrade); never parsed here.
        Verb::Exec => Err(ApiError::new(
            405,
            "MethodNotAllowed",
            "exec is a WebSocket upgrade",
        )),
    };
    match result {
        Ok((code, value)) => json_response(code, &value),
        Err(e) => error(&e),
    }
}

type Answer = Result<(StatusCode, Value), ApiError>;

pub(super) fn json_response(code: StatusCode, value: &Value) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_vec(value).expect("JSON serialises"),
    )
        .into_response()
}

pub(super) fn error(e: &ApiError) -> Response {
    let code = StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(code, &e.status())
}

fn version() -> Value {
    json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0-clusterdeck-emulator",
           "platform": "linux/amd64"})
}

fn selector(query: &HashMap<String, String>) -> Result<LabelSelector, ApiError> {
    LabelSelector::parse(query.get("labelSelector").map_or("", String::as_str)).map_err(|e| {
        ApiError::new(
            400,
            "BadRequest",
            format!("unable to parse requirement: {e}"),
        )
    })
}

fn fields(query: &HashMap<String, String>) -> Result<FieldSelector, ApiError> {
    FieldSelector::parse(query.get("fieldSelector").map_or("", String::as_str))
        .map_err(|e| ApiError::new(400, "BadRequest", e))
}

fn body_json(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::new(400, "BadRequest", format!("the body is not JSON: {e}")))
}

// ---- list, with pagination ----

/// `limit`/`continue`: a continue token names the list's resourceVersion and
/// the last key served; the next page starts after that key. A token older
/// than the compacted history is 410 Gone, as on the real server.
fn list(shared: &Arc<Shared>, route: &Route, query: &HashMap<String, String>) -> Answer {
    let selector = selector(query)?;
    let fields = fields(query)?;
    let limit: usize = query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .filter(|l| *l > 0)
        .unwrap_or(usize::MAX);
    let after = match query.get("continue").filter(|c| !c.is_empty()) {
        Some(token) => Some(parse_continue(token)?),
        None => None,
    };
    shared.read(|store| {
        let list_rv = match &after {
            Some((rv, _, _)) if store.is_expired(*rv) => {
                return Err(ApiError::new(
                    410,
                    "Expired",
                    "The provided continue parameter is too old",
                ));
            }
            Some((rv, _, _)) => *rv,
            None => store.resource_version(),
        };
        let mut items = store.list(route.kind, route.namespace.as_deref(), &selector);
        items.retain(|(_, v)| fields.matches(v));
        let start = match &after {
            Some((_, ns, name)) => items.partition_point(|((_, n, m), _)| (n, m) <= (ns, name)),
            None => 0,
        };
        let page: Vec<_> = items[start..].iter().take(limit).collect();
        let more = start + page.len() < items.len();
        let continue_token = match (more, page.last()) {
            (true, Some(((_, ns, name), _))) => format!("{list_rv}|{ns}|{name}"),
            _ => String::new(),
        };
        let mut metadata = json!({"resourceVersion": list_rv.to_string()});
        if !continue_token.is_empty() {
            metadata["continue"] = json!(continue_token);
            metadata["remainingItemCount"] = json!(items.len() - start - page.len());
        }
        Ok((
            StatusCode::OK,
            json!({
                "kind": format!("{}List", route.kind.name()),
                "apiVersion": route.kind.api_version(),
                "metadata": metadata,
                "items": page.iter().map(|(_, v)| (*v).clone()).collect::<Vec<_>>(),
            }),
        ))
    })
}

fn parse_continue(token: &str) -> Result<(u64, String, String), ApiError> {
    let bad = || ApiError::new(400, "BadRequest", "continue key is not valid");
    let mut parts = token.splitn(3, '|');
    let rv = parts.next().and_then(|r| r.parse().ok()).ok_or_else(bad)?;
    let ns = parts.next().ok_or_else(bad)?.to_string();
    let name = parts.next().ok_or_else(bad)?.to_string();
    Ok((rv, ns, name))
}

// ---- get, create, update, patch, delete ----

fn name_of(route: &Route) -> &str {
    route.name.as_deref().unwrap_or_default()
}

fn get(shared: &Arc<Shared>, route: &Route) -> Answer {
    shared.read(|store| {
        let object = store
            .get(route.kind, route.ns(), name_of(route))
            .ok_or_else(|| ApiError::not_found(route.kind, name_of(route)))?;
        match route.sub.as_deref() {
            None | Some("status") => Ok((StatusCode::OK, object.clone())),
            Some("scale") if route.kind == Kind::StatefulSet => {
                Ok((StatusCode::OK, scale_of(object)))
            }
            Some(other) => Err(no_subresource(other)),
        }
    })
}

fn no_subresource(sub: &str) -> ApiError {
    ApiError::new(
        404,
        "NotFound",
        format!("the server could not find the requested resource ({sub})"),
    )
}

fn create(shared: &Arc<Shared>, route: &Route, body: &Bytes) -> Answer {
    if route.kind.namespaced() && route.namespace.is_none() {
        return Err(ApiError::new(
            405,
            "MethodNotAllowed",
            "create needs a namespace in the path",
        ));
    }
    let object = body_json(body)?;
    if let Some(ns) = object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        && ns != route.ns()
    {
        return Err(ApiError::new(
            400,
            "BadRequest",
            "the namespace of the object does not match the namespace of the request",
        ));
    }
    shared
        .edit(|s| s.create(route.kind, route.ns(), object))
        .map(|v| (StatusCode::CREATED, v))
}

fn update(shared: &Arc<Shared>, route: &Route, body: &Bytes) -> Answer {
    let sent = body_json(body)?;
    match route.sub.as_deref() {
        Some("scale") if route.kind == Kind::StatefulSet => {
            let replicas = sent
                .pointer("/spec/replicas")
                .cloned()
                .unwrap_or(Value::Null);
            edit_scale(
                shared,
                route,
                replicas,
                sent.pointer("/metadata/resourceVersion").cloned(),
            )
        }
        Some(other) if other != "status" => Err(no_subresource(other)),
        _ => shared
            .edit(|s| s.update(route.kind, route.ns(), name_of(route), |o| *o = sent))
            .map(|v| (StatusCode::OK, v)),
    }
}

fn patch(shared: &Arc<Shared>, route: &Route, headers: &HeaderMap, body: &Bytes) -> Answer {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let strategic = match content_type {
        "application/merge-patch+json" => false,
        "application/strategic-merge-patch+json" => true,
        other => {
            return Err(ApiError::new(
                415,
                "UnsupportedMediaType",
                format!(
                    "the body of the request was in an unknown format ({other}); this emulator accepts merge-patch+json and strategic-merge-patch+json"
                ),
            ));
        }
    };
    let sent = body_json(body)?;
    let apply = |target: &mut Value| {
        if strategic {
            strategic_merge_patch(target, &sent)
        } else {
            merge_patch(target, &sent)
        }
    };
    match route.sub.as_deref() {
        Some("scale") if route.kind == Kind::StatefulSet => {
            let current = shared
                .read(|s| s.get(route.kind, route.ns(), name_of(route)).map(scale_of))
                .ok_or_else(|| ApiError::not_found(route.kind, name_of(route)))?;
            let mut scale = current;
            apply(&mut scale);
            let replicas = scale
                .pointer("/spec/replicas")
                .cloned()
                .unwrap_or(Value::Null);
            edit_scale(
                shared,
                route,
                replicas,
                sent.pointer("/metadata/resourceVersion").cloned(),
            )
        }
        Some(other) if other != "status" => Err(no_subresource(other)),
        _ => shared
            .edit(|s| {
                s.update(route.kind, route.ns(), name_of(route), |o| {
                    // A patch without a resourceVersion applies to whatever is stored.
                    let sent_rv = sent.pointer("/metadata/resourceVersion").is_some();
                    apply(o);
                    if !sent_rv {
                        remove_resource_version(o);
                    }
                })
            })
            .map(|v| (StatusCode::OK, v)),
    }
}

/// Writes `spec.replicas` through the scale subresource and answers the new Scale.
fn edit_scale(shared: &Arc<Shared>, route: &Route, replicas: Value, rv: Option<Value>) -> Answer {
    if replicas.as_u64().is_none_or(|r| r > i32::MAX as u64) {
        return Err(ApiError::invalid(format!(
            "Scale.autoscaling \"{}\" is invalid: spec.replicas: Invalid value: {replicas}: must be greater than or equal to 0",
            name_of(route)
        )));
    }
    shared.edit(|s: &mut Store| {
        let sts = s.update(route.kind, route.ns(), name_of(route), |o| {
            o["spec"]["replicas"] = replicas;
            match rv {
                Some(rv) => o["metadata"]["resourceVersion"] = rv,
                None => remove_resource_version(o),
            }
        })?;
        let name = sts["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        // The controller has run; answer what is stored now.
        let now = s
            .get(Kind::StatefulSet, route.ns(), &name)
            .cloned()
            .unwrap_or(sts);
        Ok((StatusCode::OK, scale_of(&now)))
    })
}

fn scale_of(sts: &Value) -> Value {
    let selector = sts
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let meta = &sts["metadata"];
    json!({
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"],
                     "resourceVersion": meta["resourceVersion"], "creationTimestamp": meta["creationTimestamp"]},
        "spec": {"replicas": sts.pointer("/spec/replicas").cloned().unwrap_or(json!(1))},
        "status": {"replicas": sts.pointer("/status/replicas").cloned().unwrap_or(json!(0)), "selector": selector},
    })
}

fn delete(
    shared: &Arc<Shared>,
    route: &Route,
    query: &HashMap<String, String>,
    body: &Bytes,
) -> Answer {
    if route.sub.is_some() {
        return Err(ApiError::new(
            405,
            "MethodNotAllowed",
            "delete is not supported on a subresource",
        ));
    }
    let from_body = if body.is_empty() {
        None
    } else {
        body_json(body)?
            .get("gracePeriodSeconds")
            .and_then(Value::as_u64)
    };
    let grace = query
        .get("gracePeriodSeconds")
        .and_then(|g| g.parse().ok())
        .or(from_body);
    shared
        .edit(|s| {
            let deleted = s.delete(route.kind, route.ns(), name_of(route), grace)?;
            s.record_delete_request(route.kind, &deleted, grace);
            Ok(deleted)
        })
        .map(|v| (StatusCode::OK, v))
}

// ---- watch ----

/// Counts an open watch while its stream lives.
struct WatchGuard(Arc<Shared>);

impl Drop for WatchGuard {
    fn drop(&mut self) {
        self.0.open_watches.fetch_sub(1, Ordering::SeqCst);
    }
}

struct WatchRequest {
    kind: Kind,
    namespace: Option<String>,
    selector: LabelSelector,
    fields: FieldSelector,
    from: Option<u64>,
    bookmarks: bool,
    timeout: Duration,
}

fn watch(shared: Arc<Shared>, route: &Route, query: &HashMap<String, String>) -> Response {
    let (selector, fields) = match (selector(query), fields(query)) {
        (Ok(s), Ok(f)) => (s, f),
        (Err(e), _) | (_, Err(e)) => return error(&e),
    };
    let request = WatchRequest {
        kind: route.kind,
        namespace: route.namespace.clone(),
        selector,
        fields,
        from: query
            .get("resourceVersion")
            .and_then(|rv| rv.parse().ok())
            .filter(|rv| *rv > 0),
        bookmarks: is_true(query.get("allowWatchBookmarks")),
        timeout: Duration::from_secs(
            query
                .get("timeoutSeconds")
                .and_then(|t| t.parse().ok())
                .unwrap_or(1800),
        ),
    };
    let (tx, mut rx) = mpsc::channel::<Bytes>(256);
    shared.open_watches.fetch_add(1, Ordering::SeqCst);
    let guard = WatchGuard(Arc::clone(&shared));
    tokio::spawn(async move {
        let _guard = guard;
        serve_watch(shared, request, tx).await;
    });
    let stream = futures::stream::poll_fn(move |cx| {
        rx.poll_recv(cx).map(|b| b.map(Ok::<_, std::io::Error>))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(stream))
        .expect("a watch response")
}

fn line(event: &str, object: &Value) -> Bytes {
    let mut text = serde_json::to_vec(&json!({"type": event, "object": object})).expect("JSON");
    text.push(b'\n');
    Bytes::from(text)
}

/// What one turn of a watch has to send, read under the lock.
enum Turn {
    Send(Vec<Bytes>, u64),
    /// 410 Gone: the client must re-list.
    Expired(Bytes),
}

/// Streams changes after the client's resourceVersion until the timeout,
/// the client leaves, or the watch expires (an ERROR event with 410).
async fn serve_watch(shared: Arc<Shared>, request: WatchRequest, tx: mpsc::Sender<Bytes>) {
    let mut changed = shared.changed.subscribe();
    let deadline = tokio::time::Instant::now() + request.timeout;
    let (epoch, mut cursor, initial) = shared.read(|s| {
        // Without a resourceVersion a watch starts with the current state.
        let initial: Vec<Bytes> = match request.from {
            Some(_) => Vec::new(),
            None => s
                .list(
                    request.kind,
                    request.namespace.as_deref(),
                    &request.selector,
                )
                .into_iter()
                .filter(|(_, v)| request.fields.matches(v))
                .map(|(_, v)| line("ADDED", v))
                .collect(),
        };
        (
            s.expiry_epoch,
            request.from.unwrap_or(s.resource_version()),
            initial,
        )
    });
    for bytes in initial {
        if tx.send(bytes).await.is_err() {
            return;
        }
    }
    loop {
        let turn = shared.read(|s| next_turn(s, &request, epoch, cursor));
        match turn {
            Turn::Expired(bytes) => {
                let _ = tx.send(bytes).await;
                return;
            }
            Turn::Send(lines, next) => {
                cursor = next;
                for bytes in lines {
                    if tx.send(bytes).await.is_err() {
                        return;
                    }
                }
            }
        }
        tokio::select! {
            _ = changed.changed() => {}
            _ = sleep_or_never(shared.options.bookmark_every), if request.bookmarks => {
                let mark = json!({"kind": request.kind.name(), "apiVersion": request.kind.api_version(),
                                  "metadata": {"resourceVersion": cursor.to_string()}});
                if tx.send(line("BOOKMARK", &mark)).await.is_err() {
                    return;
                }
            }
            _ = tokio::time::sleep_until(deadline) => return,
            _ = tx.closed() => return,
        }
    }
}

fn next_turn(store: &Store, request: &WatchRequest, epoch: u64, cursor: u64) -> Turn {
    let expired = |rv| {
        Turn::Expired(line(
            "ERROR",
            &ApiError::new(410, "Expired", format!("too old resource version: {rv}")).status(),
        ))
    };
    if store.expiry_epoch != epoch {
        return expired(cursor);
    }
    match store.changes_after(request.kind, cursor) {
        Err(_) => expired(cursor),
        Ok(changes) => {
            let lines = changes
                .iter()
                .filter(|c| {
                    request
                        .namespace
                        .as_deref()
                        .is_none_or(|n| n == c.namespace)
                })
                .filter(|c| request.selector.matches(&c.object))
                .filter(|c| request.fields.matches(&c.object))
                .map(|c| line(c.event, &c.object))
                .collect();
            Turn::Send(lines, store.resource_version())
        }
    }
}

/// Sleeps `every`, or never when there is nothing to wait for.
async fn sleep_or_never(every: Option<Duration>) {
    match every {
        Some(every) => tokio::time::sleep(every).await,
        None => std::future::pending().await,
    }
}
