//! sea-orm entities, one module per table. Only column shapes and relations live here:
//! queries belong to `api::store`, schema changes to `migration`.

pub mod agent_run;
pub mod api_token;
pub mod audit_event;
pub mod auth_session;
pub mod chat_message;
pub mod chat_session;
pub mod convert;
pub mod github_credential;
pub mod invite;
pub mod node;
pub mod project;
pub mod project_env_var;
pub mod project_file;
pub mod project_member;
pub mod project_run_settings;
pub mod queued_prompt;
pub mod run_journal;
pub mod server_setting;
pub mod session_event;
pub mod session_setup;
pub mod user;
