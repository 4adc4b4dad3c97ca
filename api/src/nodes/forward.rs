//! Requests answered by the node that holds the project. Each project — its mirror and its
//! sessions' checkouts, runs, setups and dev servers — lives on one node (`projects.owner_node`,
//! chosen when it is made: the live node with the fewest active sessions). Any node takes any
//! request; what needs the project's files (the code, diffs, branch statuses, cancel, archive,
//! delete, updates, the radar, setups and previews' state) is sent on to the owner, streamed
//! both ways, and what only reads the database is answered where it lands (run events too:
//! they are stored, `crate::events`). A prompt (`POST /api/chat`) is stored where it lands and
//! claimed by the owner (`services::chat::claim`); one with a token for its push goes to the
//! owner, as the token is never stored.
//!
//! The node-to-node credential: the forwarding node signs the request's time, method, path
//! and the user it vouches for with the shared `--node-secret` (HMAC-SHA256, in
//! `x-kosuke-node-auth: {unix seconds}.{hex}`, the user's id in `x-kosuke-node-user`); the
//! owner takes the user from there, never from a cookie or token (those are not sent on). A
//! signature older than a minute, or not the secret's, is 401.

use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes, BytesMut};
use actix_web::{FromRequest, HttpMessage, HttpResponse, ResponseError};
use futures_util::StreamExt;
use std::sync::LazyLock;

/// The forwarding node's signature: `{unix seconds}.{HMAC-SHA256 hex}`.
pub const NODE_AUTH: &str = "x-kosuke-node-auth";
/// The user the forwarding node signed in.
pub const NODE_USER: &str = "x-kosuke-node-user";
/// How old a signature may be (the nodes' clocks agree within this).
const MAX_AGE_SECS: i64 = 60;
/// The largest request body sent on (uploads included).
const MAX_BODY: usize = 64 * 1024 * 1024;

/// The user a forwarding node vouched for, its signature checked; `CurrentUser` takes it.
#[derive(Debug, Clone)]
pub struct Vouched(pub String);

/// Where a request is answered.
#[derive(Debug, PartialEq, Eq)]
enum Placement {
    Here,
    /// On the node holding project `id`.
    Project(i32),
    /// A new project: on the least loaded live node.
    NewProject,
    /// `POST /api/chat`: the project is named in the body.
    ChatBody,
}

/// Which requests need the project's node: by method and the path after `/api/projects/{id}`.
fn placement(method: &Method, path: &str) -> Placement {
    if path == "/api/chat" && method == Method::POST {
        return Placement::ChatBody;
    }
    if path == "/api/projects" || path == "/api/projects/" {
        return if method == Method::POST { Placement::NewProject } else { Placement::Here };
    }
    let Some(rest) = path.strip_prefix("/api/projects/") else { return Placement::Here };
    let (id, rest) = rest.split_once('/').map_or((rest, ""), |(id, rest)| (id, rest));
    let Some(id) = id.parse::<i32>().ok().filter(|id| *id > 0) else { return Placement::Here };
    let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
    let get = method == Method::GET;
    let owner = match parts.as_slice() {
        // The project itself: deleting it removes its mirror.
        [] => method == Method::DELETE,
        ["chat-sessions"] => !get,
        // Archive, restore and delete touch the checkout.
        ["chat-sessions", _] => !get,
        // Read from the database wherever the request lands.
        ["chat-sessions", _, "messages" | "runs" | "queue"] => !get,
        ["chat-sessions", _, "read"] => false,
        // Run events are stored: any node streams them.
        ["chat-sessions", _, "events"] => !get,
        ["chat-sessions", ..] => true,
        ["conflicts" | "branch-statuses" | "disk" | "previews"] => true,
        ["settings", "default-branch"] => !get,
        _ => false,
    };
    if owner { Placement::Project(id) } else { Placement::Here }
}

/// Whether the operation at `path` (a path of the OpenAPI document, `{…}` for its ids) is
/// answered by the project's node, so it can be 503 `node_unavailable` when that is down.
pub fn needs_the_projects_node(method: &str, path: &str) -> bool {
    let Ok(method) = Method::from_bytes(method.to_ascii_uppercase().as_bytes()) else { return false };
    let concrete: Vec<&str> =
        path.split('/').map(|part| if part.starts_with('{') && part.ends_with('}') { "1" } else { part }).collect();
    matches!(placement(&method, &concrete.join("/")), Placement::Project(_) | Placement::ChatBody)
}

/// The message a forwarding node signs.
fn signed(at: i64, method: &str, path_and_query: &str, user_id: &str) -> String {
    format!("{at}\n{method}\n{path_and_query}\n{user_id}")
}

/// The user a forwarded request vouches for, when its signature is the node secret's and
/// fresh.
fn vouched_user(secret: &str, req: &ServiceRequest) -> Option<String> {
    let text = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let (at, signature) = text(NODE_AUTH)?.split_once('.')?;
    let user = text(NODE_USER)?;
    let at: i64 = at.parse().ok()?;
    if (chrono::Utc::now().timestamp() - at).abs() > MAX_AGE_SECS {
        return None;
    }
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let message = signed(at, req.method().as_str(), path, user);
    crate::secrets::hmac_sha256_matches(secret.as_bytes(), message.as_bytes(), signature).then(|| user.to_owned())
}

/// The middleware: vouched requests are answered here; requests for another node's project
/// are sent there.
pub async fn route(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next.call(req).await.map(ServiceResponse::map_into_boxed_body);
    };
    let (Some(me), Some(secret)) = (state.node_id, state.settings.node_secret.clone()) else {
        return next.call(req).await.map(ServiceResponse::map_into_boxed_body);
    };
    if req.headers().contains_key(NODE_AUTH) {
        let Some(user) = vouched_user(&secret, &req) else {
            tracing::warn!(path = req.path(), "refused a node-to-node request with a wrong or stale signature");
            return Ok(req.into_response(ApiError::Unauthenticated.error_response()));
        };
        req.extensions_mut().insert(Vouched(user));
        return next.call(req).await.map(ServiceResponse::map_into_boxed_body);
    }
    match owner_of(&state, &mut req, me).await {
        Ok(None) => next.call(req).await.map(ServiceResponse::map_into_boxed_body),
        Ok(Some((node, body))) => {
            let (http, payload) = req.parts_mut();
            let answer = match CurrentUser::from_request(http, payload).await {
                Ok(user) => send(&secret, &node, &req, &user, body).await,
                Err(err) => err.error_response(),
            };
            Ok(req.into_response(answer))
        }
        Err(err) => Ok(req.into_response(err.error_response())),
    }
}

/// The node to send the request to (with its body, read), or `None` to answer it here.
async fn owner_of(
    state: &AppState,
    req: &mut ServiceRequest,
    me: i32,
) -> Result<Option<(entity::node::Model, Bytes)>, ApiError> {
    // The body, when the placement is read from it (it is put back for the handler).
    let mut peeked = None;
    let project = match placement(req.method(), req.path()) {
        Placement::Here => return Ok(None),
        Placement::Project(id) => Some(id),
        Placement::NewProject | Placement::ChatBody => {
            let body = read_body(req).await?;
            let value = serde_json::from_slice::<serde_json::Value>(&body).unwrap_or_default();
            // The handler reads the body again (and refuses it if it is not what it takes).
            req.set_payload(actix_web::dev::Payload::from(body.clone()));
            peeked = Some(body);
            if req.path() == "/api/chat" {
                // Stored here and claimed by the owner (`services::chat::claim`), unless it
                // brings a token for its push: that is never stored, so it goes to the owner.
                let token = value["github_token"].as_str().is_some_and(|t| !t.trim().is_empty());
                match value["project_id"].as_i64().and_then(|id| i32::try_from(id).ok()) {
                    Some(id) if token => Some(id),
                    _ => return Ok(None),
                }
            } else if placed_anywhere(&value["repository"]) {
                None
            } else {
                return Ok(None);
            }
        }
    };
    let owner = match project {
        // Here, alone when it was made, or no such project (the handler says 404): answered here.
        Some(id) => match super::held_elsewhere(state, id).await? {
            Some(owner) => owner,
            None => return Ok(None),
        },
        None => match super::least_loaded(state).await? {
            Some(node) => store::nodes::find(&state.db, node).await?.ok_or_else(|| down(node))?,
            None => return Ok(None),
        },
    };
    if owner.id == me {
        return Ok(None);
    }
    if !super::alive(&state.settings, owner.heartbeat_at) {
        return Err(down(owner.id));
    }
    let body = match peeked {
        Some(body) => body,
        None => read_body(req).await?,
    };
    Ok(Some((owner, body)))
}

/// Whether a new project may go to any node: its repository is fetched from a remote. A
/// directory on the server's disk (a local path, a `file://` URL) or a new empty repository
/// stays on the node the request came to.
fn placed_anywhere(repository: &serde_json::Value) -> bool {
    match repository["kind"].as_str() {
        Some("github") => true,
        Some("git") => repository["url"].as_str().is_some_and(|url| !url.trim_start().starts_with("file:")),
        _ => false,
    }
}

pub(crate) fn down(node: i32) -> ApiError {
    ApiError::Unavailable {
        code: api_types::ErrorCode::NodeUnavailable,
        message: format!(
            "The project is held by node {node}, which is down; it is unavailable until that node is back."
        ),
    }
}

async fn read_body(req: &mut ServiceRequest) -> Result<Bytes, ApiError> {
    let mut payload = req.take_payload();
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| {
            ApiError::bad_request(api_types::ErrorCode::MalformedJson, "The request body could not be read.")
        })?;
        if body.len() + chunk.len() > MAX_BODY {
            return Err(ApiError::PayloadTooLarge { limit: MAX_BODY });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// What never crosses from one node to the next: the caller's credentials, the connection's
/// own headers, and the encodings taken (the node that answers the browser compresses).
fn stays(name: &str) -> bool {
    matches!(
        name,
        "cookie"
            | "authorization"
            | "host"
            | "connection"
            | "keep-alive"
            | "transfer-encoding"
            | "te"
            | "trailer"
            | "upgrade"
            | "proxy-authorization"
            | "proxy-connection"
            | "content-length"
            | "accept-encoding"
            | NODE_AUTH
            | NODE_USER
    )
}

/// The client nodes call each other with: no proxy from the environment, a bounded connect,
/// no overall time limit (event streams stay open).
static CLIENT: LazyLock<reqwest::Client> = LazyLock::new(|| {
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(std::time::Duration::from_secs(5))
        .build()
        .expect("a reqwest client without TLS settings builds")
});

/// What this node does on behalf of `user_id` in a project another node holds (a webhook's
/// archive): sent there, signed as a forwarded request is. `Ok(false)` when this node holds
/// the project (or runs alone): the caller does it here.
pub async fn on_projects_node(
    state: &AppState,
    project_id: i32,
    user_id: &str,
    method: Method,
    path: &str,
    body: &serde_json::Value,
) -> Result<bool, ApiError> {
    let Some(secret) = state.settings.node_secret.as_deref() else { return Ok(false) };
    let Some(node) = super::held_elsewhere(state, project_id).await? else { return Ok(false) };
    if !super::alive(&state.settings, node.heartbeat_at) {
        return Err(down(node.id));
    }
    let out = signed_request(secret, &node, &method, path, user_id).ok_or(ApiError::NoRoute)?;
    let answer = out.json(body).send().await.map_err(|_| down(node.id))?;
    if !answer.status().is_success() {
        let status = answer.status();
        let text = answer.text().await.unwrap_or_default();
        return Err(ApiError::internal(format!("node {} answered {status}: {text}", node.id)));
    }
    Ok(true)
}

/// A request to `node` for `method path`, signed as coming from this node on behalf of
/// `user_id` (`None` for a method reqwest does not take).
fn signed_request(
    secret: &str,
    node: &entity::node::Model,
    method: &Method,
    path: &str,
    user_id: &str,
) -> Option<reqwest::RequestBuilder> {
    let at = chrono::Utc::now().timestamp();
    let signature =
        crate::secrets::hmac_sha256_hex(secret.as_bytes(), signed(at, method.as_str(), path, user_id).as_bytes());
    let method = reqwest::Method::from_bytes(method.as_str().as_bytes()).ok()?;
    let out = CLIENT.request(method, format!("{}{path}", node.url.trim_end_matches('/')));
    Some(out.header(NODE_AUTH, format!("{at}.{signature}")).header(NODE_USER, user_id))
}

/// Sends the request to `node` on behalf of `user` and streams its answer back.
async fn send(
    secret: &str,
    node: &entity::node::Model,
    req: &ServiceRequest,
    user: &CurrentUser,
    body: Bytes,
) -> HttpResponse {
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let Some(mut out) = signed_request(secret, node, req.method(), path, &user.id) else {
        return ApiError::NoRoute.error_response();
    };
    for (name, value) in req.headers() {
        if !stays(name.as_str()) {
            out = out.header(name.as_str(), value.as_bytes());
        }
    }
    let sent = out.body(body).send().await;
    let answer = match sent {
        Ok(answer) => answer,
        Err(err) => {
            tracing::warn!(node_id = node.id, url = %node.url, error = %err, "could not reach the project's node");
            return down(node.id).error_response();
        }
    };
    let status = actix_web::http::StatusCode::from_u16(answer.status().as_u16())
        .unwrap_or(actix_web::http::StatusCode::BAD_GATEWAY);
    let mut response = HttpResponse::build(status);
    for (name, value) in answer.headers() {
        // The owner never compresses (no `Accept-Encoding` was sent on); an event stream's
        // `identity` is kept, so this node does not compress it either.
        if !stays(name.as_str()) {
            if let (Ok(name), Ok(value)) = (
                header::HeaderName::from_bytes(name.as_str().as_bytes()),
                header::HeaderValue::from_bytes(value.as_bytes()),
            ) {
                response.append_header((name, value));
            }
        }
    }
    response.streaming(answer.bytes_stream())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_needs_the_projects_node_is_told_from_what_the_database_answers() {
        let cases = [
            (Method::GET, "/api/projects", Placement::Here),
            (Method::POST, "/api/projects", Placement::NewProject),
            (Method::POST, "/api/chat", Placement::ChatBody),
            (Method::GET, "/api/projects/7", Placement::Here),
            (Method::PUT, "/api/projects/7", Placement::Here),
            (Method::DELETE, "/api/projects/7", Placement::Project(7)),
            (Method::GET, "/api/projects/7/chat-sessions", Placement::Here),
            (Method::POST, "/api/projects/7/chat-sessions", Placement::Project(7)),
            (Method::GET, "/api/projects/7/chat-sessions/3", Placement::Here),
            (Method::PUT, "/api/projects/7/chat-sessions/3", Placement::Project(7)),
            (Method::GET, "/api/projects/7/chat-sessions/3/messages", Placement::Here),
            (Method::GET, "/api/projects/7/chat-sessions/3/events", Placement::Here),
            (Method::GET, "/api/projects/7/chat-sessions/3/files/src/main.rs", Placement::Project(7)),
            (Method::POST, "/api/projects/7/chat-sessions/3/read", Placement::Here),
            (Method::GET, "/api/projects/7/conflicts", Placement::Project(7)),
            (Method::GET, "/api/projects/7/members", Placement::Here),
            (Method::PUT, "/api/projects/7/settings/default-branch", Placement::Project(7)),
            (Method::GET, "/api/projects/0/conflicts", Placement::Here),
            (Method::GET, "/api/projects/x/conflicts", Placement::Here),
            (Method::GET, "/api/me", Placement::Here),
        ];
        for (method, path, expected) in cases {
            assert_eq!(placement(&method, path), expected, "{method} {path}");
        }
    }

    #[test]
    fn the_documents_operations_are_placed_by_their_templates() {
        assert!(needs_the_projects_node("get", "/api/projects/{id}/chat-sessions/{session_pk}/files"));
        assert!(needs_the_projects_node("post", "/api/chat"));
        assert!(!needs_the_projects_node("get", "/api/projects/{id}/chat-sessions/{session_pk}/events"));
        assert!(!needs_the_projects_node("get", "/api/projects/{id}/chat-sessions"));
        assert!(!needs_the_projects_node("post", "/api/projects"));
    }
}
