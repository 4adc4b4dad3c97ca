//! Chats that say when they need their user: each session's activity (running, finished or
//! failed unread, waiting for you when the turn ended asking) and unread turns, per user and
//! session, cleared when its user reads it or sends again.

use crate::chat::{chat, finished, ready_session, setup};
use crate::db_test;
use crate::harness::spawn_app;
use api_types::*;
use client::Client;
use fakes::model::{Reply, text};
use std::time::Duration;

async fn shown(owner: &Client, session: &ChatSession) -> (SessionActivity, u32) {
    let now = owner.get_chat_session(session.project_id, session.id).await.unwrap();
    (now.activity, now.unread)
}

db_test!(
    async fn each_chat_says_whether_it_ran_finished_failed_or_asks_until_its_user_reads_it(backend) {
        let app = spawn_app(backend).await;
        let (owner, project, session) = setup(&app).await;
        assert_eq!(shown(&owner, &session).await, (SessionActivity::Idle, 0));

        app.model.script([Reply::Slow { chunks: 20, every: Duration::from_millis(50) }]);
        owner.send_chat(&chat(&project, &session, "take your time")).await.unwrap();
        assert_eq!(shown(&owner, &session).await.0, SessionActivity::Running);
        finished(&owner, project.id, session.id).await;
        assert_eq!(shown(&owner, &session).await, (SessionActivity::FinishedUnread, 1));
        app.model.script([Reply::Parts(vec![text("Done again.")])]);
        owner.send_chat(&chat(&project, &session, "again")).await.unwrap();
        finished(&owner, project.id, session.id).await;
        assert_eq!(shown(&owner, &session).await, (SessionActivity::FinishedUnread, 1), "sending read what came before");

        // The list says it too (what the sidebar reads).
        let listed = owner.list_chat_sessions(project.id, &ChatSessionQuery::default()).await.unwrap().sessions;
        let card = listed.iter().find(|s| s.id == session.id).unwrap();
        assert_eq!((card.activity, card.unread), (SessionActivity::FinishedUnread, 1));
        owner.mark_read(project.id, session.id).await.unwrap();
        assert_eq!(shown(&owner, &session).await, (SessionActivity::Idle, 0));

        app.model.script([Reply::Parts(vec![text("Which colour do you want, blue or green?")])]);
        owner.send_chat(&chat(&project, &session, "make it pretty")).await.unwrap();
        finished(&owner, project.id, session.id).await;
        assert_eq!(shown(&owner, &session).await, (SessionActivity::WaitingForYou, 1));
        owner.mark_read(project.id, session.id).await.unwrap();

        app.model.script([Reply::Status(400)]);
        owner.send_chat(&chat(&project, &session, "break")).await.unwrap();
        assert_eq!(finished(&owner, project.id, session.id).await.status, RunStatus::Failed);
        assert_eq!(shown(&owner, &session).await, (SessionActivity::FailedUnread, 1));

        // A stopped turn is not news.
        owner.mark_read(project.id, session.id).await.unwrap();
        app.model.script([Reply::Slow { chunks: 600, every: Duration::from_millis(50) }]);
        let asked = app.model.requests().len();
        owner.send_chat(&chat(&project, &session, "long")).await.unwrap();
        // Stopped once the model streams (so no other turn gets the long answer).
        while app.model.requests().len() == asked {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        owner.cancel_run(project.id, session.id).await.unwrap();
        assert_eq!(finished(&owner, project.id, session.id).await.status, RunStatus::Cancelled);
        assert_eq!(shown(&owner, &session).await, (SessionActivity::Idle, 0));

        // Per user: another member's chat has its own state; neither reads the other's.
        let (bob, bob_user) = app.user("bob").await;
        owner
            .add_member(project.id, &AddMemberRequest { email: bob_user.email.clone(), role: None })
            .await
            .unwrap();
        let bobs = ready_session(&app, &bob, project.id, "bob's").await;
        app.model.script([Reply::Parts(vec![text("For Bob.")])]);
        bob.send_chat(&chat(&project, &bobs, "hi")).await.unwrap();
        finished(&bob, project.id, bobs.id).await;
        assert_eq!(shown(&bob, &bobs).await, (SessionActivity::FinishedUnread, 1));
        assert_eq!(shown(&owner, &session).await, (SessionActivity::Idle, 0));
        assert_eq!(owner.mark_read(project.id, bobs.id).await.unwrap_err().status(), Some(404));
        assert_eq!(shown(&bob, &bobs).await.1, 1, "only its user reads it");
    }
);
