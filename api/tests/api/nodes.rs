//! Several kosuke nodes on one PostgreSQL database: each registers with its heartbeat and is
//! dead once the heartbeat is older than its lease; `--node-url` on SQLite, or without the
//! nodes' shared `--secret-key`, refuses to start.

use crate::harness::{Backend, spawn_binary};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SECRET: &str = "a node secret of the test";

/// The nodes' shared `--secret-key` (32 bytes, base64).
const KEY: &str = "a2t0ZXN0LWtleS1vZi10aGUtbm9kZXMtMzItYnl0ZXM=";
/// Another key.
const OTHER_KEY: &str = "b3RoZXIta2V5LW9mLWEtd3Jvbmctbm9kZS0zMmJ5dGU=";

/// Runs `kosuke serve --node-url …` with `env` (nothing else of this process's `KOSUKE_*`),
/// expecting it to refuse to start; returns what it said.
fn refused_start(env: &[(&str, &str)]) -> String {
    let data = tempfile::TempDir::new().unwrap();
    let port = crate::harness::free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_kosuke"));
    for (key, _) in std::env::vars().filter(|(key, _)| key.starts_with("KOSUKE_") || key == "DATABASE_URL") {
        command.env_remove(key);
    }
    let mut child = command
        .args(["serve", "--bind", &format!("127.0.0.1:{port}"), "--node-url", "http://127.0.0.1:1", "--data-dir"])
        .arg(data.path())
        .env("KOSUKE_NODE_SECRET", SECRET)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("kosuke kept running with {env:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success(), "{stderr}");
    stderr
}

#[test]
fn a_node_url_on_sqlite_refuses_to_start_saying_several_nodes_need_postgresql() {
    let stderr = refused_start(&[("KOSUKE_SECRET_KEY", KEY)]);
    assert!(stderr.contains("Several kosuke nodes need PostgreSQL"), "{stderr}");
}

/// Waits until the nodes list (read through `client`) satisfies `check`.
async fn nodes_until(
    client: &client::Client,
    what: &str,
    check: impl Fn(&api_types::NodeList) -> bool,
) -> api_types::NodeList {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let list = client.list_nodes().await.unwrap();
        if check(&list) {
            return list;
        }
        assert!(Instant::now() < deadline, "{what}: {list:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// PostgreSQL only: SQLite cannot have several nodes (above).
mod two_nodes_register_on_one_postgresql_database_and_a_killed_one_is_dead_after_its_lease {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        let node_env = |url: &str| {
            [
                ("KOSUKE_NODE_URL", url.to_owned()),
                ("KOSUKE_NODE_SECRET", SECRET.to_owned()),
                ("KOSUKE_SECRET_KEY", KEY.to_owned()),
                ("KOSUKE_NODE_HEARTBEAT_SECS", "1".to_owned()),
            ]
        };
        let a_env = node_env("http://node-a.test:8080");
        let a_env: Vec<(&str, &str)> = a_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let a = spawn_binary(Backend::Postgres, &a_env).await;
        let (admin, _) = a.user("root").await;
        let alone = nodes_until(&admin, "node A is registered", |l| l.nodes.len() == 1).await;
        assert_eq!(alone.this_node, Some(alone.nodes[0].id), "A answered");
        assert!(alone.nodes[0].alive);

        // Node B: its own data dir and port, the same database.
        let b_data = tempfile::TempDir::new().unwrap();
        let port = crate::harness::free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_kosuke"));
        for (key, _) in std::env::vars().filter(|(key, _)| key.starts_with("KOSUKE_")) {
            command.env_remove(key);
        }
        let database = a.binary_env().into_iter().find(|(k, _)| k == "DATABASE_URL").unwrap().1;
        let mut b = command
            .args(["serve", "--bind", &format!("127.0.0.1:{port}"), "--data-dir"])
            .arg(b_data.path())
            .env("DATABASE_URL", &database)
            .envs(node_env("http://node-b.test:8080"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let both = nodes_until(&admin, "node B joins", |l| l.nodes.len() == 2 && l.nodes.iter().all(|n| n.alive)).await;
        let urls: Vec<&str> = both.nodes.iter().map(|n| n.url.as_str()).collect();
        assert_eq!(urls, ["http://node-a.test:8080", "http://node-b.test:8080"]);
        let b_id = both.nodes[1].id;
        // A node without the shared key, or with another one, refuses to start: what it
        // sealed no other node could read.
        let no_key = refused_start(&[("DATABASE_URL", &database)]);
        assert!(no_key.contains("--node-url needs --secret-key"), "{no_key}");
        let wrong = refused_start(&[("DATABASE_URL", &database), ("KOSUKE_SECRET_KEY", OTHER_KEY)]);
        assert!(wrong.contains("not the one the other nodes seal with"), "{wrong}");
        assert_eq!(admin.list_nodes().await.unwrap().nodes.len(), 2, "neither joined");

        // kill -9 of B: dead once three heartbeats are missed; A lives on.
        b.kill().unwrap();
        let _ = b.wait();
        let after =
            nodes_until(&admin, "B is dead after its lease", |l| l.nodes.iter().any(|n| n.id == b_id && !n.alive))
                .await;
        assert!(after.nodes.iter().find(|n| n.id != b_id).unwrap().alive, "A still beats: {after:?}");

        // Not an admin: 403.
        let (member, _) = a.user("someone").await;
        assert_eq!(member.list_nodes().await.unwrap_err().status(), Some(403));
    }
}

/// Starts node A (the test app, a binary on PostgreSQL) and node B beside it, each with its own
/// data dir and its URL on loopback; both alive.
pub(crate) async fn two_nodes() -> (crate::harness::TestApp, crate::harness::OtherNode) {
    two_nodes_with(&[]).await
}

/// `two_nodes` with `extra` in both nodes' environment.
pub(crate) async fn two_nodes_with(extra: &[(&str, &str)]) -> (crate::harness::TestApp, crate::harness::OtherNode) {
    let (a_port, b_port) = (crate::harness::free_port(), crate::harness::free_port());
    let a_url = format!("http://127.0.0.1:{a_port}");
    let mut a_env = vec![
        ("KOSUKE_NODE_URL", a_url.as_str()),
        ("KOSUKE_NODE_SECRET", SECRET),
        ("KOSUKE_SECRET_KEY", KEY),
        ("KOSUKE_NODE_HEARTBEAT_SECS", "1"),
        ("KOSUKE_AGENT_PROVIDER", "anthropic"),
        ("KOSUKE_AGENT_MODEL", "claude-test"),
        ("KOSUKE_AGENT_API_KEY", "sk-test"),
    ];
    a_env.extend_from_slice(extra);
    let a = crate::harness::spawn_binary_at(Backend::Postgres, a_port, &a_env).await;
    let b = a.another_node(b_port, &[("KOSUKE_NODE_URL", format!("http://127.0.0.1:{b_port}"))]).await;
    (a, b)
}

pub(crate) async fn signed_in(client: client::Client) -> client::Client {
    let login = api_types::LoginRequest { email: "ann@example.test".into(), password: "ann-password".into() };
    client.login(&login).await.unwrap();
    client
}

/// Renames a chat through A, then lists through B (its cache filled first) until the new
/// title shows: B's cached answer was dropped by A's write, announced through PostgreSQL.
async fn renamed_through_a_is_listed_through_b(
    via_a: &client::Client,
    via_b: &client::Client,
    project: api_types::ProjectId,
    session: api_types::ChatSessionPk,
    title: &str,
) {
    use api_types::{ChatSessionQuery, UpdateChatSessionRequest};
    via_b.list_chat_sessions(project, &ChatSessionQuery::default()).await.unwrap();
    let rename = UpdateChatSessionRequest { title: Some(title.into()), description: None, status: None };
    via_a.update_chat_session(project, session, &rename).await.unwrap();
    for _ in 0..100 {
        let listed = via_b.list_chat_sessions(project, &ChatSessionQuery::default()).await.unwrap();
        if listed.sessions.iter().any(|s| s.title == title) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("B still lists the old title: its cached answer outlived A's write");
}

/// PostgreSQL only (several nodes need it).
mod a_session_made_through_one_node_is_listed_run_and_streamed_through_the_other {
    use super::*;
    use crate::chat::{assistant, chat, finished, setup};
    use crate::chat_events::{one_turn_of_text, read_events, read_until_finished};
    use api_types::*;
    use fakes::model::Reply;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        let (a, mut b) = two_nodes().await;
        // Made through A, from a directory on A's disk: A holds the project.
        let (via_a, project, first) = setup(&a).await;
        let via_b = signed_in(b.client()).await;
        nodes_until(&via_b, "B is alive", |l| l.nodes.len() == 2 && l.nodes.iter().all(|n| n.alive)).await;

        // A session created through B is made on A: its checkout is in A's data dir.
        let created = via_b
            .create_chat_session(
                project.id,
                &CreateChatSessionRequest { title: "through B".into(), description: None, base_branch: None },
            )
            .await
            .unwrap();
        let session = a.ready_session(&via_b, &created).await;
        assert!(a.checkout_dir(&session).join("README.md").exists(), "the checkout is on A");
        assert!(!b.data_dir.path().join("projects").join(project.id.to_string()).exists(), "nothing of it is on B");
        // Listed through B (from the database), its files through B (from A).
        let listed = via_b.list_chat_sessions(project.id, &ChatSessionQuery::default()).await.unwrap();
        assert!(listed.sessions.iter().any(|s| s.id == session.id), "{listed:?}");
        let files = via_b.list_files(project.id, session.id).await.unwrap();
        assert!(format!("{files:?}").contains("README.md"), "{files:?}");

        // A run started through B runs on A and streams through B.
        let token = via_b.create_api_token(&CreateApiTokenRequest { name: "sse".into() }).await.unwrap().token;
        a.model.script([Reply::Slow { chunks: 4, every: std::time::Duration::from_millis(80) }]);
        let events_url = format!("{}/api/projects/{}/chat-sessions/{}/events", b.address, project.id, session.id);
        let http = reqwest::Client::new();
        let watching = http.get(&events_url).bearer_auth(&token).send().await.unwrap();
        assert_eq!(watching.headers()["content-type"], "text/event-stream");
        via_b.send_chat(&chat(&project, &session, "Talk slowly")).await.unwrap();
        let early = read_events(watching, 2).await;
        // Resumed through B with Last-Event-ID: the rest, none lost or repeated.
        let resumed = http
            .get(&events_url)
            .bearer_auth(&token)
            .header("last-event-id", &early.last().unwrap().0)
            .send()
            .await
            .unwrap();
        let rest = read_until_finished(resumed).await;
        let seen: Vec<(String, RunEvent)> = early.into_iter().chain(rest).collect();
        assert_eq!(one_turn_of_text(&seen), "chunk 0. chunk 1. chunk 2. chunk 3. ", "none lost or repeated");
        assert_eq!(finished(&via_b, project.id, session.id).await.status, RunStatus::Succeeded);
        assert!(assistant(&via_a, project.id, session.id).await.content.contains("chunk 3."));
        assert_eq!(a.model.requests().len(), 1, "one run, on A");

        // A write through A drops B's cached list: B's next reads show it.
        renamed_through_a_is_listed_through_b(&via_a, &via_b, project.id, first.id, "renamed on A").await;
        let heard = via_b.list_nodes().await.unwrap().listener.expect("B listens");
        assert!(heard.received > 0, "{heard:?}");

        // B's listening connection cut: B notices (and drops its whole cache), listens again,
        // and the next write through A reaches it; a watcher through B, open across the cut,
        // gets the next turn whole (it reads the table after the last event it sent).
        let last_seen = seen.last().unwrap().0.clone();
        let across = http.get(&events_url).bearer_auth(&token).header("last-event-id", &last_seen).send();
        let across = across.await.unwrap();
        let b_id = via_b.list_nodes().await.unwrap().this_node.unwrap();
        let db = a.database.connect().await;
        let cut = sea_orm::ConnectionTrait::execute_unprepared(
            &db,
            &format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = current_database() AND application_name = 'kosuke listener of node {b_id}'"
            ),
        )
        .await
        .unwrap();
        assert_eq!(cut.rows_affected(), 1, "B's listener found and cut");
        nodes_until(&via_b, "B noticed", |l| l.listener.as_ref().is_some_and(|l| l.reconnects >= 1)).await;
        renamed_through_a_is_listed_through_b(&via_a, &via_b, project.id, first.id, "renamed again").await;
        a.model.script([Reply::Slow { chunks: 3, every: std::time::Duration::from_millis(50) }]);
        via_a.send_chat(&chat(&project, &session, "Once more")).await.unwrap();
        assert_eq!(one_turn_of_text(&read_until_finished(across).await), "chunk 0. chunk 1. chunk 2. ");

        // A request claiming to come from a node, without the node secret's signature: 401.
        for (auth, user) in
            [("1.00", "x"), (&*format!("{}.{}", chrono::Utc::now().timestamp(), "ab"), "x"), ("garbage", "y")]
        {
            let forged = http
                .get(a.url(&format!("/api/projects/{}/chat-sessions/{}/files", project.id, session.id)))
                .header("x-kosuke-node-auth", auth)
                .header("x-kosuke-node-user", user)
                .send()
                .await
                .unwrap();
            assert_eq!(forged.status(), 401, "{auth}");
        }

        // A down: what needs its files answers 503 through B, naming the node; the database's
        // answers still come.
        let mut a = a;
        a.kill_binary();
        let error = via_b.list_files(project.id, session.id).await.unwrap_err();
        assert_eq!(error.status(), Some(503), "{error:?}");
        assert!(
            matches!(&error, client::ClientError::Api { body, .. } if body.code == ErrorCode::NodeUnavailable && body.error.contains("node 1")),
            "{error:?}"
        );
        assert!(via_b.list_chat_sessions(project.id, &ChatSessionQuery::default()).await.is_ok());
        b.kill();
    }
}

/// PostgreSQL only (several nodes need it).
mod concurrent_creations_and_runs_spread_over_two_nodes_lose_nothing_and_run_nothing_twice {
    use super::*;
    use crate::chat::{chat, finished, setup};
    use api_types::*;
    use fakes::model::{Reply, text};

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres() {
        let (a, b) = two_nodes().await;
        let (via_a, project, _) = setup(&a).await;
        let via_b = signed_in(b.client()).await;

        // 20 creations at once, half through each node: all made on A, each its own branch.
        let creations = (0..20).map(|n| {
            let client = if n % 2 == 0 { via_a.clone() } else { via_b.clone() };
            async move {
                let request =
                    CreateChatSessionRequest { title: format!("chat {n}"), description: None, base_branch: None };
                client.create_chat_session(project.id, &request).await.unwrap()
            }
        });
        let created = futures_util::future::join_all(creations).await;
        let mut branches: Vec<&str> = created.iter().map(|s| s.github_branch_name.as_str()).collect();
        branches.sort();
        branches.dedup();
        assert_eq!(branches.len(), 20, "every session has a branch of its own");
        let mut sessions = Vec::new();
        for session in &created {
            let ready = a.ready_session(&via_b, session).await;
            assert_eq!(ready.workspace_state, WorkspaceState::Ready, "{:?}", ready.workspace_error);
            assert!(a.checkout_dir(&ready).exists(), "made on A");
            sessions.push(ready);
        }

        // 10 runs at once, half posted through each node: each runs once.
        a.model.script((0..10).map(|n| Reply::Parts(vec![text(&format!("answer {n}"))])));
        let runs = sessions.iter().take(10).enumerate().map(|(n, session)| {
            let client = if n % 2 == 0 { via_a.clone() } else { via_b.clone() };
            let request = chat(&project, session, "Answer");
            async move { client.send_chat(&request).await.unwrap() }
        });
        futures_util::future::join_all(runs).await;
        for session in sessions.iter().take(10) {
            assert_eq!(finished(&via_b, project.id, session.id).await.status, RunStatus::Succeeded);
            assert_eq!(via_a.list_runs(project.id, session.id).await.unwrap().runs.len(), 1, "one run, not two");
        }
        assert_eq!(a.model.requests().len(), 10, "no run lost, none run twice");

        // A second prompt on a busy chat, through the other node: 409.
        let busy = &sessions[10];
        a.model.script([Reply::Slow { chunks: 100, every: Duration::from_millis(50) }]);
        via_a.send_chat(&chat(&project, busy, "Talk slowly")).await.unwrap();
        let refused = via_b.send_chat(&chat(&project, busy, "And now?")).await.unwrap_err();
        assert_eq!((refused.status(), refused.code()), (Some(409), Some(ErrorCode::SessionBusy)), "{refused:?}");
        via_a.cancel_run(project.id, busy.id).await.unwrap();
        drop(b);
    }
}
