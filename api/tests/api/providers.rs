//! The agent against its providers as they really speak (issue: byte-safe streams, Ollama's
//! tool calls, retries, stop reasons, current OpenAI parameters). The fake provider replays
//! recorded streams (`crates/fakes/fixtures/providers`, provenance in each file) and answers
//! as busy or strict servers do; every run goes through the real server, database and git.

use crate::chat::{assistant, chat, finished, head_commit, setup, spawn_openai_app};
use crate::chat_events::read_events;
use crate::db_test;
use crate::harness::{Backend, TestApp, spawn_app, spawn_app_with};
use api_types::*;
use client::Client;
use fakes::model::{Refusal, Reply, fixture, text, tool};
use serde_json::json;
use std::time::Duration;

const HELLO: &str = "# こんにちは\nprint('héllo 🎉')\n";

/// Every event of the session's first run (finished), replayed from the start.
async fn run_events(app: &TestApp, owner: &Client, project: &Project, session: &ChatSession) -> Vec<RunEvent> {
    let token = owner.create_api_token(&CreateApiTokenRequest { name: "events".into() }).await.unwrap().token;
    let url = app.url(&format!("/api/projects/{}/chat-sessions/{}/events", project.id, session.id));
    let http = reqwest::Client::new();
    let (mut ids, mut events): (Vec<String>, Vec<RunEvent>) = (Vec::new(), Vec::new());
    // One event at a time from the replay, until the run's end.
    while !matches!(events.last(), Some(RunEvent::RunFinished { .. })) {
        let mut request = http.get(&url).bearer_auth(&token);
        if !events.is_empty() {
            request = request.header("last-event-id", ids.last().unwrap());
        }
        let next = read_events(request.send().await.unwrap(), 1).await;
        let Some((id, event)) = next.into_iter().next() else { panic!("the replay ended early: {events:?}") };
        ids.push(id);
        events.push(event);
    }
    events
}

/// Split points inside each multi-byte character class of the fixture (2-, 3- and 4-byte
/// UTF-8), the first byte of each character and the one after it. The agent crate's own test
/// sweeps every byte; here each split goes through the whole server and into a commit.
fn splits_inside_characters(name: &str) -> Vec<usize> {
    let bytes = fixture(name);
    let mut splits = Vec::new();
    for lead in [0xC0u8, 0xE0, 0xF0] {
        let at = bytes.iter().rposition(|b| *b >= lead && *b < lead + if lead == 0xF0 { 0x08 } else { 0x10 }).unwrap();
        splits.extend([at + 1, at + 2]);
    }
    splits
}

async fn split_streams_commit_the_exact_bytes(app: &TestApp, name: &'static str) {
    let (owner, project, _) = setup(app).await;
    for at in splits_inside_characters(name) {
        let session = crate::chat::ready_session(app, &owner, project.id, &format!("split {at}")).await;
        app.model.script([Reply::Fixture { name, split_at: Some(at) }]);
        owner.send_chat(&chat(&project, &session, "Write hello.py")).await.unwrap();
        let run = finished(&owner, project.id, session.id).await;
        assert_eq!((run.status, run.error), (RunStatus::Succeeded, None), "split at {at}");
        let mirror =
            git2::Repository::open_bare(app.data_dir.path().join(format!("projects/{}/mirror.git", project.id)))
                .unwrap();
        let head = mirror
            .find_commit(mirror.refname_to_id(&format!("refs/heads/{}", session.github_branch_name)).unwrap())
            .unwrap();
        let blob = head.tree().unwrap().get_path(std::path::Path::new("hello.py")).unwrap().to_object(&mirror).unwrap();
        assert_eq!(blob.as_blob().unwrap().content(), HELLO.as_bytes(), "split at {at}: committed byte for byte");
        let message = assistant(&owner, project.id, session.id).await;
        assert!(!message.content.contains('\u{FFFD}'), "split at {at}: {}", message.content);
    }
}

db_test!(
    async fn anthropic_text_split_inside_characters_is_committed_byte_identical(backend) {
        let app = spawn_app(backend).await;
        split_streams_commit_the_exact_bytes(&app, "anthropic-write-file.sse").await;
    }
);

db_test!(
    async fn openai_text_split_inside_characters_is_committed_byte_identical(backend) {
        let app = spawn_openai_app(backend).await;
        split_streams_commit_the_exact_bytes(&app, "openai-write-file.sse").await;
    }
);

db_test!(
    async fn ollamas_parallel_tool_calls_write_every_file(backend) {
        let app = spawn_openai_app(backend).await;
        let (owner, project, session) = setup(&app).await;
        for name in ["ollama-parallel-same-index.sse", "ollama-old-no-index.sse"] {
            app.model.script([Reply::Fixture { name, split_at: None }]);
            owner.send_chat(&chat(&project, &session, name)).await.unwrap();
            let run = finished(&owner, project.id, session.id).await;
            assert_eq!((run.status, run.error), (RunStatus::Succeeded, None), "{name}");
            let (_, mut paths) = head_commit(&app, &project, &session.github_branch_name);
            paths.sort();
            assert_eq!(paths, ["first.txt", "second.txt"], "{name}: both calls ran");
            let second = owner.get_file(project.id, session.id, "second.txt").await.unwrap();
            assert_eq!(second.content.as_deref(), Some("二番目\n"), "{name}");
            // The next turn starts from a clean slate for the second fixture.
            for path in ["first.txt", "second.txt"] {
                std::fs::remove_file(app.checkout_dir(&session).join(path)).unwrap();
            }
        }
    }
);

db_test!(
    async fn a_server_refusing_max_tokens_is_asked_with_max_completion_tokens_from_then_on(backend) {
        let app = spawn_openai_app(backend).await;
        app.model.refuse_fields(&["max_tokens"]);
        let (owner, project, session) = setup(&app).await;
        owner.send_chat(&chat(&project, &session, "write first")).await.unwrap();
        let run = finished(&owner, project.id, session.id).await;
        assert_eq!((run.status, run.error), (RunStatus::Succeeded, None));
        owner.send_chat(&chat(&project, &session, "write second")).await.unwrap();
        assert_eq!(finished(&owner, project.id, session.id).await.status, RunStatus::Succeeded);
        let limits: Vec<(bool, bool)> = app
            .model
            .requests()
            .iter()
            .map(|r| (r.get("max_tokens").is_some(), r.get("max_completion_tokens").is_some()))
            .collect();
        // Refused once; every later call (this turn's second, the next turn's) names it anew.
        assert_eq!(limits, [(true, false), (false, true), (false, true), (false, true), (false, true)]);
        assert_eq!(app.model.requests()[1]["max_completion_tokens"], 8192);
    }
);

db_test!(
    async fn a_fastapi_422_naming_stream_options_is_understood(backend) {
        let app = spawn_openai_app(backend).await;
        app.model.refuse_fields_as(&["stream_options"], Refusal::FastApi);
        let (owner, project, session) = setup(&app).await;
        owner.send_chat(&chat(&project, &session, "write strict")).await.unwrap();
        let run = finished(&owner, project.id, session.id).await;
        assert_eq!((run.status, run.error), (RunStatus::Succeeded, None));
        let asked: Vec<bool> = app.model.requests().iter().map(|r| r.get("stream_options").is_some()).collect();
        assert_eq!(asked, [true, false, false]);
    }
);

db_test!(
    async fn streamed_errors_of_every_shape_fail_the_run_with_the_providers_message(backend) {
        let app = spawn_openai_app(backend).await;
        let (owner, project, session) = setup(&app).await;
        for (name, said) in [
            ("llamacpp-stream-error.sse", "the request exceeds the available context size"),
            ("vllm-error-object.sse", "maximum context length is 4096 tokens"),
        ] {
            app.model.script([Reply::Fixture { name, split_at: None }]);
            owner.send_chat(&chat(&project, &session, name)).await.unwrap();
            let run = finished(&owner, project.id, session.id).await;
            assert_eq!(run.status, RunStatus::Failed, "{name}: never a success with a cut answer");
            assert!(run.error.as_deref().unwrap_or_default().contains(said), "{name}: {:?}", run.error);
            let message = assistant(&owner, project.id, session.id).await;
            assert!(matches!(message.blocks.unwrap().last(), Some(ContentBlock::Error { message }) if message.contains(said)));
        }
    }
);

/// An Anthropic app whose retries back off quickly (the first wait 0.5 s by default).
async fn spawn_retrying_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |s| s.agent.max_retries = Some(2)).await
}

db_test!(
    async fn a_429_with_retry_after_is_retried_once_and_the_turn_succeeds(backend) {
        let app = spawn_retrying_app(backend).await;
        let (owner, project, session) = setup(&app).await;
        app.model.script([Reply::Busy { status: 429, retry_after: Some(1) }, Reply::Parts(vec![text("Here now.")])]);
        owner.send_chat(&chat(&project, &session, "Hello?")).await.unwrap();
        let run = finished(&owner, project.id, session.id).await;
        assert_eq!((run.status, run.error), (RunStatus::Succeeded, None));
        let events = run_events(&app, &owner, &project, &session).await;
        let retries: Vec<&str> = events
            .iter()
            .filter_map(|e| match e {
                RunEvent::Retrying { message, .. } => Some(message.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(retries.len(), 1, "{events:?}");
        assert!(retries[0].contains("429") && retries[0].contains("retrying in 1 s"), "{}", retries[0]);
        let message = assistant(&owner, project.id, session.id).await;
        assert_eq!(message.content, "Here now.");
        assert_eq!(app.model.requests().len(), 2);
    }
);

db_test!(
    async fn three_529s_in_a_row_fail_with_the_providers_message(backend) {
        let app = spawn_retrying_app(backend).await;
        let (owner, project, session) = setup(&app).await;
        app.model.script([Reply::Status(529), Reply::Status(529), Reply::Status(529), Reply::Parts(vec![text("never")])]);
        owner.send_chat(&chat(&project, &session, "Hello?")).await.unwrap();
        let run = finished(&owner, project.id, session.id).await;
        assert_eq!(run.status, RunStatus::Failed);
        let error = run.error.unwrap();
        assert!(error.contains("529") && error.contains("scripted failure 529"), "{error}");
        assert_eq!(app.model.requests().len(), 3, "the first attempt and two retries");
        let blocks = assistant(&owner, project.id, session.id).await.blocks.unwrap();
        let retries = blocks.iter().filter(|b| matches!(b, ContentBlock::Retry { .. })).count();
        assert_eq!(retries, 2, "each retry is in the transcript: {blocks:?}");
    }
);

db_test!(
    async fn an_overload_mid_answer_discards_the_partial_text_and_retries(backend) {
        let app = spawn_retrying_app(backend).await;
        let (owner, project, session) = setup(&app).await;
        app.model.script([
            Reply::Fixture { name: "anthropic-overloaded.sse", split_at: None },
            Reply::Parts(vec![text("Une réponse entière.")]),
        ]);
        owner.send_chat(&chat(&project, &session, "Réponds")).await.unwrap();
        let run = finished(&owner, project.id, session.id).await;
        assert_eq!((run.status, run.error), (RunStatus::Succeeded, None));
        let message = assistant(&owner, project.id, session.id).await;
        assert_eq!(message.content, "Une réponse entière.", "the failed attempt's text is not part of the answer");
        let blocks = message.blocks.unwrap();
        assert!(
            blocks.iter().any(|b| matches!(b, ContentBlock::Retry { discarded, message } if discarded == "Je commence à répondre" && message.contains("Overloaded"))),
            "the discarded text is kept, marked: {blocks:?}"
        );
    }
);

db_test!(
    async fn answers_cut_at_the_token_limit_say_so(backend) {
        for (openai, name, said) in [
            (false, "anthropic-max-tokens-text.sse", "the answer was cut at the model's token limit"),
            (false, "anthropic-max-tokens-in-tool.sse", "a tool call was cut at the model's token limit"),
            (true, "openai-length.sse", "the answer was cut at the model's token limit"),
            (true, "openai-length-in-tool.sse", "a tool call was cut at the model's token limit"),
        ] {
            let app = if openai { spawn_openai_app(backend).await } else { spawn_app(backend).await };
            let (owner, project, session) = setup(&app).await;
            app.model.script([Reply::Fixture { name, split_at: None }]);
            owner.send_chat(&chat(&project, &session, "Explain at length")).await.unwrap();
            let run = finished(&owner, project.id, session.id).await;
            assert_eq!(run.status, RunStatus::Failed, "{name}: a cut answer is not a success");
            let error = run.error.unwrap();
            assert!(error.to_lowercase().contains(said) && !error.contains("malformed"), "{name}: {error}");
            let message = assistant(&owner, project.id, session.id).await;
            assert!(matches!(message.blocks.unwrap().last(), Some(ContentBlock::Error { .. })), "{name}: shown to the user");
        }
    }
);

db_test!(
    async fn a_tool_call_composed_for_longer_than_the_stall_bound_still_runs(backend) {
        // The harness's stall bound is 2 s; the tool-call bound keeps its default (600 s).
        for openai in [false, true] {
            let app = if openai { spawn_openai_app(backend).await } else { spawn_app(backend).await };
            let (owner, project, session) = setup(&app).await;
            app.model.script([Reply::SlowTool { silence: Duration::from_secs(3) }]);
            owner.send_chat(&chat(&project, &session, "Write slowly")).await.unwrap();
            let run = finished(&owner, project.id, session.id).await;
            assert_eq!((run.status, run.error), (RunStatus::Succeeded, None), "openai: {openai}");
            let (_, paths) = head_commit(&app, &project, &session.github_branch_name);
            assert_eq!(paths, ["slow.txt"]);
        }
    }
);

db_test!(
    async fn the_next_turn_is_told_the_tool_calls_and_results_of_the_last(backend) {
        for openai in [false, true] {
            let app = if openai { spawn_openai_app(backend).await } else { spawn_app(backend).await };
            let (owner, project, session) = setup(&app).await;
            app.model.script([
                Reply::Parts(vec![text("Reading."), tool("read_file", json!({"path": "README.md"}))]),
                Reply::Parts(vec![text("It greets.")]),
                Reply::Parts(vec![text("Yes.")]),
            ]);
            owner.send_chat(&chat(&project, &session, "What does the README say?")).await.unwrap();
            finished(&owner, project.id, session.id).await;
            let first = assistant(&owner, project.id, session.id).await;
            assert_eq!(first.content, "Reading.\n\nIt greets.", "text blocks keep their separation");
            owner.send_chat(&chat(&project, &session, "Are you sure?")).await.unwrap();
            finished(&owner, project.id, session.id).await;
            let request = app.model.requests()[2].clone();
            let sent = request["messages"].to_string();
            assert!(sent.contains("read_file") && sent.contains("# Shop\\nHello"), "openai {openai}: {sent}");
            let messages = request["messages"].as_array().unwrap();
            if openai {
                let roles: Vec<&str> = messages.iter().map(|m| m["role"].as_str().unwrap()).collect();
                assert_eq!(roles, ["system", "user", "assistant", "tool", "assistant", "user"]);
                assert_eq!(messages[2]["tool_calls"][0]["function"]["name"], "read_file");
                assert_eq!(messages[3]["tool_call_id"], messages[2]["tool_calls"][0]["id"]);
            } else {
                let roles: Vec<&str> = messages.iter().map(|m| m["role"].as_str().unwrap()).collect();
                assert_eq!(roles, ["user", "assistant", "user", "assistant", "user"]);
                assert_eq!(messages[1]["content"][1]["type"], "tool_use");
                assert_eq!(messages[2]["content"][0]["type"], "tool_result");
                assert_eq!(messages[2]["content"][0]["tool_use_id"], messages[1]["content"][1]["id"]);
            }
        }
    }
);
