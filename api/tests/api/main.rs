//! Integration tests of the kosuke API: a real server on a random port, a fresh database per
//! test on SQLite and (with `TEST_DATABASE_URL`) PostgreSQL. One binary for the whole crate.

#![allow(clippy::unwrap_used)]

mod harness;
mod logs;

mod access;
mod accounts;
mod attention;
mod bad_input;
mod changes;
mod chat;
mod chat_events;
mod chat_failures;
mod checkpoints;
mod cli;
mod cross_site;
mod database;
mod github;
mod isolation;
mod migration;
mod node_claims;
mod node_handoffs;
mod node_takeover;
mod nodes;
mod openapi;
mod preview;
mod previews;
mod projects;
mod providers;
mod pull_life;
mod queue;
mod read_cache;
mod repository_sources;
mod review;
mod run_command;
mod run_settings;
mod session_runtime;
mod sessions;
mod transcripts;
mod update;
mod web_app;
mod workspaces;
