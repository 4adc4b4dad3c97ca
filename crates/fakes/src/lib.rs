//! Fakes at the edge of the system, for tests only: a GitHub REST API serving GitHub's own
//! example bodies (`fixtures/github`, with their provenance), and a model provider speaking the
//! Anthropic and OpenAI streaming formats, and a git server speaking smart HTTP (`git
//! http-backend`), and a dev server for the sessions' previews (`dev_server.py`, run in the
//! sandbox). All listen on loopback.

pub mod dev_server;
pub mod git_http;
pub mod github;
pub mod model;
