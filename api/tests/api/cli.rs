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
    let port = crate::harness::free_port();
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
    assert_eq!(status.lines().filter(|l| l.starts_with("applied")).count(), 19, "{status}");
    run(&["migrate", "down", "--steps", "2"]);
    let status = run(&["migrate", "status"]);
    assert_eq!(status.lines().filter(|l| l.starts_with("pending")).count(), 2, "{status}");
    assert!(status.contains("m20251101_000002_chat_sessions"));
}

/// Signs up (or in) `ann` on a server and returns a client for her.
async fn ann(address: &str, first_time: bool) -> client::Client {
    let client = client::Client::new(address);
    // (Up to 30 s: in `cargo test` every test of the crate runs at once beside it.)
    for _ in 0..300 {
        if client.health().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if first_time {
        let signup = api_types::SignupRequest {
            email: "ann@example.test".into(),
            password: "ann-password".into(),
            display_name: "Ann".into(),
        };
        client.signup(&signup).await.unwrap();
    } else {
        let login = api_types::LoginRequest { email: "ann@example.test".into(), password: "ann-password".into() };
        client.login(&login).await.unwrap();
    }
    client
}

fn serve(data: &std::path::Path, model_url: &str) -> (Running, String) {
    let port = crate::harness::free_port();
    let child = kosuke(data)
        .args(["serve", "--bind", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(data.join("data"))
        .env("KOSUKE_AGENT_PROVIDER", "anthropic")
        .env("KOSUKE_AGENT_MODEL", "claude-test")
        .env("KOSUKE_AGENT_BASE_URL", model_url)
        .env("KOSUKE_AGENT_API_KEY", "sk-test")
        .env("KOSUKE_AGENT_STALL_TIMEOUT", "120")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (Running(child), format!("http://127.0.0.1:{port}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_run_restarts_with_the_run_interrupted_and_its_output_kept() {
    use api_types::*;
    use fakes::model::{FakeModel, Reply, text};
    let model = FakeModel::start().await;
    model.script([Reply::Stall]);
    let dir = tempfile::TempDir::new().unwrap();
    let (server, address) = serve(dir.path(), &model.url);
    let client = ann(&address, true).await;
    let project = client
        .create_project(&CreateProjectRequest {
            name: "p".into(),
            description: None,
            repository: RepositorySource::Empty,
            default_branch: None,
        })
        .await
        .unwrap();
    while client.get_project(project.id).await.unwrap().repository_state == RepositoryState::Cloning {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let session = client
        .create_chat_session(
            project.id,
            &CreateChatSessionRequest { title: "s".into(), description: None, base_branch: None },
        )
        .await
        .unwrap();
    let chat = ChatRequest {
        project_id: project.id,
        chat_session_id: session.id,
        prompt: "Start".into(),
        github_token: None,
        queue: false,
        comments: Vec::new(),
    };
    let accepted = client.send_chat(&chat).await.unwrap();
    let saved = |client: client::Client| async move {
        let messages = client.list_messages(project.id, session.id, &MessageQuery::default()).await.unwrap();
        messages
            .messages
            .into_iter()
            .find(|m| m.id == accepted.assistant_message_id)
            .map(|m| m.content)
            .unwrap_or_default()
    };
    for _ in 0..200 {
        if saved(client.clone()).await.contains("partial answer") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // Shown live from memory; the kill may come once its text is in the run's stored events.
    let db = sea_orm::Database::connect(format!("sqlite://{}?mode=ro", dir.path().join("data/kosuke.db").display()))
        .await
        .unwrap();
    let mut stored = 0;
    for _ in 0..400 {
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        let deltas = entity::session_event::Entity::find()
            .filter(entity::session_event::Column::RunId.eq(accepted.run_id.0))
            .filter(entity::session_event::Column::Kind.eq("text_delta"));
        stored = deltas.count(&db).await.unwrap();
        if stored > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(stored > 0, "the streamed text is stored before the kill");
    db.close().await.unwrap();
    assert_eq!(client.list_runs(project.id, session.id).await.unwrap().runs[0].status, RunStatus::Running);
    drop(server); // SIGKILL, mid-run

    let (_server, address) = serve(dir.path(), &model.url);
    let client = ann(&address, false).await;
    let runs = client.list_runs(project.id, session.id).await.unwrap().runs;
    assert_eq!((runs[0].id, runs[0].status), (accepted.run_id, RunStatus::Interrupted));
    assert!(saved(client.clone()).await.contains("partial answer"), "what streamed before the kill is kept");
    model.script([Reply::Parts(vec![text("Back again.")])]);
    client.send_chat(&ChatRequest { prompt: "Go on".into(), ..chat }).await.expect("the session accepts a new run");
    for _ in 0..200 {
        let run = client.list_runs(project.id, session.id).await.unwrap().runs[0].clone();
        if !run.status.is_live() {
            assert_eq!(run.status, RunStatus::Succeeded);
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the new run did not finish");
}
