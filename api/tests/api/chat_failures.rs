//! Agent runs that end badly or are refused: a failing command, a busy session and Stop, every
//! kind of upstream failure, and no provider at all.

use crate::chat::{assistant, chat, finished, head_commit, ready_session, setup};
use crate::db_test;
use crate::harness::{MODEL_API_KEY, spawn_app, spawn_app_with};
use api_types::*;
use fakes::model::{Reply, text};
use std::time::Duration;

db_test!(
    async fn a_failing_command_fails_the_run_and_keeps_its_changes(backend) {
        let app = spawn_app_with(backend, |s| {
            s.agent.provider = Some("command".into());
            s.agent.command = Some("echo partial > half.txt; exit 3".into());
        })
        .await;
        let (owner, project, session) = setup(&app).await;
        owner.send_chat(&chat(&project, &session, "Try")).await.unwrap();
        let run = finished(&owner, project.id, session.id).await;
        assert_eq!(run.status, RunStatus::Failed);
        assert!(run.error.as_deref().unwrap().contains("status 3"), "{:?}", run.error);
        let (_, paths) = head_commit(&app, &project, &session.github_branch_name);
        assert_eq!(paths, ["half.txt"], "what the turn changed is committed, not lost");
    }
);

db_test!(
    async fn one_live_run_per_session_and_stopping_it(backend) {
        let app = spawn_app_with(backend, |s| s.agent.stall_timeout = Some(Duration::from_secs(30))).await;
        let (owner, project, session) = setup(&app).await;
        let other = ready_session(&app, &owner, project.id, "other").await;
        app.model.script([Reply::Stall]);
        owner.send_chat(&chat(&project, &session, "Think forever")).await.unwrap();
        let busy = owner.send_chat(&chat(&project, &session, "Again")).await.unwrap_err();
        assert_eq!((busy.status(), busy.code()), (Some(409), Some(ErrorCode::SessionBusy)));
        // The stalling answer is taken before the next one is scripted (on a loaded machine the
        // run may reach the model after this line).
        let asked = std::time::Instant::now();
        while app.model.requests().is_empty() {
            assert!(asked.elapsed() < Duration::from_secs(20), "the run never called the model");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        app.model.script([Reply::Parts(vec![text("Elsewhere is fine.")])]);
        owner.send_chat(&chat(&project, &other, "Meanwhile")).await.unwrap();
        assert_eq!(finished(&owner, project.id, other.id).await.status, RunStatus::Succeeded, "another session runs meanwhile");
        owner.cancel_run(project.id, session.id).await.unwrap();
        let run = finished(&owner, project.id, session.id).await;
        assert_eq!(run.status, RunStatus::Cancelled);
        assert!(assistant(&owner, project.id, session.id).await.content.contains("partial answer"), "the partial answer is kept");
        let none = owner.cancel_run(project.id, session.id).await.unwrap_err();
        assert_eq!(none.code(), Some(ErrorCode::NoLiveRun));
        app.model.script([Reply::Parts(vec![text("Back.")])]);
        owner.send_chat(&chat(&project, &session, "Again")).await.unwrap();
        assert_eq!(finished(&owner, project.id, session.id).await.status, RunStatus::Succeeded);
    }
);

db_test!(
    async fn upstream_failures_end_the_run_with_an_error_and_keep_the_partial_output(backend) {
        let app = spawn_app(backend).await;
        let (owner, project, session) = setup(&app).await;
        // Busy answers are retried twice (the `providers` tests): three in a row fail the run.
        let cases = [
            (vec![Reply::Status(401)], "401", false),
            (vec![Reply::Status(429); 3], "429", false),
            (vec![Reply::Status(503); 3], "503", false),
            (vec![Reply::Malformed], "malformed", true),
            (vec![Reply::Drop], "ended before", true),
            (vec![Reply::Stall], "sent nothing for 2 seconds", true),
            (vec![Reply::NeverAnswer], "sent nothing for 2 seconds", false),
        ];
        for (replies, expected, has_partial) in cases {
            app.model.script(replies);
            let started = std::time::Instant::now();
            owner.send_chat(&chat(&project, &session, "Go")).await.unwrap();
            let run = finished(&owner, project.id, session.id).await;
            assert!(started.elapsed() < Duration::from_secs(8), "{expected}: ended within its bound");
            assert_eq!(run.status, RunStatus::Failed, "{expected}");
            let error = run.error.clone().unwrap();
            assert!(error.contains(expected), "{expected}: {error}");
            assert!(!error.contains(MODEL_API_KEY));
            let message = assistant(&owner, project.id, session.id).await;
            assert_eq!(message.content.contains("partial answer"), has_partial, "{expected}: {}", message.content);
            let blocks: Vec<ContentBlock> = message.blocks.unwrap();
            assert!(matches!(blocks.last(), Some(ContentBlock::Error { .. })), "{expected}: the error is in the message");
        }
    }
);

db_test!(
    async fn without_a_provider_sending_answers_503_naming_the_settings(backend) {
        let app = spawn_app_with(backend, |s| s.agent.provider = None).await;
        let (owner, project, session) = setup(&app).await;
        let err = owner.send_chat(&chat(&project, &session, "Hello")).await.unwrap_err();
        assert_eq!((err.status(), err.code()), (Some(503), Some(ErrorCode::AgentUnavailable)));
        assert!(err.to_string().contains("KOSUKE_AGENT_PROVIDER"), "{err}");
        let info = owner.agent_info().await.unwrap();
        assert!(!info.available && info.reason.unwrap().contains("KOSUKE_AGENT_PROVIDER"));
        assert_eq!(owner.get_chat_session(project.id, session.id).await.unwrap().message_count, 0, "nothing stored");
    }
);
