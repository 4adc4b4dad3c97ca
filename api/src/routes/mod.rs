//! HTTP handlers, one module per resource. A handler extracts, calls one service or store
//! function, and answers; it holds no queries (no database types here) and no business rules.

pub mod admin;
pub mod auth;
pub mod branding;
pub mod chat;
pub mod checkpoints;
pub mod code;
pub mod env_vars;
pub mod github;
pub mod health;
pub mod members;
pub mod preview;
pub mod projects;
pub mod runtime;
pub mod sessions;
pub mod settings;
pub mod update;
pub mod web_app;

use actix_web::web::ServiceConfig;

/// Registers every API route (paths are absolute, as the OpenAPI document shows them).
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(health::health)
        .service(health::openapi_json)
        .service(auth::signup)
        .service(auth::login)
        .service(auth::logout)
        .service(auth::me)
        .service(auth::list_tokens)
        .service(auth::create_token)
        .service(auth::delete_token)
        .service(admin::list_users)
        .service(admin::list_nodes)
        .service(admin::update_user)
        .service(admin::get_settings)
        .service(admin::put_settings)
        .service(admin::create_invite)
        .service(projects::list_projects)
        .service(projects::create_project)
        .service(projects::get_project)
        .service(projects::update_project)
        .service(projects::delete_project)
        .service(members::list_members)
        .service(members::add_member)
        .service(members::remove_member)
        .service(sessions::list_sessions)
        .service(sessions::create_session)
        .service(sessions::get_session)
        .service(sessions::update_session)
        .service(sessions::delete_session)
        .service(sessions::list_messages)
        .service(sessions::duplicate_session)
        .service(sessions::mark_read)
        .service(code::list_files)
        .service(code::get_file)
        .service(code::get_diff)
        .service(code::get_branch_status)
        .service(code::get_branch_statuses)
        .service(settings::list_branches)
        .service(github::get_github)
        .service(github::put_github)
        .service(github::delete_github)
        .service(github::create_pull_request)
        .service(github::refresh_pull_request)
        .service(github::describe_pull_request)
        .service(github::webhook)
        .service(chat::get_agent)
        .service(chat::post_chat)
        .service(chat::get_events)
        .service(chat::cancel_run)
        .service(chat::list_runs)
        .service(chat::list_queue)
        .service(chat::edit_queued)
        .service(chat::cancel_queued)
        .service(env_vars::list_env_vars)
        .service(env_vars::set_env_var)
        .service(env_vars::delete_env_var)
        .service(checkpoints::revert)
        .service(checkpoints::undo_revert)
        .service(checkpoints::fork)
        .service(update::update_session)
        .service(update::abort_update)
        .service(update::get_conflicts)
        .service(preview::get_preview)
        .service(preview::post_preview)
        .service(preview::get_preview_events)
        .service(preview::list_previews)
        .service(branding::get_branding)
        .service(branding::put_branding)
        .service(preview::preview_file)
        .service(settings::get_default_branch)
        .service(settings::put_default_branch)
        .service(settings::list_audit)
        .service(runtime::get_run_settings)
        .service(runtime::put_run_settings)
        .service(runtime::put_project_file)
        .service(runtime::delete_project_file)
        .service(runtime::get_setup)
        .service(runtime::post_setup)
        .service(runtime::get_setup_events)
        .service(runtime::get_disk);
}
