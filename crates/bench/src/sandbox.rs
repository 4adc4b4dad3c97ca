//! What the sandbox costs: a command agent's turn that runs `true`, from `POST /api/chat` until
//! the run has finished, with bubblewrap (`--sandbox auto`) and without (`--sandbox off`).

use crate::server::{Backend, Server, new_project, signed_in};
use crate::session_creation::stats;
use api_types::*;
use std::time::{Duration, Instant};

const TURNS: usize = 20;

async fn turns(sandbox: &str) -> Vec<Duration> {
    let env = [("KOSUKE_AGENT_PROVIDER", "command"), ("KOSUKE_AGENT_COMMAND", "true"), ("KOSUKE_SANDBOX", sandbox)];
    let server = Server::start(&Backend::Sqlite, &format!("sandbox_{sandbox}"), &env).await;
    let (client, _, _) = signed_in(&server.address, "sandbox@example.test").await;
    let project = new_project(&client, "sandbox").await;
    let request = CreateChatSessionRequest { title: "bench".into(), description: None, base_branch: None };
    let session = client.create_chat_session(project.id, &request).await.unwrap();
    while client.get_chat_session(project.id, session.id).await.unwrap().workspace_state == WorkspaceState::Provisioning
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut samples = Vec::new();
    for n in 0..=TURNS {
        let chat = ChatRequest {
            project_id: project.id,
            chat_session_id: session.id,
            prompt: format!("turn {n}"),
            github_token: None,
            queue: false,
            comments: Vec::new(),
        };
        let started = Instant::now();
        let accepted = client.send_chat(&chat).await.unwrap();
        loop {
            let runs = client.list_runs(project.id, session.id).await.unwrap().runs;
            if runs.first().is_some_and(|r| r.id == accepted.run_id && !r.status.is_live()) {
                assert_eq!(runs[0].status, RunStatus::Succeeded, "{:?}", runs[0].error);
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        // The first turn warms the checkout and the caches up; it is not counted.
        if n > 0 {
            samples.push(started.elapsed());
        }
    }
    server.stop().await;
    samples
}

pub async fn run() -> serde_json::Value {
    let sandboxed = stats(turns("auto").await);
    let unsandboxed = stats(turns("off").await);
    println!("a command turn running `true`, {TURNS} turns each (milliseconds: median / p95)");
    for (name, row) in [("sandboxed (bubblewrap)", &sandboxed), ("unsandboxed (--sandbox off)", &unsandboxed)] {
        println!("  {name:<28} {:>7.1} / {:>7.1}", row["median_ms"].as_f64().unwrap(), row["p95_ms"].as_f64().unwrap());
    }
    serde_json::json!({"machine": crate::machine(), "sandboxed": sandboxed, "unsandboxed": unsandboxed})
}
