//! Fakes at the edge of the system, for tests only: a GitHub REST API serving GitHub's own
//! example bodies (`fixtures/github`, with their provenance), and a model provider speaking the
//! Anthropic and OpenAI streaming formats, and a git server speaking smart HTTP (`git
//! http-backend`). All listen on loopback.

pub mod git_http;
pub mod github;
pub mod model;
