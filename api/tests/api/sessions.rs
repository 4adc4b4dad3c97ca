//! Chat-session CRUD, pagination, search, filters and concurrent creation.

use crate::db_test;
use crate::harness::{insert_message, spawn_app};
use api_types::*;
use std::collections::HashSet;

fn new_session(title: &str) -> CreateChatSessionRequest {
    CreateChatSessionRequest { title: title.to_owned(), description: None, base_branch: None }
}

db_test!(
    async fn session_crud_answers_with_the_ticket_shapes(backend) {
        let app = spawn_app(backend).await;
        let (owner, user) = app.user("ann").await;
        let project = app.project(&owner, "shop").await;
        let http = app.http();
        // Sign the raw client in too, to see the exact JSON.
        http.post(app.url("/api/auth/login"))
            .json(&serde_json::json!({"email": "ann@example.test", "password": "ann-password"}))
            .send()
            .await
            .unwrap();

        let response = http
            .post(app.url(&format!("/api/projects/{}/chat-sessions", project.id)))
            .json(&serde_json::json!({"title": "  Main chat  ", "description": "The first one"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 201);
        let body: serde_json::Value = response.json().await.unwrap();
        let keys: HashSet<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
        let expected: HashSet<&str> = [
            "id", "project_id", "user_id", "title", "description", "session_id", "github_branch_name", "status",
            "created_at", "updated_at", "last_activity_at", "message_count", "is_default", "base_branch",
            "pull_request_number", "pull_request_url", "workspace_state", "workspace_error", "disk_bytes", "activity",
            "unread", "undo_revert",
        ]
        .into_iter()
        .collect();
        assert_eq!(keys, expected);
        assert_eq!(body["title"], "Main chat");
        assert_eq!(body["description"], "The first one");
        assert_eq!(body["status"], "active");
        assert_eq!(body["message_count"], 0);
        assert_eq!(body["is_default"], true);
        assert_eq!(body["base_branch"], "main");
        assert_eq!(body["project_id"], project.id.0);
        assert_eq!(body["user_id"], user.id.0.as_str());
        assert_eq!(body["pull_request_url"], serde_json::Value::Null);
        let session_id = body["session_id"].as_str().unwrap();
        assert_eq!(session_id.len(), 20);
        assert!(session_id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
        assert_eq!(body["github_branch_name"], format!("kosuke-chat-{session_id}"));
        let main = ChatSessionPk(body["id"].as_i64().unwrap() as i32);

        let second = owner.create_chat_session(project.id, &new_session("Feature XYZ")).await.unwrap();
        assert!(!second.is_default);
        assert_ne!(second.session_id, session_id);

        let renamed = owner
            .update_chat_session(
                project.id,
                second.id,
                &UpdateChatSessionRequest { title: Some("Feature ABC".into()), ..Default::default() },
            )
            .await
            .unwrap();
        assert_eq!(renamed.title, "Feature ABC");
        assert_eq!(renamed.github_branch_name, second.github_branch_name, "renaming keeps the branch");
        let archived = owner
            .update_chat_session(
                project.id,
                second.id,
                &UpdateChatSessionRequest { status: Some(ChatSessionStatus::Archived), ..Default::default() },
            )
            .await
            .unwrap();
        assert_eq!(archived.status, ChatSessionStatus::Archived);
        assert_eq!(archived.title, "Feature ABC");
        let cleared = owner
            .update_chat_session(
                project.id,
                main,
                &UpdateChatSessionRequest { description: Some(String::new()), ..Default::default() },
            )
            .await
            .unwrap();
        assert_eq!(cleared.description, None);

        let list: serde_json::Value = http
            .get(app.url(&format!("/api/projects/{}/chat-sessions", project.id)))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(list["total"], 2);
        assert_eq!(list["sessions"].as_array().unwrap().len(), 2);
        assert_eq!(list["next_cursor"], serde_json::Value::Null);

        let messages = owner.list_messages(project.id, main, &MessageQuery::default()).await.unwrap();
        assert_eq!((messages.messages.len(), messages.total, messages.next_cursor), (0, 0, None));

        let err = owner.delete_chat_session(project.id, main).await.unwrap_err();
        assert_eq!((err.status(), err.code()), (Some(409), Some(ErrorCode::DefaultSession)));
        owner.delete_chat_session(project.id, second.id).await.unwrap();
        let err = owner.get_chat_session(project.id, second.id).await.unwrap_err();
        assert_eq!((err.status(), err.code()), (Some(404), Some(ErrorCode::NotFound)));
        assert_eq!(owner.get_chat_session(project.id, main).await.unwrap().title, "Main chat");
    }
);

db_test!(
    async fn paging_through_250_sessions_sees_each_exactly_once(backend) {
        let app = spawn_app(backend).await;
        let (owner, _) = app.user("ann").await;
        let project = app.project(&owner, "big").await;
        let mut created = Vec::new();
        for n in 0..250 {
            created.push(owner.create_chat_session(project.id, &new_session(&format!("s{n}"))).await.unwrap().id);
        }
        for limit in [100, 7] {
            let mut seen = Vec::new();
            let mut cursor = None;
            loop {
                let page = owner
                    .list_chat_sessions(
                        project.id,
                        &ChatSessionQuery { limit: Some(limit), cursor: cursor.clone(), ..Default::default() },
                    )
                    .await
                    .unwrap();
                assert_eq!(page.total, 250);
                assert!(page.sessions.len() as u64 <= limit);
                seen.extend(page.sessions.iter().map(|s| (s.last_activity_at, s.id)));
                match page.next_cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            let ids: Vec<ChatSessionPk> = seen.iter().map(|(_, id)| *id).collect();
            assert_eq!(ids.len(), 250, "limit {limit}: no session repeated or missed");
            assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 250);
            assert_eq!(ids.iter().collect::<HashSet<_>>(), created.iter().collect::<HashSet<_>>());
            assert!(seen.windows(2).all(|w| w[0] >= w[1]), "newest activity first");
        }
    }
);

db_test!(
    async fn search_and_status_filters_narrow_the_list(backend) {
        let app = spawn_app(backend).await;
        let (owner, _) = app.user("ann").await;
        let project = app.project(&owner, "shop").await;
        let create = |title: &str, description: Option<&str>| CreateChatSessionRequest {
            title: title.to_owned(),
            description: description.map(str::to_owned),
            base_branch: None,
        };
        let login = owner.create_chat_session(project.id, &create("Fix LOGIN bug", None)).await.unwrap();
        let dark = owner.create_chat_session(project.id, &create("Dark mode", Some("also the login screen"))).await.unwrap();
        let percent = owner.create_chat_session(project.id, &create("Sale: 100% off_now", None)).await.unwrap();
        owner
            .update_chat_session(
                project.id,
                dark.id,
                &UpdateChatSessionRequest { status: Some(ChatSessionStatus::Archived), ..Default::default() },
            )
            .await
            .unwrap();

        let search = |q: &str, status: Option<ChatSessionStatus>| {
            let owner = owner.clone();
            let q = q.to_owned();
            async move {
                let list = owner
                    .list_chat_sessions(project.id, &ChatSessionQuery { q: Some(q), status, ..Default::default() })
                    .await
                    .unwrap();
                let ids: HashSet<ChatSessionPk> = list.sessions.iter().map(|s| s.id).collect();
                assert_eq!(list.total as usize, ids.len());
                ids
            }
        };
        assert_eq!(search("login", None).await, HashSet::from([login.id, dark.id]), "title or description, any case");
        assert_eq!(search("Login", Some(ChatSessionStatus::Active)).await, HashSet::from([login.id]));
        assert_eq!(search("login", Some(ChatSessionStatus::Archived)).await, HashSet::from([dark.id]));
        assert_eq!(search("%", None).await, HashSet::from([percent.id]), "% matches itself");
        assert_eq!(search("e_", None).await, HashSet::new(), "_ matches itself, not \"e:\" in \"Sale:\"");
        assert_eq!(search("off_now", None).await, HashSet::from([percent.id]));
        assert_eq!(search("nothing like this", None).await, HashSet::new());
        let archived = owner
            .list_chat_sessions(
                project.id,
                &ChatSessionQuery { status: Some(ChatSessionStatus::Archived), ..Default::default() },
            )
            .await
            .unwrap();
        assert_eq!((archived.total, archived.sessions[0].id), (1, dark.id));
    }
);

db_test!(
    async fn fifty_concurrent_creations_get_distinct_branches_and_one_default(backend) {
        let app = spawn_app(backend).await;
        let (owner, _) = app.user("ann").await;
        let project = app.project(&owner, "busy").await;
        let creations = (0..50).map(|n| {
            let owner = owner.clone();
            tokio::spawn(async move { owner.create_chat_session(project.id, &new_session(&format!("chat {n}"))).await })
        });
        let mut sessions = Vec::new();
        for handle in futures_util::future::join_all(creations).await {
            sessions.push(handle.unwrap().expect("every concurrent creation succeeds"));
        }
        let session_ids: HashSet<&str> = sessions.iter().map(|s| s.session_id.as_str()).collect();
        let branches: HashSet<&str> = sessions.iter().map(|s| s.github_branch_name.as_str()).collect();
        assert_eq!((session_ids.len(), branches.len()), (50, 50));
        assert_eq!(sessions.iter().filter(|s| s.is_default).count(), 1);
        let list = owner
            .list_chat_sessions(project.id, &ChatSessionQuery { limit: Some(100), ..Default::default() })
            .await
            .unwrap();
        assert_eq!(list.total, 50);
        assert_eq!(list.sessions.iter().filter(|s| s.is_default).count(), 1);
    }
);

db_test!(
    async fn messages_page_in_both_directions_without_gaps(backend) {
        let app = spawn_app(backend).await;
        let (owner, user) = app.user("ann").await;
        let project = app.project(&owner, "chatty").await;
        let session = owner.create_chat_session(project.id, &new_session("talk")).await.unwrap();
        let other = owner.create_chat_session(project.id, &new_session("other")).await.unwrap();
        let db = app.database.connect().await;
        let mut ids = Vec::new();
        for n in 0..120 {
            let target = if n % 10 == 9 { &other } else { &session };
            let role = if n % 2 == 0 { MessageRole::User } else { MessageRole::Assistant };
            let id = insert_message(&db, target, &user, role, format!("message {n}")).await;
            if target.id == session.id {
                ids.push(id);
            }
        }
        for order in [MessageOrder::Asc, MessageOrder::Desc] {
            let mut seen = Vec::new();
            let mut cursor = None;
            loop {
                let page = owner
                    .list_messages(
                        project.id,
                        session.id,
                        &MessageQuery { order: Some(order), limit: Some(25), cursor: cursor.clone() },
                    )
                    .await
                    .unwrap();
                assert_eq!(page.total, 108);
                assert!(page.messages.iter().all(|m| m.chat_session_id == session.id), "only this session's messages");
                seen.extend(page.messages.iter().map(|m| m.id));
                match page.next_cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            let mut expected = ids.clone();
            if order == MessageOrder::Desc {
                expected.reverse();
            }
            assert_eq!(seen, expected, "{order:?}");
        }
    }
);
