//! The OpenAPI document, generated from the handlers' `#[utoipa::path]` annotations and the
//! wire types' schemas, served at `/api/openapi.json`.

use crate::routes::{
    admin, auth, branding, chat, checkpoints, code, env_vars, github, health, members, preview, projects, runtime,
    sessions, settings, update,
};
use utoipa::OpenApi;

mod contract;
mod fields;
pub use contract::PUBLIC;

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
        admin::list_nodes,
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
        sessions::mark_read,
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
        github::refresh_pull_request,
        github::describe_pull_request,
        github::webhook,
        chat::get_agent,
        chat::post_chat,
        chat::get_events,
        chat::cancel_run,
        chat::list_runs,
        chat::list_queue,
        chat::edit_queued,
        chat::cancel_queued,
        env_vars::list_env_vars,
        env_vars::set_env_var,
        env_vars::delete_env_var,
        checkpoints::revert,
        checkpoints::undo_revert,
        checkpoints::fork,
        update::update_session,
        update::abort_update,
        update::get_conflicts,
        preview::get_preview,
        preview::post_preview,
        preview::get_preview_events,
        preview::list_previews,
        branding::get_branding,
        branding::put_branding,
        settings::get_default_branch,
        settings::put_default_branch,
        settings::list_audit,
        runtime::get_run_settings,
        runtime::put_run_settings,
        runtime::put_project_file,
        runtime::delete_project_file,
        runtime::get_setup,
        runtime::post_setup,
        runtime::get_setup_events,
        runtime::get_disk,
    ),
    components(schemas(
        api_types::ErrorCode,
        api_types::ChatSessionStatus,
        api_types::MessageOrder,
        api_types::ErrorBody
    ))
)]
struct ApiDoc;

/// The document as served: the annotations' output with the rules every route follows
/// ([`contract`]). Built once.
pub fn document() -> &'static serde_json::Value {
    static DOCUMENT: std::sync::LazyLock<serde_json::Value> = std::sync::LazyLock::new(|| {
        let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document serializes");
        contract::apply(&mut doc);
        doc
    });
    &DOCUMENT
}

/// The methods the document gives a request path (`/api/projects/7`), when it is one of its
/// paths: what a 405's `Allow` says. Read from the document, so it cannot disagree with it.
pub fn methods_of(path: &str) -> Option<Vec<&'static str>> {
    static ROUTES: std::sync::LazyLock<Vec<(actix_web::dev::ResourceDef, Vec<&'static str>)>> =
        std::sync::LazyLock::new(|| {
            contract::paths(document())
                .map(|(template, item)| {
                    let allowed = ["GET", "POST", "PUT", "PATCH", "DELETE"]
                        .into_iter()
                        .filter(|method| item.get(&method.to_ascii_lowercase()).is_some())
                        .collect();
                    (actix_web::dev::ResourceDef::new(template), allowed)
                })
                .collect()
        });
    ROUTES.iter().find(|(route, _)| route.is_match(path)).map(|(_, methods)| methods.clone())
}
