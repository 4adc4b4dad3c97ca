//! Use cases: the input rules, the transaction boundaries and the audit trail. Handlers call
//! one function here (or a plain store read) and answer with its result. As git, GitHub and
//! the agent arrive, the functions that must touch them alongside the database live here too.

pub mod accounts;
pub mod admin;
pub mod branding;
pub mod chat;
pub mod checkpoints;
pub mod code;
pub mod disk;
pub mod env_vars;
pub mod github;
pub mod preview;
pub mod projects;
pub mod pull_describe;
pub mod pull_life;
pub mod radar;
pub mod run_settings;
pub mod sessions;
pub mod settings;
pub mod setup;
pub mod sources;
pub mod transcripts;
pub mod update;
