//! The `kosuke` binary as a newcomer runs it: no flags, SQLite under ./data, created on start.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn kosuke(cwd: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kosuke"));
    command
        .current_dir(cwd)
        .env_remove("DATABASE_URL")
        .env_remove("KOSUKE_DATA_DIR")
        .env_remove("KOSUKE_BIND")
        .env_remove("KOSUKE_WEB_DIR");
    command
}

#[tokio::test]
async fn serve_with_no_flags_keeps_a_sqlite_database_under_data() {
    let cwd = tempfile::TempDir::new().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let _server = Running(
        kosuke(cwd.path())
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let client = client::Client::new(format!("http://127.0.0.1:{port}"));
    let mut health = None;
    for _ in 0..100 {
        if let Ok(answer) = client.health().await {
            health = Some(answer);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let health = health.expect("the server answers /api/health");
    assert_eq!((health.status.as_str(), health.database.as_str()), ("ok", "sqlite"));
    assert!(cwd.path().join("data/kosuke.db").is_file(), "the database is created under ./data");
    let page = reqwest::get(format!("http://127.0.0.1:{port}/projects/1")).await.unwrap();
    assert_eq!(page.status().as_u16(), 200, "non-API paths serve the web app (or how to build it)");
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
}

#[test]
fn migrate_reports_and_rolls_back_migrations() {
    let cwd = tempfile::TempDir::new().unwrap();
    let run = |args: &[&str]| {
        let output = kosuke(cwd.path()).args(args).output().unwrap();
        assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    run(&["migrate", "up"]);
    let status = run(&["migrate", "status"]);
    assert_eq!(status.lines().filter(|l| l.starts_with("applied")).count(), 4, "{status}");
    run(&["migrate", "down", "--steps", "2"]);
    let status = run(&["migrate", "status"]);
    assert_eq!(status.lines().filter(|l| l.starts_with("pending")).count(), 2, "{status}");
    assert!(status.contains("m20251101_000002_chat_sessions"));
}
