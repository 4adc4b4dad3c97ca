//! The wire contract of the kosuke API: every request and response body, the error body,
//! and the small validation rules both ends share (title length, git ref names).
//!
//! This crate is serde-only so it builds for native targets and for `wasm32-unknown-unknown`.
//! Database derives hide behind the `db` feature (enabled by `entity` alone) and OpenAPI
//! schemas behind `openapi` (enabled by `api` alone). It must never depend on anything internal.

pub mod audit;
pub mod auth;
pub mod chat;
pub mod code;
pub mod error;
pub mod ids;
pub mod message;
pub mod nodes;
pub mod page;
pub mod project;
pub mod pull;
pub mod review;
pub mod runtime;
pub mod session;
pub mod settings;
pub mod tokens;
pub mod update;
pub mod validate;
mod wire;

pub use audit::*;
pub use auth::*;
pub use chat::*;
pub use code::*;
pub use error::*;
pub use ids::*;
pub use message::*;
pub use nodes::*;
pub use page::*;
pub use project::*;
pub use pull::*;
pub use review::*;
pub use runtime::*;
pub use session::*;
pub use settings::*;
pub use tokens::*;
pub use update::*;

use serde::{Deserialize, Serialize};

/// `GET /api/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    /// `ok` when the database answers.
    pub status: String,
    pub version: String,
    /// `sqlite` or `postgres`.
    pub database: String,
}
