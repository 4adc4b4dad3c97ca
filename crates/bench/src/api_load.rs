//! The API under concurrent load, on SQLite and (when a URL is given) PostgreSQL: a release
//! `kosuke` server process, loaded from this process over loopback at 1, 16 and 64 connections.
//!
//! - reads: the session list with 1,000 sessions in the project, a page of messages in a
//!   session of 100,000, next to a baseline actix process serving the list's bytes from memory;
//! - writes: create a session, send a chat turn and wait for it to finish (fake model provider
//!   on loopback; each turn writes a file and commits);
//! - scale: the same reads with 10,000 sessions and 1,000,000 messages, and the query plans.

use crate::load::{self, WINDOW, WRITE_WINDOW, get_ok};
use crate::server::{Backend, Process, Server, free_port, new_project, signed_in, wait_up};
use api_types::*;
use fakes::model::FakeModel;
use sea_orm::sea_query::ExprTrait;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter};
use sea_orm::{PaginatorTrait, QueryOrder, QueryTrait, Statement};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

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

/// The built web app, served for the static-file row.
const WEB_DIST: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../web/dist");

pub async fn run() -> Value {
    let model = FakeModel::start().await;
    let mut backends = Vec::new();
    for backend in Backend::all() {
        backends.push(run_on(&backend, &model).await);
    }
    json!({"backends": backends, "machine": crate::machine()})
}

async fn run_on(backend: &Backend, model: &FakeModel) -> Value {
    let env = [
        ("KOSUKE_AGENT_PROVIDER", "anthropic"),
        ("KOSUKE_AGENT_MODEL", "bench-model"),
        ("KOSUKE_AGENT_BASE_URL", model.url.as_str()),
        ("KOSUKE_AGENT_API_KEY", "sk-bench"),
        ("KOSUKE_WEB_DIR", WEB_DIST),
    ];
    let mut server = Server::start(backend, "api", &env).await;
    let (client, user, token) = signed_in(&server.address, "load@example.test").await;
    let db = server.db().await;
    let reads = new_project(&client, "reads").await;
    seed_sessions(&db, reads.id, &user.id, 0..1_000).await;
    // The most recently active session gets the messages.
    let big = client
        .list_chat_sessions(reads.id, &ChatSessionQuery { limit: Some(1), ..Default::default() })
        .await
        .unwrap()
        .sessions[0]
        .id;
    // Seeded as the server stores messages: sealed (one sealed text for every row).
    let content = server.sealed(&format!("a seeded message: {}", "lorem ipsum ".repeat(8)));
    seed_messages(&db, reads.id, big, 100_000, &content).await;
    server.restart(&[]).await;

    let list = format!("{}/api/projects/{}/chat-sessions?limit=50", server.address, reads.id);
    let page = format!("{}/api/projects/{}/chat-sessions/{big}/messages?order=desc&limit=50", server.address, reads.id);
    let bytes = reqwest::Client::new().get(&list).bearer_auth(&token).send().await.unwrap().bytes().await.unwrap();
    let body_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(body_file.path(), &bytes).unwrap();
    let baseline_port = free_port();
    let _baseline = Process(
        Command::new(std::env::current_exe().unwrap())
            .args(["baseline-server", &baseline_port.to_string()])
            .arg(body_file.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let baseline = format!("http://127.0.0.1:{baseline_port}/");
    wait_up(&baseline).await;

    load::header(&format!("API under load on {}", backend.name()));
    let mut rows = vec![
        load::row("list sessions (1,000 in the project)", WINDOW, get(&list, &token)).await,
        load::row("message page (100,000 in the session)", WINDOW, get(&page, &token)).await,
        load::row("baseline: the list's bytes from memory", WINDOW, get(&baseline, &token)).await,
        // Each loop keeps its connection: every request after the first is a browser's next
        // fetch on a keep-alive connection (where Nagle's algorithm once cost ~40 ms).
        load::row("static file (index.html), keep-alive", WINDOW, get(&format!("{}/", server.address), &token)).await,
    ];
    server.restart(&[NO_READ_CACHE]).await;
    rows.push(load::row("list sessions, no read cache", WINDOW, get(&list, &token)).await);
    rows.push(load::row("message page, no read cache", WINDOW, get(&page, &token)).await);
    server.restart(&[]).await;

    let client = client::Client::new(&server.address).with_token(&token);
    let http = reqwest::Client::builder().pool_max_idle_per_host(64).build().unwrap();
    let (creates, request) = create_session(&http, &server.address, &token, &client).await;
    rows.push(load::row("create session", WRITE_WINDOW, request).await);
    // The checkouts of the sessions just created are made in the background; let them finish
    // before measuring anything else.
    while entity::chat_session::Entity::find()
        .filter(entity::chat_session::Column::ProjectId.eq(creates.id.0))
        .filter(entity::chat_session::Column::WorkspaceState.eq(WorkspaceState::Provisioning))
        .count(&db)
        .await
        .unwrap()
        > 0
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let turn = chat_turn(&http, &server.address, &token, &client).await;
    rows.push(load::row("chat turn, sent until finished", WRITE_WINDOW, turn.clone()).await);
    // Reads while runs write: each streaming run saves its message every 250 ms (a table the
    // list does not read), and each turn's start commits (which drops every kept answer).
    let running = Arc::new(AtomicBool::new(true));
    let chats: Vec<_> = (0..RUNS_DURING_READS)
        .map(|connection| {
            let (turn, running) = (turn.clone(), running.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while running.load(Ordering::Relaxed) {
                    turn(connection, n).await;
                    n += 1;
                }
            })
        })
        .collect();
    let while_running = format!("list sessions while {RUNS_DURING_READS} chat turns run");
    rows.push(load::row(&while_running, WINDOW, get(&list, &token)).await);
    running.store(false, Ordering::Relaxed);
    for chat in chats {
        chat.await.unwrap();
    }

    println!("growing the project to 10,000 sessions and 1,000,000 messages…");
    seed_sessions(&db, reads.id, &user.id, 1_000..10_000).await;
    // In id order: the first 999 are the sessions seeded before, the rest were seeded just now.
    let others: Vec<i32> = entity::chat_session::Entity::find()
        .filter(entity::chat_session::Column::ProjectId.eq(reads.id.0))
        .filter(entity::chat_session::Column::Id.ne(big.0))
        .order_by_asc(entity::chat_session::Column::Id)
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    // 900,000 more messages, 100 in each of the 9,000 sessions seeded in this step.
    seed_spread_messages(&db, reads.id, &others[999..], 100, &content).await;
    if matches!(backend, Backend::Postgres(_)) {
        // What autovacuum would have done by now on a real server.
        db.execute_unprepared("VACUUM ANALYZE").await.unwrap();
    }
    server.restart(&[]).await;
    let mut scale = vec![
        load::row("list sessions (10,000 in the project)", WINDOW, get(&list, &token)).await,
        load::row("message page (1,000,000 in the project)", WINDOW, get(&page, &token)).await,
    ];
    server.restart(&[NO_READ_CACHE]).await;
    scale.push(load::row("list sessions (10,000), no read cache", WINDOW, get(&list, &token)).await);
    scale.push(load::row("message page (1,000,000), no read cache", WINDOW, get(&page, &token)).await);
    let plans = plans(&db, reads.id.0, &user.id.0, big.0).await;
    for (name, plan) in &plans {
        println!("plan of the {name} query on {}:\n  {}", backend.name(), plan.replace('\n', "\n  "));
    }
    server.stop().await;
    json!({
        "backend": backend.name(),
        "rows": rows,
        "scale_rows": scale,
        "plans": plans.into_iter().map(|(name, plan)| (name, Value::from(plan))).collect::<serde_json::Map<_, _>>(),
        "list_response_bytes": bytes.len(),
    })
}

/// One request of a load cell: whether it succeeded.
type Request = std::pin::Pin<Box<dyn Future<Output = bool> + Send>>;

/// Chat turns kept running (one per session) while the session list is read.
const RUNS_DURING_READS: usize = 16;

/// The server's setting that answers every read from the database, to measure that path too.
const NO_READ_CACHE: (&str, &str) = ("KOSUKE_NO_READ_CACHE", "true");

/// A GET of `url` with the token, over a fresh pool (servers restart between rows).
pub(crate) fn get(url: &str, token: &str) -> impl Fn(usize, u64) -> Request + Clone + Send + 'static {
    let http = reqwest::Client::builder().pool_max_idle_per_host(64).build().unwrap();
    let (url, token) = (url.to_owned(), token.to_owned());
    move |_: usize, _: u64| {
        let (http, url, token) = (http.clone(), url.clone(), token.clone());
        Box::pin(async move { get_ok(&http, &url, &token).await }) as Request
    }
}

/// Sessions `range` of the project, straight into the database, one minute of activity apart.
pub async fn seed_sessions(db: &DatabaseConnection, project: ProjectId, user: &UserId, range: std::ops::Range<i64>) {
    let start = chrono::Utc::now() - chrono::Duration::days(30);
    let all: Vec<i64> = range.collect();
    for chunk in all.chunks(500) {
        let sessions = chunk.iter().map(|&n| entity::chat_session::ActiveModel {
            project_id: Set(project.0),
            user_id: Set(user.0.clone()),
            title: Set(format!("Session {n}")),
            description: Set(None),
            session_id: Set(format!("load{n:016}")),
            github_branch_name: Set(format!("kosuke-chat-load{n:016}")),
            status: Set(ChatSessionStatus::Active),
            created_at: Set(start),
            updated_at: Set(start),
            // Earlier than the first thousand, so the measured session stays on top.
            last_activity_at: Set(if n < 1_000 {
                start + chrono::Duration::minutes(n)
            } else {
                start - chrono::Duration::minutes(n)
            }),
            message_count: Set(0),
            is_default: Set(false),
            base_branch: Set(Some("main".into())),
            pull_request_number: Set(None),
            pull_request_url: Set(None),
            workspace_state: Set(WorkspaceState::Released),
            workspace_error: Set(None),
            ..Default::default()
        });
        entity::chat_session::Entity::insert_many(sessions).exec(db).await.unwrap();
    }
}

/// Message `n` of a session: users and the assistant take turns; `content` as stored.
fn message(
    project: ProjectId,
    session: i32,
    n: usize,
    at: chrono::DateTime<chrono::Utc>,
    content: &str,
) -> entity::chat_message::ActiveModel {
    entity::chat_message::ActiveModel {
        project_id: Set(project.0),
        chat_session_id: Set(session),
        user_id: Set(None),
        role: Set(if n.is_multiple_of(2) { MessageRole::User } else { MessageRole::Assistant }),
        content: Set(content.to_owned()),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
}

/// `count` more messages in the session, straight into the database; its count follows.
async fn seed_messages(
    db: &DatabaseConnection,
    project: ProjectId,
    session: ChatSessionPk,
    count: usize,
    content: &str,
) {
    let start = chrono::Utc::now() - chrono::Duration::days(30);
    for batch in 0..count.div_ceil(1000) {
        let messages =
            (0..Ord::min(1000, count - batch * 1000)).map(|n| message(project, session.0, n, start, content));
        entity::chat_message::Entity::insert_many(messages).exec(db).await.unwrap();
    }
    let column = entity::chat_session::Column::MessageCount;
    entity::chat_session::Entity::update_many()
        .col_expr(column, sea_orm::sea_query::Expr::col(column).add(count as i64))
        .filter(entity::chat_session::Column::Id.eq(session.0))
        .exec(db)
        .await
        .unwrap();
}

/// `per_session` messages in each of `sessions`, ten sessions to an insert.
async fn seed_spread_messages(
    db: &DatabaseConnection,
    project: ProjectId,
    sessions: &[i32],
    per_session: usize,
    content: &str,
) {
    let start = chrono::Utc::now() - chrono::Duration::days(30);
    for group in sessions.chunks(10) {
        let messages = group
            .iter()
            .flat_map(|&session| (0..per_session).map(move |n| message(project, session, n, start, content)));
        entity::chat_message::Entity::insert_many(messages).exec(db).await.unwrap();
        entity::chat_session::Entity::update_many()
            .col_expr(entity::chat_session::Column::MessageCount, sea_orm::sea_query::Expr::value(per_session as i32))
            .filter(entity::chat_session::Column::Id.is_in(group.iter().copied()))
            .exec(db)
            .await
            .unwrap();
    }
}

/// `POST …/chat-sessions`: answers once the session exists; its checkout follows in the background.
async fn create_session(
    http: &reqwest::Client,
    address: &str,
    token: &str,
    client: &client::Client,
) -> (Project, impl Fn(usize, u64) -> Request + Clone + Send + 'static) {
    let project = new_project(client, "creates").await;
    let url = format!("{address}/api/projects/{}/chat-sessions", project.id);
    let (http, token) = (http.clone(), token.to_owned());
    let request = move |connection, n| {
        let (http, url, token) = (http.clone(), url.clone(), token.clone());
        Box::pin(async move {
            let body = json!({"title": format!("Created {connection}/{n}")});
            matches!(http.post(&url).bearer_auth(&token).json(&body).send().await, Ok(r) if r.status().as_u16() == 201)
        }) as Request
    };
    (project, request)
}

/// `POST /api/chat` with `Accept: text/event-stream`, read until the run finished. One session
/// per connection (a session runs one turn at a time); each turn writes a file and commits.
async fn chat_turn(
    http: &reqwest::Client,
    address: &str,
    token: &str,
    client: &client::Client,
) -> impl Fn(usize, u64) -> Request + Clone + Send + 'static {
    let project = new_project(client, "chats").await;
    let mut sessions = Vec::new();
    for n in 0..load::CONNECTIONS[2] {
        let request = CreateChatSessionRequest { title: format!("chat {n}"), description: None, base_branch: None };
        sessions.push(client.create_chat_session(project.id, &request).await.unwrap().id);
    }
    for &session in &sessions {
        while client.get_chat_session(project.id, session).await.unwrap().workspace_state != WorkspaceState::Ready {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let url = format!("{address}/api/chat");
    let (http, token) = (http.clone(), token.to_owned());
    move |connection, n| {
        let (http, url, token) = (http.clone(), url.clone(), token.clone());
        let body = json!({
            "project_id": project.id,
            "chat_session_id": sessions[connection],
            "prompt": format!("write note{n}"),
        });
        Box::pin(async move {
            let Ok(response) =
                http.post(&url).bearer_auth(&token).header("Accept", "text/event-stream").json(&body).send().await
            else {
                return false;
            };
            let ok = response.status().is_success();
            let text = response.text().await.unwrap_or_default();
            ok && text.contains("\"run_finished\"") && text.contains("\"succeeded\"")
        })
    }
}

/// The plans of the list and page queries exactly as the API builds them.
async fn plans(db: &DatabaseConnection, project: i32, user: &str, session: i32) -> Vec<(String, String)> {
    let backend = db.get_database_backend();
    let filter = api::store::sessions::SessionFilter { project_id: project, user_id: user, status: None, search: None };
    let queries = [
        ("session list", api::store::sessions::page_query(&filter, None, 51).build(backend)),
        ("message page", api::store::messages::page_query(session, MessageOrder::Desc, None, 51).build(backend)),
    ];
    let mut plans = Vec::new();
    for (name, statement) in queries {
        let explain = match backend {
            sea_orm::DbBackend::Sqlite => "EXPLAIN QUERY PLAN ",
            _ => "EXPLAIN ",
        };
        let sql = format!("{explain}{}", statement.sql);
        let rows = db
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                sql,
                statement.values.map(|v| v.0).unwrap_or_default(),
            ))
            .await
            .unwrap();
        let lines: Vec<String> = rows
            .iter()
            .map(|row| match backend {
                sea_orm::DbBackend::Sqlite => row.try_get::<String>("", "detail").unwrap(),
                _ => row.try_get::<String>("", "QUERY PLAN").unwrap(),
            })
            .collect();
        plans.push((name.to_owned(), lines.join("\n")));
    }
    plans
}
