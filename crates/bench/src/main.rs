//! `cargo xtask bench`: measures, prints tables and writes JSON to `target/bench/`. Numbers
//! are reported, never asserted.
//!
//! - session creation against `git worktree add` and `git clone` (`session_creation.rs`);
//! - the API under concurrent load from this process against a `kosuke` server process, next
//!   to a baseline actix process serving the same bytes from memory, then at 10,000 sessions
//!   and 1,000,000 messages with the query plans, on SQLite and on PostgreSQL when
//!   `BENCH_DATABASE_URL` or `TEST_DATABASE_URL` is set (`api_load.rs`, `load.rs`, `server.rs`);
//! - the server's memory idle, with 1,000 sessions and during 20 live runs (`memory.rs`);
//! - the web bundle's sizes and the sidebar's first paint with 5,000 chats (`web.rs`);
//! - what the sandbox costs a command turn (`sandbox.rs`);
//! - previews: New Chat until its dev server answers, with and without the spare made ahead;
//!   the preview proxy against the dev server itself; each session's disk (`previews.rs`);
//! - the Code tab on 10,000 files: first listing against the whole tree, opening a file
//!   highlighted (first time and cached), the filter (`code.rs`);
//! - keeping 50 sessions on 10,000 files mergeable: the conflict radar whole, first, cached
//!   and after one turn, and the update from the base (`mergeable.rs`);
//! - several nodes on PostgreSQL: reads through the owner and through a forwarding node, a
//!   run's events reaching a watcher through the other node, session creation with two nodes
//!   against one (`nodes.rs`).
//!
//! `bench baseline-server PORT FILE` is the baseline process itself.

#![allow(clippy::unwrap_used)]

mod api_load;
mod code;
mod load;
mod memory;
mod mergeable;
mod nodes;
mod previews;
mod sandbox;
mod server;
mod session_creation;
mod web;

use std::path::PathBuf;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("baseline-server") {
        api_load::baseline_server(args[1].parse().unwrap(), PathBuf::from(&args[2]));
        return;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let only = args.first().cloned();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    if only.as_deref().is_none_or(|o| o == "sessions") {
        let results = runtime.block_on(session_creation::run());
        write_json("session-creation.json", &results);
    }
    if only.as_deref().is_none_or(|o| o == "api") {
        let results = runtime.block_on(api_load::run());
        write_json("api-load.json", &results);
    }
    if only.as_deref().is_none_or(|o| o == "memory") {
        let results = runtime.block_on(memory::run());
        write_json("memory.json", &results);
    }
    if only.as_deref().is_none_or(|o| o == "sandbox") {
        let results = runtime.block_on(sandbox::run());
        write_json("sandbox.json", &results);
    }
    if only.as_deref().is_none_or(|o| o == "previews") {
        let results = runtime.block_on(previews::run());
        write_json("previews.json", &results);
    }
    if only.as_deref().is_none_or(|o| o == "code") {
        let results = runtime.block_on(code::run());
        write_json("code.json", &results);
    }
    if only.as_deref().is_none_or(|o| o == "mergeable") {
        let results = runtime.block_on(mergeable::run());
        write_json("mergeable.json", &results);
    }
    if only.as_deref().is_none_or(|o| o == "nodes") {
        let results = runtime.block_on(nodes::run());
        write_json("nodes.json", &results);
    }
    if only.as_deref().is_none_or(|o| o == "web") {
        let results = runtime.block_on(web::run());
        write_json("web.json", &results);
    }
}

pub fn write_json(name: &str, value: &serde_json::Value) {
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench");
    std::fs::create_dir_all(&out).unwrap();
    let path = out.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(value).unwrap()).unwrap();
    println!("wrote {}", path.canonicalize().unwrap_or(path).display());
}

pub fn machine() -> serde_json::Value {
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let model = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|info| {
        info.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
    });
    serde_json::json!({"cpus": cpus, "cpu": model})
}
