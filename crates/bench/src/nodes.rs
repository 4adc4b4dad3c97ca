//! Several nodes on one PostgreSQL database (PostgreSQL only: SQLite refuses several nodes):
//! node A holds a project, node B forwards what needs its files. Measured: a checkout read
//! (the session's file tree) through A and through B, a database read through B (answered
//! there, from its cache) and through C (a node without the read cache), the added latency of a run's events reaching a watcher through B (read from the
//! events table when PostgreSQL announces them) against one on A (its owner's broadcast),
//! and session creation through A, through B, and on a server running alone.

use crate::api_load::get;
use crate::load::{self, WINDOW};
use crate::server::{Backend, Server, free_port, signed_in};
use crate::session_creation::stats;
use api_types::*;
use fakes::model::{FakeModel, Reply};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};

const NODE_SECRET: &str = "the bench's node secret";
/// The key every node seals with (32 bytes, base64).
const SECRET_KEY: &str = "YmVuY2gta2V5LW9mLXRoZS1ub2Rlcy0zMi1ieXRlcyE=";
/// Sessions created in a row for each creation cell.
const CREATES: usize = 20;

pub async fn run() -> Value {
    let Some(Backend::Postgres(admin)) = Backend::all().into_iter().find(|b| matches!(b, Backend::Postgres(_))) else {
        println!("\n== several nodes: skipped (set BENCH_DATABASE_URL or TEST_DATABASE_URL to a PostgreSQL server)");
        return json!({"skipped": "no PostgreSQL"});
    };
    let backend = Backend::Postgres(admin);
    let model = FakeModel::start().await;
    let agent = [
        ("KOSUKE_AGENT_PROVIDER", "anthropic"),
        ("KOSUKE_AGENT_MODEL", "bench-model"),
        ("KOSUKE_AGENT_BASE_URL", model.url.as_str()),
        ("KOSUKE_AGENT_API_KEY", "sk-bench"),
    ];

    // Alone first: session creation without --node-url.
    let alone = Server::start(&backend, "alone", &agent).await;
    let (client, _, _) = signed_in(&alone.address, "alone@example.test").await;
    let project = crate::server::new_project(&client, "alone").await;
    let create_alone = creates(&client, project.id).await;
    alone.stop().await;

    let (a_port, b_port) = (free_port(), free_port());
    let a_url = format!("http://127.0.0.1:{a_port}");
    let b_url = format!("http://127.0.0.1:{b_port}");
    let mut env = agent.to_vec();
    env.extend([
        ("KOSUKE_NODE_URL", a_url.as_str()),
        ("KOSUKE_NODE_SECRET", NODE_SECRET),
        ("KOSUKE_SECRET_KEY", SECRET_KEY),
    ]);
    let a = Server::start_at(&backend, "nodes", a_port, &env).await;
    let (_b, _b_data, b_address) = a.beside(b_port, &[("KOSUKE_NODE_URL", b_url.as_str())]).await;
    // C: a node like B without the read cache, to decide whether the cache pays with several
    // nodes (each write drops the table's answers on every node).
    let c_port = free_port();
    let c_url = format!("http://127.0.0.1:{c_port}");
    let c_env = [("KOSUKE_NODE_URL", c_url.as_str()), ("KOSUKE_NO_READ_CACHE", "true")];
    let (_c, _c_data, c_address) = a.beside(c_port, &c_env).await;
    let (via_a, _, token) = signed_in(&a.address, "nodes@example.test").await;
    let project = crate::server::new_project(&via_a, "nodes").await;
    let session = ready(&via_a, project.id, "reads").await;
    let create_a = creates(&via_a, project.id).await;
    let via_b = client::Client::new(&b_address).with_token(&token);
    let create_b = creates(&via_b, project.id).await;

    load::header("Several nodes on PostgreSQL (A holds the project; B forwards to A)");
    let files = |address: &str| format!("{address}/api/projects/{}/chat-sessions/{}/files", project.id, session.id);
    let list = |address: &str| format!("{address}/api/projects/{}/chat-sessions?limit=50", project.id);
    let rows = vec![
        load::row("file tree through A (the owner)", WINDOW, get(&files(&a.address), &token)).await,
        load::row("file tree through B (forwarded to A)", WINDOW, get(&files(&b_address), &token)).await,
        load::row("session list through B (answered by B)", WINDOW, get(&list(&b_address), &token)).await,
        load::row("session list through C (B without the read cache)", WINDOW, get(&list(&c_address), &token)).await,
    ];

    let events = event_latency(&model, &a.address, &b_address, &token, &project, &session, &via_b).await;
    println!("  a run's events through B, added to A's own watcher: {}", ms(&events));
    for (name, row) in [("alone", &create_alone), ("through A", &create_a), ("through B", &create_b)] {
        println!("  create session {name}: {}", ms(row));
    }
    drop((_b, _c));
    a.stop().await;
    json!({
        "reads": rows,
        "event_latency_through_b": events,
        "create_session": {"alone": create_alone, "through_owner": create_a, "through_forwarding_node": create_b},
        "machine": crate::machine(),
    })
}

fn ms(row: &Value) -> String {
    let number = |key: &str| row[key].as_f64().unwrap_or(f64::NAN);
    format!("{:.2} / {:.2} ms (median / p95, {} samples)", number("median_ms"), number("p95_ms"), row["runs"])
}

async fn ready(client: &client::Client, project: ProjectId, title: &str) -> ChatSession {
    let request = CreateChatSessionRequest { title: title.into(), description: None, base_branch: None };
    let session = client.create_chat_session(project, &request).await.unwrap();
    loop {
        let current = client.get_chat_session(project, session.id).await.unwrap();
        if current.workspace_state == WorkspaceState::Ready {
            return current;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `CREATES` sessions created one after the other; the create request's latency.
async fn creates(client: &client::Client, project: ProjectId) -> Value {
    let mut samples = Vec::new();
    for n in 0..CREATES {
        let request = CreateChatSessionRequest { title: format!("bench {n}"), description: None, base_branch: None };
        let started = Instant::now();
        client.create_chat_session(project, &request).await.unwrap();
        samples.push(started.elapsed());
        // Paced: each measures the request, not the previous checkout still being written.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    stats(samples)
}

/// A watcher on A and one through B follow the same run; for each event, how much later it
/// reached B's watcher than A's.
async fn event_latency(
    model: &FakeModel,
    a: &str,
    b: &str,
    token: &str,
    project: &Project,
    session: &ChatSession,
    via_b: &client::Client,
) -> Value {
    let path = format!("/api/projects/{}/chat-sessions/{}/events", project.id, session.id);
    let http = reqwest::Client::new();
    let chunks = 200;
    let watch = |address: &str| {
        let request = http.get(format!("{address}{path}")).bearer_auth(token).send();
        async move { tokio::spawn(arrivals(request.await.unwrap())) }
    };
    let (on_a, on_b) = (watch(a).await, watch(b).await);
    model.script([Reply::Slow { chunks, every: Duration::from_millis(10) }]);
    let prompt = ChatRequest {
        project_id: project.id,
        chat_session_id: session.id,
        prompt: "Talk".into(),
        github_token: None,
        queue: false,
        comments: Vec::new(),
    };
    via_b.send_chat(&prompt).await.unwrap();
    let (on_a, on_b) = (on_a.await.unwrap(), on_b.await.unwrap());
    let added: Vec<Duration> =
        on_b.iter().filter_map(|(id, at_b)| on_a.get(id).map(|at_a| at_b.saturating_duration_since(*at_a))).collect();
    if added.is_empty() { json!({}) } else { stats(added) }
}

/// When each event (by id) arrived, until the run's end or ten seconds.
async fn arrivals(mut response: reqwest::Response) -> HashMap<String, Instant> {
    let mut seen = HashMap::new();
    let mut buffer = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut ended = false;
    while !ended && Instant::now() < deadline {
        let Ok(Ok(Some(chunk))) = tokio::time::timeout(Duration::from_secs(10), response.chunk()).await else { break };
        let at = Instant::now();
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            if let Some(id) = block.lines().find_map(|l| l.strip_prefix("id: ")) {
                seen.insert(id.to_owned(), at);
            }
            ended |= block.lines().any(|l| l == "event: run_finished");
        }
    }
    seen
}
