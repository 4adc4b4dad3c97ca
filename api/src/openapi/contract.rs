//! What every operation of the document says by the rules the server applies to all of them,
//! written in one place so that a new route or field cannot leave them out:
//!
//! - sign-in: the security schemes, `security` and 401 on every operation but [`PUBLIC`];
//! - statuses: 403 on writes (a cookie request from another site), 400/413/415/422 with a JSON
//!   body, 400 with a query string, 400/404 with path ids, 503 where the project's node answers
//!   (`nodes::forward`), all with the `ErrorBody` schema;
//! - parameters: ids ≥ 1, `limit` 1–100, cursors opaque and non-empty, `ids` and env-var names
//!   by pattern;
//! - body fields: the lengths and patterns `api_types::validate` and the services check
//!   (`fields.rs`);
//! - event streams: `text/event-stream`, each event carrying a `RunEvent` as `data`;
//! - links: the id a create answers fills the operations under the created resource, so
//!   stateful clients (schemathesis) can follow project → sessions → messages.
//!
//! The document is JSON here: these are edits of a finished document, not of the handlers'
//! annotations. (Mind that indexing a `Value` mutably adds the key: read with `get_mut`.)

use crate::services::env_vars;
use serde_json::{Map, Value, json};

/// The operations anyone may call, signed in or not. Every other operation needs the cookie or
/// a token (`security`, 401).
pub const PUBLIC: [&str; 6] = [
    "/api/health",
    "/api/openapi.json",
    "/api/auth/signup",
    "/api/auth/login",
    "/api/auth/logout",
    // Signed by GitHub with the webhook secret instead.
    "/api/github/webhook",
];

/// The schemas of the ids in paths and bodies: positive integers.
const ID_SCHEMAS: [&str; 6] = ["ProjectId", "ChatSessionPk", "MessageId", "TokenId", "AuditEventId", "ProjectFileId"];

pub fn apply(doc: &mut Value) {
    security_schemes(doc);
    let schemas = &mut doc["components"]["schemas"];
    for name in ID_SCHEMAS {
        if let Some(schema) = schemas.get_mut(name) {
            schema["minimum"] = json!(1);
        }
    }
    super::fields::apply(schemas);
    let links = links(doc);
    let Some(paths) = doc["paths"].as_object_mut() else { return };
    for (path, item) in paths.iter_mut() {
        for (method, operation) in item.as_object_mut().into_iter().flatten() {
            operation_rules(path, method, operation);
            if method == "post"
                && let Some(found) = links.get(path)
            {
                add_links(operation, found);
            }
        }
    }
}

/// The document's paths with their operations, in order.
pub fn paths(doc: &Value) -> impl Iterator<Item = (&str, &Map<String, Value>)> {
    doc["paths"].as_object().into_iter().flatten().filter_map(|(path, item)| Some((path.as_str(), item.as_object()?)))
}

fn security_schemes(doc: &mut Value) {
    doc["components"]["securitySchemes"] = json!({
        "cookie": {"type": "apiKey", "in": "cookie", "name": crate::auth::SESSION_COOKIE,
                   "description": "The browser's sign-in (`POST /api/auth/login`)."},
        "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "kst_…",
                   "description": "A personal access token (`POST /api/me/tokens`)."},
    });
}

fn operation_rules(path: &str, method: &str, operation: &mut Value) {
    let public = PUBLIC.contains(&path);
    let has_body = operation.get("requestBody").is_some();
    let parameters = operation["parameters"].as_array().cloned().unwrap_or_default();
    let responses = &mut operation["responses"];
    let mut add = |status: &str, description: &str| {
        let response = responses
            .as_object_mut()
            .expect("every operation has responses")
            .entry(status)
            .or_insert_with(|| error_response(description));
        if response["description"].as_str().is_some_and(str::is_empty) {
            response["description"] = json!(description);
        }
    };
    if !public {
        add("401", "Not signed in, or the sign-in or token is no longer valid (`unauthenticated`).");
    }
    if method != "get" {
        add("403", "Signed in by the cookie from another site (`cross_site_request`), or not allowed.");
    }
    if has_body {
        add("400", "The body is not JSON (`malformed_json`).");
        add("413", "The body is larger than the server takes (`payload_too_large`).");
        add("415", "The body is not `application/json` (`unsupported_media_type`).");
        add("422", "A field's value is refused (`validation_failed`); `field` names it.");
    }
    if parameters.iter().any(|p| p["in"] == "query") {
        add("400", "A query parameter is malformed or out of range (`invalid_query`).");
    }
    if path.contains('{') {
        add("400", "A path id is not a positive integer (`invalid_id`).");
        add("404", "No such resource, or not yours (`not_found`).");
    }
    if crate::nodes::forward::needs_the_projects_node(method, path) {
        add("503", "Several nodes: the node holding the project is down (`node_unavailable`, naming it).");
    }
    for parameter in operation.get_mut("parameters").and_then(Value::as_array_mut).into_iter().flatten() {
        constrain_parameter(parameter);
    }
    if !public {
        operation["security"] = json!([{"cookie": []}, {"bearer": []}]);
    }
    event_streams(operation);
}

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    })
}

/// The bounds the server enforces on a parameter.
fn constrain_parameter(parameter: &mut Value) {
    let name = parameter["name"].as_str().unwrap_or_default().to_owned();
    let is_path = parameter["in"] == "path";
    let schema = &mut parameter["schema"];
    let integer = schema["type"] == "integer";
    match name.as_str() {
        "limit" => {
            schema["minimum"] = json!(1);
            schema["maximum"] = json!(api_types::MAX_PAGE_LIMIT);
        }
        "cursor" => {
            schema["minLength"] = json!(1);
            parameter["description"] = json!(
                "Opaque: the `next_cursor` of the previous page, passed back unchanged. Other values are 400 \
                 `invalid_query`."
            );
        }
        "ids" => {
            let id = "[1-9][0-9]{0,17}";
            let max = api_types::MAX_PAGE_LIMIT - 1;
            schema["pattern"] = json!(format!("^{id}(?:,{id}){{0,{max}}}$"));
        }
        "key" => {
            schema["pattern"] = json!(env_var_name_pattern());
            schema["maxLength"] = json!(env_vars::MAX_KEY_CHARS);
        }
        _ if is_path && integer => schema["minimum"] = json!(1),
        _ => {}
    }
}

/// What `env_vars::check_key` takes.
fn env_var_name_pattern() -> String {
    let prefixes = env_vars::RESERVED_PREFIXES.join("|");
    let names = env_vars::RESERVED_NAMES.join("|");
    format!("^(?!{prefixes})(?!(?:{names})$)[A-Za-z_][A-Za-z0-9_]*$")
}

/// An event stream's items: each names its event (`event:`), carries its id for
/// `Last-Event-ID`, and has one item of the schema the route declared (a `RunEvent`, a
/// `LogEvent`) as JSON in `data:`. The schema is that of one event, as OpenAPI 3.2's
/// `itemSchema` says and schemathesis reads a 3.1 stream's schema.
fn event_streams(operation: &mut Value) {
    for response in operation["responses"].as_object_mut().into_iter().flatten().map(|(_, r)| r) {
        let Some(stream) = response.get_mut("content").and_then(|c| c.get_mut("text/event-stream")) else { continue };
        let declared = stream["schema"].clone();
        *stream = json!({
            "schema": {
                "type": "object",
                "description": "One server-sent event.",
                "required": ["event", "data"],
                "properties": {
                    "event": {"type": "string", "description": "The event's name (a `RunEvent`'s `type`; `line` or `end` in a log)."},
                    "id": {"type": "string", "description": "Send the last one seen as `Last-Event-ID` to resume."},
                    "data": {
                        "type": "string",
                        "contentMediaType": "application/json",
                        "contentSchema": declared,
                    },
                },
            },
        });
    }
}

/// Whether a response of this status has a body (any success but 204).
fn answers_body(status: &str) -> bool {
    status.starts_with('2') && status != "204"
}

/// For each create (a POST whose success answers an `id`), keyed by its path, the links to the
/// operations under the created resource: the create's path with one more `{parameter}`, which
/// the answer's `id` fills; the create's own path parameters are passed on.
fn links(doc: &Value) -> std::collections::HashMap<String, Map<String, Value>> {
    let mut found: std::collections::HashMap<String, Map<String, Value>> = Default::default();
    let all: Vec<(&str, &Map<String, Value>)> = paths(doc).collect();
    for (create_path, item) in &all {
        let Some(create) = item.get("post") else { continue };
        if !create["responses"].as_object().into_iter().flatten().any(|(status, _)| answers_body(status)) {
            continue;
        }
        let create_id = create["operationId"].as_str().unwrap_or_default();
        let inherited: Vec<&str> =
            create_path.split('{').skip(1).filter_map(|p| p.split_once('}')).map(|(name, _)| name).collect();
        let prefix = format!("{create_path}/{{");
        for (path, target_item) in &all {
            let Some(rest) = path.strip_prefix(&prefix) else { continue };
            // Only what the created id and the create's own parameters name in full.
            let Some((parameter, tail)) = rest.split_once('}') else { continue };
            if tail.contains('{') {
                continue;
            }
            for target in target_item.values() {
                let Some(operation_id) = target["operationId"].as_str() else { continue };
                let mut parameters = Map::new();
                parameters.insert(format!("path.{parameter}"), json!("$response.body#/id"));
                for name in &inherited {
                    parameters.insert(format!("path.{name}"), json!(format!("$request.path.{name}")));
                }
                let link = json!({"operationId": operation_id, "parameters": parameters});
                found
                    .entry(create_path.to_string())
                    .or_default()
                    .insert(format!("{create_id}_then_{operation_id}"), link);
            }
        }
    }
    found
}

fn add_links(operation: &mut Value, links: &Map<String, Value>) {
    for (status, response) in operation["responses"].as_object_mut().into_iter().flatten() {
        if answers_body(status) {
            response["links"] = Value::Object(links.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document() -> Value {
        crate::openapi::document().clone()
    }

    #[test]
    fn creates_link_to_what_they_create() {
        let doc = document();
        let links = &doc["paths"]["/api/projects/{id}/chat-sessions"]["post"]["responses"]["201"]["links"];
        let messages = links
            .as_object()
            .unwrap()
            .values()
            .find(|link| link["operationId"] == "list_messages")
            .expect("a created session links to its messages");
        assert_eq!(messages["parameters"]["path.session_pk"], "$response.body#/id");
        assert_eq!(messages["parameters"]["path.id"], "$request.path.id");
        let project_links = &doc["paths"]["/api/projects"]["post"]["responses"]["201"]["links"];
        assert!(project_links.as_object().unwrap().values().any(|link| link["operationId"] == "create_session"));
    }

    #[test]
    fn writes_document_the_cross_site_refusal_and_streams_their_events() {
        let doc = document();
        for (path, item) in paths(&doc) {
            for (method, operation) in item {
                if method != "get" {
                    assert!(operation["responses"].get("403").is_some(), "{method} {path} documents 403");
                }
            }
        }
        let events = &doc["paths"]["/api/projects/{id}/chat-sessions/{session_pk}/events"]["get"]["responses"]["200"];
        let item = &events["content"]["text/event-stream"]["schema"];
        assert_eq!(item["properties"]["data"]["contentSchema"]["$ref"], "#/components/schemas/RunEvent");
    }
}
