//! Fakes at the edge of the system, for tests only: a GitHub REST API serving GitHub's own
//! example bodies (`fixtures/github`, with their provenance), and a model provider speaking the
//! Anthropic and OpenAI streaming formats. Both listen on loopback and record what they get.

pub mod github;
pub mod model;
