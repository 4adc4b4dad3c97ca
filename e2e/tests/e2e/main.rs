//! The black-box tests: one binary (one link) for all of them.

#![allow(clippy::unwrap_used)]

mod browser;
mod contract;
mod mergeable;
mod nodes;
mod review;
