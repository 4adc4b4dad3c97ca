//! Several kosuke nodes on one PostgreSQL database: each registers with its heartbeat and is
//! dead once the heartbeat is older than its lease; `--node-url` on SQLite refuses to start.

use crate::harness::{Backend, spawn_binary};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SECRET: &str = "a node secret of the test";

#[test]
fn a_node_url_on_sqlite_refuses_to_start_saying_several_nodes_need_postgresql() {
    let data = tempfile::TempDir::new().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_kosuke"));
    for (key, _) in std::env::vars().filter(|(key, _)| key.starts_with("KOSUKE_") || key == "DATABASE_URL") {
        command.env_remove(key);
    }
    let mut child = command
        .args(["serve", "--bind", &format!("127.0.0.1:{port}"), "--node-url", "http://127.0.0.1:1", "--data-dir"])
        .arg(data.path())
        .env("KOSUKE_NODE_SECRET", SECRET)
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
            panic!("kosuke kept running with --node-url on SQLite");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success());
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
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
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
