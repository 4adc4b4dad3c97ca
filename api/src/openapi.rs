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
    components(schemas(api_types::ErrorCode, api_types::ChatSessionStatus, api_types::MessageOrder))
)]
struct ApiDoc;

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
