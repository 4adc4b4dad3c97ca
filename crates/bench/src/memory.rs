//! Server memory: resident set size of a release `kosuke` process idle, with 1,000 sessions,
//! and while 20 agent runs (the command provider, sleeping) are live at once — and the number
//! of processes it keeps (none per idle session).

use crate::server::{Backend, Server, signed_in};
use api_types::*;
use std::time::Duration;

/// Resident set size of `pid` in KiB, from /proc.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// How many processes have `pid` as their parent.
fn children(pid: u32) -> usize {
    std::fs::read_dir("/proc")
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
                .filter(|stat| {
                    stat.rsplit_once(')')
                        .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                        .and_then(|p| p.parse::<u32>().ok())
                        == Some(pid)
                })
                .count()
        })
        .unwrap_or(0)
}

pub async fn run() -> serde_json::Value {
    let env = [("KOSUKE_AGENT_PROVIDER", "command"), ("KOSUKE_AGENT_COMMAND", "sleep 3; echo done > done.txt")];
    let server = Server::start(&Backend::Sqlite, "memory", &env).await;
    let pid = server.process.0.id();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = rss_kib(pid);
    let (client, _, _) = signed_in(&server.address, "mem@example.test").await;
    let project = crate::server::new_project(&client, "mem").await;
    let mut sessions = Vec::new();
    for n in 0..1000 {
        let request = CreateChatSessionRequest { title: format!("s{n}"), description: None, base_branch: None };
        sessions.push(client.create_chat_session(project.id, &request).await.unwrap());
    }
    // Let every background checkout finish before measuring (they are made one at a time).
    for session in &sessions {
        while client.get_chat_session(project.id, session.id).await.unwrap().workspace_state
            == WorkspaceState::Provisioning
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let with_sessions = rss_kib(pid);
    let idle_children = children(pid);
    for session in sessions.iter().take(20) {
        let chat = ChatRequest {
            project_id: project.id,
            chat_session_id: session.id,
            prompt: "work".into(),
            github_token: None,
            queue: false,
            comments: Vec::new(),
        };
        client.send_chat(&chat).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let during_runs = rss_kib(pid);
    let run_children = children(pid);
    println!("\nserver memory (resident set, MiB) and child processes");
    println!("  idle, empty:                  {:>7.1} MiB", idle as f64 / 1024.0);
    println!(
        "  1,000 sessions, no runs:      {:>7.1} MiB, {idle_children} child processes",
        with_sessions as f64 / 1024.0
    );
    println!(
        "  20 agent runs live at once:   {:>7.1} MiB, {run_children} child processes (the agent commands)",
        during_runs as f64 / 1024.0
    );
    server.stop().await;
    serde_json::json!({
        "rss_kib": {"idle": idle, "with_1000_sessions": with_sessions, "during_20_runs": during_runs},
        "child_processes": {"with_1000_sessions": idle_children, "during_20_runs": run_children},
        "machine": crate::machine(),
    })
}
