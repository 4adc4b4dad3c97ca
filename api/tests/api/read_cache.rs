//! The read cache (api/src/cache.rs) never answers with what a write changed: each test asks
//! first, so the answer is kept, then writes — through the API, in the background, or as
//! another user — and asks again.

use crate::chat;
use crate::db_test;
use crate::harness::spawn_app;
use api_types::*;
use fakes::model::{Reply, text};
use std::time::Duration;

db_test!(
    async fn the_session_list_follows_every_change(backend) {
        let app = spawn_app(backend).await;
        let (owner, _) = app.user("ann").await;
        let origin = app.origin("shop", &[("README.md", "# Shop\n")], &[]);
        let project = app.project_from(&owner, "shop", &origin).await;
        let list = async |status: Option<ChatSessionStatus>| {
            owner.list_chat_sessions(project.id, &ChatSessionQuery { status, ..Default::default() }).await.unwrap()
        };
        let create = async |title: &str| {
            let request = CreateChatSessionRequest { title: title.into(), description: None, base_branch: None };
            owner.create_chat_session(project.id, &request).await.unwrap()
        };
        // The project's first session is its default one, which cannot be deleted. Its checkout
        // is made in the background; wait for it, so nothing changes between the next two asks.
        let main = create("Main").await;
        app.ready_session(&owner, &main).await;
        let before = list(None).await;
        let json = |list: &ChatSessionList| serde_json::to_value(list).unwrap();
        assert_eq!(json(&list(None).await), json(&before), "asked twice, answered the same");

        let session = create("Cart").await;
        let listed = list(None).await;
        assert_eq!(listed.total, before.total + 1);
        assert_eq!(listed.sessions[0].id, session.id);

        // The checkout is made in the background: the list shows it ready with no request in between.
        let mut ready = false;
        for _ in 0..400 {
            let state = list(None).await.sessions.into_iter().find(|s| s.id == session.id).unwrap().workspace_state;
            if state != WorkspaceState::Provisioning {
                assert_eq!(state, WorkspaceState::Ready);
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert!(ready, "the list never showed the checkout ready");

        let rename = UpdateChatSessionRequest { title: Some("Checkout".into()), ..Default::default() };
        owner.update_chat_session(project.id, session.id, &rename).await.unwrap();
        assert_eq!(list(None).await.sessions[0].title, "Checkout");

        assert_eq!(list(Some(ChatSessionStatus::Archived)).await.total, 0);
        let archive = UpdateChatSessionRequest { status: Some(ChatSessionStatus::Archived), ..Default::default() };
        owner.update_chat_session(project.id, session.id, &archive).await.unwrap();
        let archived = list(Some(ChatSessionStatus::Archived)).await;
        assert_eq!(archived.sessions.iter().map(|s| s.id).collect::<Vec<_>>(), [session.id]);

        owner.delete_chat_session(project.id, session.id).await.unwrap();
        assert_eq!(list(None).await.total, before.total);
        assert_eq!(list(Some(ChatSessionStatus::Archived)).await.total, 0);
    }
);

db_test!(
    async fn message_pages_follow_a_chat_turn(backend) {
        let app = spawn_app(backend).await;
        let (owner, project, session) = chat::setup(&app).await;
        let page = async || owner.list_messages(project.id, session.id, &MessageQuery::default()).await.unwrap();
        assert_eq!(page().await.total, 0);
        assert_eq!(page().await.total, 0);

        app.model.script([Reply::Parts(vec![text("Nothing to change.")])]);
        owner.send_chat(&chat::chat(&project, &session, "Anything to do?")).await.unwrap();
        chat::finished(&owner, project.id, session.id).await;
        let after = page().await;
        assert_eq!(after.total, 2);
        let said: Vec<(MessageRole, &str)> = after.messages.iter().map(|m| (m.role, m.content.as_str())).collect();
        assert_eq!(said, [(MessageRole::User, "Anything to do?"), (MessageRole::Assistant, "Nothing to change.")]);

        // While a run streams, a page shows its message as it stands (the run's transcript in
        // memory; the row is written whole at the end).
        app.model.script([Reply::Slow { chunks: 8, every: Duration::from_millis(100) }]);
        owner.send_chat(&chat::chat(&project, &session, "Count slowly")).await.unwrap();
        let mut seen = Vec::new();
        for _ in 0..100 {
            let text = page().await.messages.last().unwrap().content.clone();
            if seen.last() != Some(&text) {
                seen.push(text.clone());
            }
            if text.contains("chunk 7.") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        chat::finished(&owner, project.id, session.id).await;
        assert!(seen.len() >= 3, "the page followed the stream: {seen:?}");
        assert!(page().await.messages.last().unwrap().content.contains("chunk 7."));
    }
);

db_test!(
    async fn signing_out_revoking_a_token_or_leaving_a_project_ends_access_at_once(backend) {
        let app = spawn_app(backend).await;
        let (owner, _) = app.user("ann").await;
        let project = app.project(&owner, "shop").await;

        let (member, member_user) = app.user("bob").await;
        let invite = AddMemberRequest { email: "bob@example.test".into(), role: None };
        owner.add_member(project.id, &invite).await.unwrap();
        member.list_chat_sessions(project.id, &ChatSessionQuery::default()).await.unwrap();
        owner.remove_member(project.id, &member_user.id).await.unwrap();
        let gone = member.list_chat_sessions(project.id, &ChatSessionQuery::default()).await.unwrap_err();
        assert_eq!(gone.status(), Some(404));

        let created = owner.create_api_token(&CreateApiTokenRequest { name: "script".into() }).await.unwrap();
        let script = app.client().with_token(created.token);
        script.me().await.unwrap();
        script.me().await.unwrap();
        owner.delete_api_token(created.id).await.unwrap();
        assert_eq!(script.me().await.unwrap_err().status(), Some(401));

        owner.me().await.unwrap();
        owner.logout().await.unwrap();
        assert_eq!(owner.me().await.unwrap_err().status(), Some(401));
    }
);
