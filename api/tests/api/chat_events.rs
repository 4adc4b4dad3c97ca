//! A run's live events over HTTP: order, ids, resuming with Last-Event-ID, several watchers,
//! and `POST /api/chat` streaming its own run.

use crate::chat::{chat, setup};
use crate::db_test;
use crate::harness::spawn_app;
use api_types::*;
use fakes::model::{Reply, text};
use futures_util::StreamExt;
use std::time::Duration;

/// Reads server-sent events: (id, event) pairs, `count` of them at most.
pub async fn read_events(response: reqwest::Response, count: usize) -> Vec<(String, RunEvent)> {
    let mut stream = response.bytes_stream();
    // Bytes until an event is whole: a character split across reads must not be mangled.
    let mut buffer: Vec<u8> = Vec::new();
    let mut events = Vec::new();
    while events.len() < count {
        let Ok(Some(chunk)) = tokio::time::timeout(Duration::from_secs(10), stream.next()).await else { break };
        buffer.extend_from_slice(&chunk.unwrap());
        while let Some(end) = buffer.windows(2).position(|w| w == b"\n\n") {
            let block = String::from_utf8(buffer.drain(..end + 2).collect()).unwrap();
            let id = block.lines().find_map(|l| l.strip_prefix("id: ")).map(str::to_owned);
            let data = block.lines().find_map(|l| l.strip_prefix("data: "));
            if let (Some(id), Some(data)) = (id, data) {
                events.push((id, serde_json::from_str(data).unwrap()));
            }
        }
    }
    events
}

db_test!(
    async fn events_stream_in_order_resume_without_loss_and_reach_every_watcher(backend) {
        let app = spawn_app(backend).await;
        let (owner, project, session) = setup(&app).await;
        let token = owner.create_api_token(&CreateApiTokenRequest { name: "sse".into() }).await.unwrap().token;
        let url = app.url(&format!("/api/projects/{}/chat-sessions/{}/events", project.id, session.id));
        let http = reqwest::Client::new();
        let watch = || http.get(&url).bearer_auth(&token).send();
        let (first, second) = (watch().await.unwrap(), watch().await.unwrap());
        assert_eq!(first.headers()["content-type"], "text/event-stream");
        app.model.script([Reply::Slow { chunks: 6, every: Duration::from_millis(60) }]);
        let accepted = owner.send_chat(&chat(&project, &session, "Talk slowly")).await.unwrap();

        // The first watcher leaves after three events and comes back with Last-Event-ID.
        let early = read_events(first, 3).await;
        let last_id = early.last().unwrap().0.clone();
        let resumed = http.get(&url).bearer_auth(&token).header("last-event-id", &last_id).send().await.unwrap();
        let rest = read_until_finished(resumed).await;
        let all_second = read_until_finished(second).await;

        let first_watcher: Vec<(String, RunEvent)> = early.into_iter().chain(rest).collect();
        assert_eq!(first_watcher, all_second, "both watchers saw the same events, none lost or repeated");
        assert_eq!(all_second[0].1, RunEvent::RunStarted { run_id: accepted.run_id, assistant_message_id: accepted.assistant_message_id });
        let sequences: Vec<u64> = all_second.iter().map(|(id, _)| id.parse().unwrap()).collect();
        assert!(sequences.windows(2).all(|w| w[1] == w[0] + 1), "ids increase by one: {sequences:?}");
        assert!(matches!(all_second.last().unwrap().1, RunEvent::RunFinished { status: RunStatus::Succeeded, .. }), "{:?}", all_second.last());
        assert_eq!(one_turn_of_text(&all_second), "chunk 0. chunk 1. chunk 2. chunk 3. chunk 4. chunk 5. ");
    }
);

db_test!(
    async fn posting_with_accept_event_stream_streams_that_run(backend) {
        let app = spawn_app(backend).await;
        let (owner, project, session) = setup(&app).await;
        let token = owner.create_api_token(&CreateApiTokenRequest { name: "sse".into() }).await.unwrap().token;
        app.model.script([Reply::Parts(vec![text("Hi there.")])]);
        let response = reqwest::Client::new()
            .post(app.url("/api/chat"))
            .bearer_auth(&token)
            .header("accept", "text/event-stream")
            .json(&chat(&project, &session, "Hello"))
            .send()
            .await
            .unwrap();
        let events = read_events(response, 100).await;
        let kinds: Vec<&str> = events.iter().map(|(_, e)| e.name()).collect();
        assert_eq!(kinds, ["run_started", "text_delta", "run_finished"], "the stream ends with the run");
    }
);

/// The text of one turn's events: `run_started`, text deltas (chunks that came close
/// together may be one), `run_finished`.
pub fn one_turn_of_text(events: &[(String, RunEvent)]) -> String {
    let kinds: Vec<&str> = events.iter().map(|(_, e)| e.name()).collect();
    assert!(kinds.len() >= 3 && kinds[0] == "run_started" && kinds[kinds.len() - 1] == "run_finished", "{kinds:?}");
    assert!(kinds[1..kinds.len() - 1].iter().all(|k| *k == "text_delta"), "{kinds:?}");
    events
        .iter()
        .filter_map(|(_, e)| match e {
            RunEvent::TextDelta { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

/// Reads server-sent events until a `run_finished` (at most a minute).
pub async fn read_until_finished(response: reqwest::Response) -> Vec<(String, RunEvent)> {
    let mut stream = response.bytes_stream();
    let mut buffer: Vec<u8> = Vec::new();
    let mut events: Vec<(String, RunEvent)> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !matches!(events.last(), Some((_, RunEvent::RunFinished { .. }))) {
        let Ok(Some(chunk)) = tokio::time::timeout_at(deadline, stream.next()).await else {
            panic!("no run_finished: {events:?}")
        };
        buffer.extend_from_slice(&chunk.unwrap());
        while let Some(end) = buffer.windows(2).position(|w| w == b"\n\n") {
            let block = String::from_utf8(buffer.drain(..end + 2).collect()).unwrap();
            let id = block.lines().find_map(|l| l.strip_prefix("id: ")).map(str::to_owned);
            if let (Some(id), Some(data)) = (id, block.lines().find_map(|l| l.strip_prefix("data: "))) {
                events.push((id, serde_json::from_str(data).unwrap()));
            }
        }
    }
    events
}

db_test!(
    async fn run_events_are_stored_coalesced_and_resume_after_a_restart_numbered_on(backend) {
        let mut app = spawn_app(backend).await;
        let (owner, project, session) = setup(&app).await;
        let token = owner.create_api_token(&CreateApiTokenRequest { name: "sse".into() }).await.unwrap().token;
        let post = |app: &crate::harness::TestApp, prompt: &str| {
            reqwest::Client::new()
                .post(app.url("/api/chat"))
                .bearer_auth(&token)
                .header("accept", "text/event-stream")
                .json(&chat(&project, &session, prompt))
                .send()
        };
        // Three text parts streamed at once are one delta.
        app.model.script([Reply::Parts(vec![text("One "), text("two "), text("three.")])]);
        let first = read_until_finished(post(&app, "Count").await.unwrap()).await;
        let kinds: Vec<&str> = first.iter().map(|(_, e)| e.name()).collect();
        assert_eq!(kinds, ["run_started", "text_delta", "run_finished"], "{first:?}");
        let message = crate::chat::assistant(&owner, project.id, session.id).await;
        assert!(matches!(&first[1].1, RunEvent::TextDelta { text, .. } if *text == message.content), "{first:?}");
        assert!(message.content.starts_with("One ") && message.content.ends_with("three."), "{}", message.content);
        let ids: Vec<u64> = first.iter().map(|(id, _)| id.parse().unwrap()).collect();
        assert_eq!(ids, [1, 2, 3], "numbered per session from 1");

        // What was stored outlives the server; the run's delta is gone once its message holds it.
        app.state().runtime.events.flush(Duration::from_secs(10)).await;
        app.restart().await;
        let url = app.url(&format!("/api/projects/{}/chat-sessions/{}/events", project.id, session.id));
        let http = reqwest::Client::new();
        let replayed = read_events(http.get(&url).bearer_auth(&token).send().await.unwrap(), 2).await;
        assert_eq!(replayed, vec![first[0].clone(), first[2].clone()], "replayed after the restart, the delta pruned");
        let resumed =
            read_events(http.get(&url).bearer_auth(&token).header("last-event-id", "1").send().await.unwrap(), 1).await;
        assert_eq!(resumed, vec![first[2].clone()], "Last-Event-ID from before the restart resumes after it");

        // The next turn's events are numbered on from the stored ones.
        app.model.script([Reply::Parts(vec![text("Four.")])]);
        let second = read_until_finished(post(&app, "More").await.unwrap()).await;
        let ids: Vec<u64> = second.iter().map(|(id, _)| id.parse().unwrap()).collect();
        assert_eq!(ids, [4, 5, 6], "{second:?}");
    }
);
