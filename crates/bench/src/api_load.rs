//! The API under concurrent load: a `kosuke` server process (release build, SQLite) with 1,000
//! sessions in a project and 100,000 messages in one session, read by this process at 1, 16
//! and 64 connections; next to a baseline actix process serving the same bytes from memory.

use crate::session_creation::stats;
use api_types::*;
use sea_orm::{ActiveValue::Set, EntityTrait, QueryFilter};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long each (endpoint, connections) cell is measured.
const WINDOW: Duration = Duration::from_secs(3);

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn wait_up(url: &str) {
    for _ in 0..200 {
        if reqwest::get(url).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{url} did not come up");
}

/// The baseline: an actix handler answering `GET /` with the bytes of `file`.
pub fn baseline_server(port: u16, file: PathBuf) {
    use actix_web::{App, HttpResponse, HttpServer, web};
    let body = web::Bytes::from(std::fs::read(file).unwrap());
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(move || {
            let body = body.clone();
            App::new().route(
                "/",
                web::get().to(move || {
                    let body = body.clone();
                    async move { HttpResponse::Ok().content_type("application/json").body(body) }
                }),
            )
        })
        .bind(("127.0.0.1", port))
        .unwrap()
        .run()
        .await
        .unwrap();
    });
}

/// Requests `url` from `connections` concurrent loops for the window.
async fn load(url: &str, token: &str, connections: usize) -> serde_json::Value {
    let client = reqwest::Client::builder().pool_max_idle_per_host(connections).build().unwrap();
    let deadline = Instant::now() + WINDOW;
    // Collected at once, so every connection starts now (a lazy iterator would start each
    // loop only after the previous one ended).
    let loops: Vec<_> = (0..connections)
        .map(|_| {
            let (client, url, token) = (client.clone(), url.to_owned(), token.to_owned());
            tokio::spawn(async move {
                let mut samples = Vec::new();
                let mut errors = 0u64;
                while Instant::now() < deadline {
                    let started = Instant::now();
                    match client.get(&url).bearer_auth(&token).send().await {
                        Ok(response) if response.status().is_success() => {
                            let _ = response.bytes().await;
                            samples.push(started.elapsed());
                        }
                        _ => errors += 1,
                    }
                }
                (samples, errors)
            })
        })
        .collect();
    let mut samples = Vec::new();
    let mut errors = 0;
    for done in join_in_order(loops.into_iter()).await {
        let (s, e) = done.unwrap();
        samples.extend(s);
        errors += e;
    }
    let count = samples.len();
    let mut row = stats(samples);
    row["requests_per_second"] = serde_json::json!(count as f64 / WINDOW.as_secs_f64());
    row["errors"] = serde_json::json!(errors);
    row
}

async fn join_in_order<T>(
    handles: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<Result<T, tokio::task::JoinError>> {
    let mut results = Vec::new();
    for handle in handles {
        results.push(handle.await);
    }
    results
}

pub async fn run() -> serde_json::Value {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let kosuke = root.join("target/release/kosuke");
    assert!(kosuke.is_file(), "{} is missing: `cargo xtask bench` builds it", kosuke.display());
    let tmp = tempfile::TempDir::new().unwrap();
    let data = tmp.path().join("data");
    let port = free_port();
    let address = format!("http://127.0.0.1:{port}");
    let _server = Process(
        Command::new(&kosuke)
            .args(["serve", "--bind", &format!("127.0.0.1:{port}"), "--data-dir"])
            .arg(&data)
            .env_remove("DATABASE_URL")
            .env_remove("KOSUKE_AGENT_PROVIDER")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_up(&format!("{address}/api/health")).await;
    let client = client::Client::new(&address);
    let user = client
        .signup(&SignupRequest {
            email: "load@example.test".into(),
            password: "load-password".into(),
            display_name: "Load".into(),
        })
        .await
        .unwrap();
    let token = client.create_api_token(&CreateApiTokenRequest { name: "load".into() }).await.unwrap().token;
    let project = client
        .create_project(&CreateProjectRequest {
            name: "load".into(),
            description: None,
            repository: RepositorySource::Empty,
            default_branch: None,
        })
        .await
        .unwrap();

    // Seed straight into the server's database (it keeps running; SQLite WAL lets both write).
    let db = api::db::connect(&format!("sqlite://{}?mode=rw", data.join("kosuke.db").display())).await.unwrap();
    let start = chrono::Utc::now() - chrono::Duration::days(30);
    let sessions = (0..1000).map(|n| entity::chat_session::ActiveModel {
        project_id: Set(project.id.0),
        user_id: Set(user.id.0.clone()),
        title: Set(format!("Session {n}")),
        description: Set(None),
        session_id: Set(format!("load{n:016}")),
        github_branch_name: Set(format!("kosuke-chat-load{n:016}")),
        status: Set(ChatSessionStatus::Active),
        created_at: Set(start),
        updated_at: Set(start),
        last_activity_at: Set(start + chrono::Duration::minutes(n)),
        message_count: Set(0),
        is_default: Set(n == 0),
        base_branch: Set(Some("main".into())),
        pull_request_number: Set(None),
        pull_request_url: Set(None),
        workspace_state: Set(WorkspaceState::Released),
        workspace_error: Set(None),
        ..Default::default()
    });
    entity::chat_session::Entity::insert_many(sessions).exec(&db).await.unwrap();
    let big = client
        .list_chat_sessions(project.id, &ChatSessionQuery { limit: Some(1), ..Default::default() })
        .await
        .unwrap()
        .sessions[0]
        .id;
    for batch in 0..100 {
        let messages = (0..1000).map(|n| entity::chat_message::ActiveModel {
            project_id: Set(project.id.0),
            chat_session_id: Set(big.0),
            user_id: Set(None),
            role: Set(if n % 2 == 0 { MessageRole::User } else { MessageRole::Assistant }),
            content: Set(format!("message {batch}/{n}: {}", "lorem ipsum ".repeat(8))),
            created_at: Set(start),
            updated_at: Set(start),
            ..Default::default()
        });
        entity::chat_message::Entity::insert_many(messages).exec(&db).await.unwrap();
    }

    entity::chat_session::Entity::update_many()
        .col_expr(entity::chat_session::Column::MessageCount, sea_orm::sea_query::Expr::value(100_000))
        .filter(sea_orm::ColumnTrait::eq(&entity::chat_session::Column::Id, big.0))
        .exec(&db)
        .await
        .unwrap();
    let list = format!("{address}/api/projects/{}/chat-sessions?limit=50", project.id);
    let page = format!("{address}/api/projects/{}/chat-sessions/{big}/messages?order=desc&limit=50", project.id);
    let bytes = reqwest::Client::new().get(&list).bearer_auth(&token).send().await.unwrap().bytes().await.unwrap();
    let body_file = tmp.path().join("baseline.json");
    std::fs::write(&body_file, &bytes).unwrap();
    let baseline_port = free_port();
    let _baseline = Process(
        Command::new(std::env::current_exe().unwrap())
            .args(["baseline-server", &baseline_port.to_string()])
            .arg(&body_file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let baseline = format!("http://127.0.0.1:{baseline_port}/");
    wait_up(&baseline).await;

    println!("\nAPI under load, {}s per cell (p50 / p99 ms, requests per second)", WINDOW.as_secs());
    println!("{:<44} {:>26} {:>26} {:>26}", "endpoint", "1 connection", "16 connections", "64 connections");
    let mut rows = Vec::new();
    for (name, url) in [
        ("list sessions (1,000 in the project)", list.as_str()),
        ("message page (100,000 in the session)", page.as_str()),
        ("baseline: the list's bytes from memory", baseline.as_str()),
    ] {
        let mut cells = Vec::new();
        for connections in [1, 16, 64] {
            cells.push((connections, load(url, &token, connections).await));
        }
        let cell = |row: &serde_json::Value| {
            format!(
                "{:.2} / {:.2}, {:.0}/s",
                row["median_ms"].as_f64().unwrap(),
                row["p99_ms"].as_f64().unwrap(),
                row["requests_per_second"].as_f64().unwrap()
            )
        };
        println!("{name:<44} {:>26} {:>26} {:>26}", cell(&cells[0].1), cell(&cells[1].1), cell(&cells[2].1));
        rows.push(serde_json::json!({"endpoint": name, "by_connections": cells.iter().map(|(c, r)| serde_json::json!({"connections": c, "result": r})).collect::<Vec<_>>()}));
    }
    serde_json::json!({"api_load": rows, "response_bytes": bytes.len(), "machine": crate::machine()})
}
