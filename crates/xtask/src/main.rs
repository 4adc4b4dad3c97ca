//! `cargo xtask`: the project's own automation, so a fresh machine needs only Rust.
//!
//! - `run [ARGS…]`  build the web bundle, then serve API + web (`kosuke serve ARGS…`)
//! - `test`         every check and test (PostgreSQL too when `TEST_DATABASE_URL` is set),
//!                  schemathesis against the real binary among them
//! - `web [--dev]`  build the web bundle into `web/dist`
//! - `dist`         the release binary and the release web bundle
//! - `bench [PART]` benchmarks (release build); a table on stdout, JSON in target/bench
//!
//! Each installs what it needs (the wasm target, wasm-bindgen-cli, wasm-opt from npm,
//! schemathesis from PyPI) and
//! nothing is downloaded from anywhere but the package registries.

mod tools;
mod web;

use std::process::ExitCode;
use tools::{cargo, project_root, run};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => run_kosuke(&args[1..]),
        Some("test") => test(),
        Some("web") => web::build(args.iter().any(|a| a == "--dev")).map(|_| ()),
        Some("dist") => dist(),
        Some("bench") => bench(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <run [ARGS…] | test | web [--dev] | dist | bench [sessions|api|memory|sandbox|previews|code|mergeable|web]>"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Builds the web app, then runs kosuke on the embedded default (SQLite under ./data).
fn run_kosuke(args: &[String]) -> Result<(), String> {
    tools::ensure_build_packages()?;
    // Agent commands run sandboxed by bubblewrap.
    tools::ensure_debian_packages(&["bubblewrap"])?;
    web::build(false)?;
    let mut command = cargo();
    command.args(["run", "--package", "api", "--bin", "kosuke", "--", "serve"]).args(args);
    command.env("KOSUKE_WEB_DIR", project_root().join("web/dist"));
    run(&mut command)
}

fn dist() -> Result<(), String> {
    tools::ensure_build_packages()?;
    web::build(false)?;
    run(cargo().args(["build", "--release", "--package", "api", "--bin", "kosuke"]))?;
    println!("built target/release/kosuke and web/dist; run `target/release/kosuke serve` from the repository");
    Ok(())
}

/// Benchmarks in release mode; prints a table and writes JSON under target/bench.
/// Extra arguments pick one part: `sessions`, `api`, `memory`, `sandbox`, `previews` or `web`. PostgreSQL is measured
/// too when `BENCH_DATABASE_URL` or `TEST_DATABASE_URL` is set.
fn bench(args: &[String]) -> Result<(), String> {
    tools::ensure_build_packages()?;
    run(cargo().args(["build", "--release", "--package", "api", "--bin", "kosuke"]))?;
    tools::ensure_debian_packages(&["bubblewrap"])?;
    if args.is_empty() || args.iter().any(|a| a == "web") {
        web::build(false)?;
        tools::ensure_debian_packages(&["chromium", "chromium-driver"])?;
    }
    run(cargo().args(["run", "--release", "--package", "bench", "--"]).args(args))
}

/// Crates the browser bundle must never pull in.
const SERVER_ONLY_CRATES: &[&str] = &["sea-orm", "sqlx", "actix-web", "actix-rt", "mio"];

/// Rules of the server's source that the compiler cannot check: handlers never touch sea-orm,
/// transactions begin only through `store::begin` (a write lock at once on SQLite) and commit
/// only through `store::commit`, which tells the read cache.
fn source_rules() -> Result<(), String> {
    fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let src = tools::project_root().join("api/src");
    let mut all = Vec::new();
    files(&src, &mut all);
    let mut broken = Vec::new();
    for path in all {
        let text = std::fs::read_to_string(&path).map_err(|err| format!("{}: {err}", path.display()))?;
        let name = path.strip_prefix(&src).unwrap_or(&path).display().to_string();
        if name.starts_with("routes/") && text.contains("sea_orm") {
            broken.push(format!("api/src/{name} uses sea_orm: handlers call services or store"));
        }
        // Transactions are begun and committed in one place: `store::begin` / `store::commit`
        // and the `Txn` they hand out (SQLite's write lane).
        let transactions_home = name == "store/mod.rs" || name == "store/txn.rs";
        if !transactions_home && text.contains(".commit().await") {
            broken.push(format!("api/src/{name} commits a transaction itself: use store::commit"));
        }
        if !transactions_home && text.contains(".begin().await") {
            broken.push(format!("api/src/{name} begins a transaction itself: use store::begin"));
        }
    }
    if broken.is_empty() { Ok(()) } else { Err(broken.join("\n")) }
}

fn test() -> Result<(), String> {
    tools::ensure_build_packages()?;
    run(cargo().args(["fmt", "--all", "--", "--check"]))?;

    println!("== the web app's dependency tree stays free of server crates");
    tools::rustup_target("wasm32-unknown-unknown")?;
    let tree = tools::output(cargo().args([
        "tree",
        "--package",
        "web",
        "--target",
        "wasm32-unknown-unknown",
        "--edges",
        "normal",
        "--prefix",
        "none",
        "--format",
        "{p}",
    ]))?;
    let offending: Vec<&str> = tree
        .lines()
        .filter(|line| SERVER_ONLY_CRATES.iter().any(|name| line.split_whitespace().next() == Some(*name)))
        .collect();
    if !offending.is_empty() {
        return Err(format!("the web app depends on server crates: {offending:?}"));
    }
    println!("== the server's source rules");
    source_rules()?;
    println!("== the web app builds (the browser tests use it)");
    web::build(true)?;
    tools::ensure_debian_packages(&["chromium", "chromium-driver", "bubblewrap"])?;
    println!("== schemathesis for the API contract test (PyPI, into target/schemathesis)");
    tools::ensure_schemathesis()?;

    let postgres = std::env::var("TEST_DATABASE_URL").is_ok_and(|url| !url.is_empty());
    println!(
        "== tests on SQLite{}",
        if postgres { " and PostgreSQL" } else { " (set TEST_DATABASE_URL to add PostgreSQL)" }
    );
    if tools::has_nextest() {
        let profile = if postgres { "all-backends" } else { "default" };
        run(cargo().args(["nextest", "run", "--profile", profile, "--no-fail-fast"]))
    } else {
        let mut command = cargo();
        command.args(["test", "--no-fail-fast"]);
        if !postgres {
            command.args(["--", "--skip", "::postgres"]);
        }
        run(&mut command)
    }
}
