//! Messages sent while a run is live (`queue: true`): kept in order, edited and cancelled,
//! started one by one as the next turns when the run ends, and after a restart.

use crate::chat::{chat, setup};
use crate::db_test;
use crate::harness::{spawn_app, spawn_binary};
use api_types::*;
use client::Client;
use fakes::model::{Reply, text};
use std::time::Duration;

async fn queued(owner: &Client, project: &Project, session: &ChatSession, prompt: &str) -> QueuedPrompt {
    match owner.send_chat_or_queue(&chat(project, session, prompt)).await.unwrap() {
        ChatAnswer::Queued(ChatQueued { queued }) => queued,
        ChatAnswer::Accepted(accepted) => panic!("started at once: {accepted:?}"),
    }
}

/// Waits until the session has `count` finished runs and nothing queued.
async fn all_done(owner: &Client, project: &Project, session: &ChatSession, count: usize) -> Vec<AgentRun> {
    for _ in 0..600 {
        let runs = owner.list_runs(project.id, session.id).await.unwrap().runs;
        let queue = owner.list_queue(project.id, session.id).await.unwrap().queued;
        if queue.is_empty() && runs.len() == count && runs.iter().all(|r| !r.status.is_live()) {
            return runs;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the queued turns did not all run");
}

async fn user_prompts(owner: &Client, project: &Project, session: &ChatSession) -> Vec<String> {
    let messages = owner.list_messages(project.id, session.id, &MessageQuery::default()).await.unwrap().messages;
    messages.into_iter().filter(|m| m.role == MessageRole::User).map(|m| m.content).collect()
}

db_test!(
    async fn messages_sent_during_a_run_wait_in_order_can_be_changed_and_run_after_it(backend) {
        let app = spawn_app(backend).await;
        let (owner, project, session) = setup(&app).await;
        app.model.script([
            Reply::Slow { chunks: 40, every: Duration::from_millis(50) },
            Reply::Parts(vec![text("Second answer.")]),
            Reply::Parts(vec![text("Third answer.")]),
        ]);
        owner.send_chat(&chat(&project, &session, "first")).await.unwrap();
        let refused = owner.send_chat(&chat(&project, &session, "not queued")).await.unwrap_err();
        assert_eq!(refused.status(), Some(409), "without queue: true a busy chat still says so");
        let second = queued(&owner, &project, &session, "second").await;
        let third = queued(&owner, &project, &session, "third").await;
        let fourth = queued(&owner, &project, &session, "fourth").await;
        assert_eq!((second.position, third.position, fourth.position), (1, 2, 3));
        let edited = owner.edit_queued(project.id, session.id, third.id, "third, edited").await.unwrap();
        assert_eq!((edited.prompt.as_str(), edited.position), ("third, edited", 2));
        owner.cancel_queued(project.id, session.id, fourth.id).await.unwrap();
        assert_eq!(owner.cancel_queued(project.id, session.id, fourth.id).await.unwrap_err().status(), Some(404));
        let listed = owner.list_queue(project.id, session.id).await.unwrap().queued;
        let shown: Vec<(&str, u32)> = listed.iter().map(|q| (q.prompt.as_str(), q.position)).collect();
        assert_eq!(shown, [("second", 1), ("third, edited", 2)]);
        let empty = owner.edit_queued(project.id, session.id, second.id, "  ").await.unwrap_err();
        assert_eq!(empty.status(), Some(422));
        let (eve, _) = app.user("eve").await;
        assert_eq!(eve.list_queue(project.id, session.id).await.unwrap_err().status(), Some(404));
        assert_eq!(eve.cancel_queued(project.id, session.id, second.id).await.unwrap_err().status(), Some(404));

        let runs = all_done(&owner, &project, &session, 3).await;
        assert!(runs.iter().all(|r| r.status == RunStatus::Succeeded), "{runs:?}");
        assert_eq!(user_prompts(&owner, &project, &session).await, ["first", "second", "third, edited"]);
        let last = crate::chat::assistant(&owner, project.id, session.id).await;
        assert_eq!(last.content, "Third answer.");
        // The model saw each queued prompt as its own turn, in order.
        let requests = app.model.requests();
        assert!(serde_json::to_string(&requests[1]).unwrap().contains("second"));
        assert!(serde_json::to_string(&requests[2]).unwrap().contains("third, edited"));

        // With nothing live and nothing waiting, `queue: true` starts at once.
        app.model.script([Reply::Parts(vec![text("Right away.")])]);
        let answer = owner.send_chat_or_queue(&chat(&project, &session, "now")).await.unwrap();
        assert!(matches!(answer, ChatAnswer::Accepted(_)), "{answer:?}");
    }
);

db_test!(
    async fn a_queued_message_survives_a_restart_and_runs_after_it(backend) {
        let mut app = spawn_binary(backend, &[
            ("KOSUKE_AGENT_PROVIDER", "anthropic"),
            ("KOSUKE_AGENT_MODEL", "claude-test"),
            ("KOSUKE_AGENT_API_KEY", "sk-ant-queue"),
        ])
        .await;
        let (owner, project, session) = setup(&app).await;
        app.model.script([
            Reply::Slow { chunks: 600, every: Duration::from_millis(50) },
            Reply::Parts(vec![text("After the restart.")]),
        ]);
        owner.send_chat(&chat(&project, &session, "long one")).await.unwrap();
        // Its review comment is kept with it (sealed) through the restart.
        let mut waiting = chat(&project, &session, "waits for the restart");
        waiting.comments = vec![ReviewComment {
            path: "README.md".into(),
            start_line: 1,
            end_line: 1,
            side: CommentSide::New,
            quote: "# Shop".into(),
            body: "A better title, please.".into(),
        }];
        assert!(matches!(owner.send_chat_or_queue(&waiting).await.unwrap(), ChatAnswer::Queued(_)));
        // Killed while the model streams its answer.
        for _ in 0..400 {
            if !app.model.requests().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert_eq!(app.model.requests().len(), 1, "the first turn reached the model");
        app.kill_and_restart_binary().await;

        let owner = app.client();
        owner.login(&LoginRequest { email: "ann@example.test".into(), password: "ann-password".into() }).await.unwrap();
        let runs = all_done(&owner, &project, &session, 2).await;
        let statuses: Vec<RunStatus> = runs.iter().map(|r| r.status).collect();
        assert!(statuses.contains(&RunStatus::Interrupted) && statuses.contains(&RunStatus::Succeeded), "{statuses:?}");
        assert_eq!(user_prompts(&owner, &project, &session).await, ["long one", "waits for the restart"]);
        assert_eq!(crate::chat::assistant(&owner, project.id, session.id).await.content, "After the restart.");
        let resumed = serde_json::to_string(app.model.requests().last().unwrap()).unwrap();
        assert!(resumed.contains("README.md:1") && resumed.contains("A better title, please."), "{resumed}");
    }
);
