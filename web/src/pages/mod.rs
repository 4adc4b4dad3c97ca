//! Screens. Each page loads its own data; components below them only take props.

pub mod account;
pub mod auth;
pub mod projects;
pub mod workspace;
