//! The kosuke server: actix-web JSON API under `/api`, the built web app at `/`, and the
//! command line of the `kosuke` binary.
//!
//! Layers, from the outside in: `routes` (thin handlers: extract, call one service or store
//! function, answer), `services` (use cases and input rules), `store` (every query), with
//! `auth`, `error` and `extract` shared by the routes. `routes` never imports `sea_orm`.

pub mod access;
pub mod auth;
pub mod cache;
pub mod cli;
pub mod csrf;
pub mod db;
pub mod error;
pub mod events;
pub mod extract;
pub mod faults;
pub mod nodes;
pub mod openapi;
pub mod pagination;
pub mod previews;
pub mod process_log;
pub mod routes;
pub mod runtime;
pub mod secrets;
pub mod services;
pub mod settings;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod workspaces;
