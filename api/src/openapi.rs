//! The OpenAPI document, generated from the handlers' `#[utoipa::path]` annotations and the
//! wire types' schemas, served at `/api/openapi.json`.

use crate::routes::{
    admin, auth, branding, chat, code, env_vars, github, health, members, preview, projects, sessions, settings,
};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "kosuke API",
        description = "Projects, chat sessions and their branches. Errors are {\"error\", \"code\"}."
    ),
    paths(
        health::health,
        health::openapi_json,
        auth::signup,
        auth::login,
        auth::logout,
        auth::me,
        auth::list_tokens,
        auth::create_token,
        auth::delete_token,
        admin::list_users,
        admin::update_user,
        admin::get_settings,
        admin::put_settings,
        admin::create_invite,
        projects::list_projects,
        projects::create_project,
        projects::get_project,
        projects::update_project,
        projects::delete_project,
        members::list_members,
        members::add_member,
        members::remove_member,
        sessions::list_sessions,
        sessions::create_session,
        sessions::get_session,
        sessions::update_session,
        sessions::delete_session,
        sessions::list_messages,
        sessions::duplicate_session,
        code::list_files,
        code::get_file,
        code::get_diff,
        code::get_branch_status,
        code::get_branch_statuses,
        settings::list_branches,
        github::get_github,
        github::put_github,
        github::delete_github,
        github::create_pull_request,
        chat::get_agent,
        chat::post_chat,
        chat::get_events,
        chat::cancel_run,
        chat::list_runs,
        env_vars::list_env_vars,
        env_vars::set_env_var,
        env_vars::delete_env_var,
        preview::preview_link,
        branding::get_branding,
        branding::put_branding,
        settings::get_default_branch,
        settings::put_default_branch,
        settings::list_audit,
    ),
    components(schemas(api_types::ErrorCode, api_types::ChatSessionStatus, api_types::MessageOrder, api_types::ErrorBody)),
    modifiers(&Contract)
)]
struct ApiDoc;

/// The operations anyone may call, signed in or not. Every other operation needs the cookie or
/// a token (`security`, 401).
pub const PUBLIC: [&str; 5] =
    ["/api/health", "/api/openapi.json", "/api/auth/signup", "/api/auth/login", "/api/auth/logout"];

/// What every operation can answer by the rules the server applies to all of them, written in
/// one place so that a new route cannot leave them out: the sign-in (security schemes, 401),
/// a JSON body (400 malformed, 413, 415, 422), path ids (400 bad id, 404; ids are ≥ 1), query
/// strings (400 bad query; `limit` 1–100).
struct Contract;

impl utoipa::Modify for Contract {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement};
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "cookie",
            utoipa::openapi::security::SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("kosuke_session"))),
        );
        components.add_security_scheme(
            "bearer",
            utoipa::openapi::security::SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("kst_…").build(),
            ),
        );
        for (path, item) in doc.paths.paths.iter_mut() {
            let has_path_ids = path.contains('{');
            for operation in
                [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete].into_iter().flatten()
            {
                let mut add = |status: &str, description: &str| {
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| error_response(description));
                };
                if !PUBLIC.contains(&path.as_str()) {
                    add("401", "Not signed in, or the sign-in or token is no longer valid.");
                }
                if operation.request_body.is_some() {
                    add("400", "The body is not JSON of the documented shape (`malformed_json`).");
                    add("413", "The body is larger than the server takes.");
                    add("415", "The body is not `application/json`.");
                    add("422", "A field's value is refused; `field` names it.");
                }
                let queries = operation
                    .parameters
                    .iter()
                    .flatten()
                    .any(|p| matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Query));
                if queries {
                    add("400", "A query parameter is malformed or out of range (`invalid_query`).");
                }
                if has_path_ids {
                    add("400", "A path id is not a positive integer (`invalid_id`).");
                    add("404", "No such resource, or not yours.");
                }
                for parameter in operation.parameters.iter_mut().flatten() {
                    constrain(parameter);
                }
                if !PUBLIC.contains(&path.as_str()) {
                    operation.security = Some(vec![
                        SecurityRequirement::new("cookie", Vec::<String>::new()),
                        SecurityRequirement::new("bearer", Vec::<String>::new()),
                    ]);
                }
            }
        }
    }
}

fn error_response(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    ResponseBuilder::new()
        .description(description)
        .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build())
        .build()
        .into()
}

/// The bounds the server enforces on a parameter: ids are ≥ 1, `limit` is 1–100.
fn constrain(parameter: &mut utoipa::openapi::path::Parameter) {
    use utoipa::openapi::{RefOr, Schema};
    let is_path = matches!(parameter.parameter_in, utoipa::openapi::path::ParameterIn::Path);
    let Some(RefOr::T(Schema::Object(schema))) = parameter.schema.as_mut() else { return };
    let integer =
        matches!(schema.schema_type, utoipa::openapi::schema::SchemaType::Type(utoipa::openapi::schema::Type::Integer));
    if parameter.name == "limit" {
        schema.minimum = Some(utoipa::Number::Int(1));
        schema.maximum = Some(utoipa::Number::Int(api_types::MAX_PAGE_LIMIT as isize));
    } else if is_path && integer {
        schema.minimum = Some(utoipa::Number::Int(1));
    }
}

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The methods the document gives a request path (`/api/projects/7`), when it is one of its
/// paths: what a 405's `Allow` says. Read from the document, so it cannot disagree with it.
pub fn methods_of(path: &str) -> Option<Vec<&'static str>> {
    static ROUTES: std::sync::LazyLock<Vec<(actix_web::dev::ResourceDef, Vec<&'static str>)>> =
        std::sync::LazyLock::new(|| {
            document()
                .paths
                .paths
                .iter()
                .map(|(template, item)| {
                    let methods = [
                        ("GET", item.get.is_some()),
                        ("POST", item.post.is_some()),
                        ("PUT", item.put.is_some()),
                        ("PATCH", item.patch.is_some()),
                        ("DELETE", item.delete.is_some()),
                    ];
                    let allowed = methods.into_iter().filter(|(_, has)| *has).map(|(method, _)| method).collect();
                    (actix_web::dev::ResourceDef::new(template.as_str()), allowed)
                })
                .collect()
        });
    ROUTES.iter().find(|(route, _)| route.is_match(path)).map(|(_, methods)| methods.clone())
}
