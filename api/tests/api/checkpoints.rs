//! Turns as checkpoints: revert a chat to a turn (branch head, backup ref, the later turns
//! marked), undo it (until a turn is made after it), fork a new chat from a turn (its branch at
//! that commit, the conversation up to it, the source untouched, from an archived source too).

use crate::chat::{chat, finished, setup};
use crate::db_test;
use crate::harness::{TestApp, spawn_app};
use api_types::*;
use client::Client;
use fakes::model::{Reply, text, tool};
use serde_json::json;

fn mirror(app: &TestApp, project: &Project) -> git2::Repository {
    git2::Repository::open_bare(app.data_dir.path().join(format!("projects/{}/mirror.git", project.id))).unwrap()
}

fn head(app: &TestApp, project: &Project, session: &ChatSession) -> String {
    mirror(app, project).refname_to_id(&format!("refs/heads/{}", session.github_branch_name)).unwrap().to_string()
}

/// One turn whose model writes `file`; the turn's assistant message.
pub async fn turn(app: &TestApp, owner: &Client, project: &Project, session: &ChatSession, file: &str) -> ChatMessage {
    app.model.script([
        Reply::Parts(vec![tool("write_file", json!({"path": file, "content": format!("{file}\n")}))]),
        Reply::Parts(vec![text(&format!("Wrote {file}."))]),
    ]);
    owner.send_chat(&chat(project, session, &format!("write {file}"))).await.unwrap();
    let run = finished(owner, project.id, session.id).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{:?}", run.error);
    let messages = owner.list_messages(project.id, session.id, &MessageQuery::default()).await.unwrap().messages;
    let last = messages.into_iter().last().unwrap();
    assert!(last.commit_sha.is_some(), "the turn made a commit");
    last
}

async fn messages(owner: &Client, project: &Project, session: &ChatSession) -> Vec<ChatMessage> {
    owner.list_messages(project.id, session.id, &MessageQuery::default()).await.unwrap().messages
}

db_test!(
    async fn a_revert_moves_the_branch_back_keeps_the_head_and_undo_restores_it(backend) {
        let app = spawn_app(backend).await;
        let (owner, project, session) = setup(&app).await;
        let first = turn(&app, &owner, &project, &session, "a.txt").await;
        let second = turn(&app, &owner, &project, &session, "b.txt").await;
        let third = turn(&app, &owner, &project, &session, "c.txt").await;
        let checkout = app.checkout_dir(&session);

        let reverted = owner.revert(project.id, session.id, first.id).await.unwrap();
        assert!(reverted.undo_revert);
        assert_eq!(head(&app, &project, &session), first.commit_sha.clone().unwrap(), "the branch is at the turn");
        let backup = mirror(&app, &project).refname_to_id(&format!("refs/kosuke/undo/{}", session.session_id)).unwrap();
        assert_eq!(backup.to_string(), third.commit_sha.clone().unwrap(), "the undone commits are kept");
        assert!(checkout.join("a.txt").exists() && !checkout.join("b.txt").exists() && !checkout.join("c.txt").exists());
        let shown = messages(&owner, &project, &session).await;
        let marked: Vec<bool> = shown.iter().map(|m| m.reverted_at.is_some()).collect();
        assert_eq!(marked, [false, false, true, true, true, true], "the turns after the first are marked");
        let refused = owner.revert(project.id, session.id, first.id).await.unwrap_err();
        assert_eq!(refused.status(), Some(409), "the branch is at that turn already");
        let refused = owner.revert(project.id, session.id, second.id).await.unwrap_err();
        assert_eq!(refused.status(), Some(409), "a reverted turn is not a checkpoint until undone");

        let undone = owner.undo_revert(project.id, session.id).await.unwrap();
        assert!(!undone.undo_revert);
        assert_eq!(head(&app, &project, &session), third.commit_sha.clone().unwrap());
        assert!(checkout.join("c.txt").exists());
        assert!(messages(&owner, &project, &session).await.iter().all(|m| m.reverted_at.is_none()));
        assert!(mirror(&app, &project).find_reference(&format!("refs/kosuke/undo/{}", session.session_id)).is_err());
        assert_eq!(owner.undo_revert(project.id, session.id).await.unwrap_err().status(), Some(409), "undone once");

        // A turn after a revert: it builds on the turn reverted to, and Undo is gone.
        owner.revert(project.id, session.id, second.id).await.unwrap();
        let fourth = turn(&app, &owner, &project, &session, "d.txt").await;
        let repo = mirror(&app, &project);
        let parent = repo.find_commit(git2::Oid::from_str(fourth.commit_sha.as_deref().unwrap()).unwrap()).unwrap().parent_id(0).unwrap();
        assert_eq!(parent.to_string(), second.commit_sha.clone().unwrap());
        let session_now = owner.get_chat_session(project.id, session.id).await.unwrap();
        assert!(!session_now.undo_revert);
        assert_eq!(owner.undo_revert(project.id, session.id).await.unwrap_err().status(), Some(409));

        // Bad ids: a user message, another chat's message, a stranger.
        let user_message = messages(&owner, &project, &session).await[0].id;
        assert_eq!(owner.revert(project.id, session.id, user_message).await.unwrap_err().status(), Some(409));
        let other = crate::chat::ready_session(&app, &owner, project.id, "other").await;
        assert_eq!(owner.revert(project.id, other.id, first.id).await.unwrap_err().status(), Some(404));
        let (eve, _) = app.user("eve").await;
        assert_eq!(eve.revert(project.id, session.id, first.id).await.unwrap_err().status(), Some(404));
    }
);

db_test!(
    async fn a_fork_starts_at_the_turn_with_the_conversation_up_to_it_and_leaves_the_source(backend) {
        let app = spawn_app(backend).await;
        let (owner, project, source) = setup(&app).await;
        let first = turn(&app, &owner, &project, &source, "a.txt").await;
        let second = turn(&app, &owner, &project, &source, "b.txt").await;
        let third = turn(&app, &owner, &project, &source, "c.txt").await;

        let request = ForkRequest { message_id: second.id, title: None };
        let fork = owner.fork(project.id, source.id, &request).await.unwrap();
        assert_eq!(fork.title, "Fork of agent");
        assert_eq!(fork.message_count, 4, "two turns: their prompts and answers");
        let fork = app.ready_session(&owner, &fork).await;
        assert_eq!(fork.workspace_state, WorkspaceState::Ready, "{:?}", fork.workspace_error);
        assert_eq!(head(&app, &project, &fork), second.commit_sha.clone().unwrap());
        let dir = app.checkout_dir(&fork);
        assert!(dir.join("b.txt").exists() && !dir.join("c.txt").exists());
        let copied: Vec<String> = messages(&owner, &project, &fork).await.into_iter().map(|m| m.content).collect();
        assert_eq!(copied, ["write a.txt", "Wrote a.txt.", "write b.txt", "Wrote b.txt."]);
        // The source is untouched.
        assert_eq!(head(&app, &project, &source), third.commit_sha.clone().unwrap());
        assert_eq!(owner.get_chat_session(project.id, source.id).await.unwrap().message_count, 6);

        // From an archived source, with a title.
        let archive = UpdateChatSessionRequest { status: Some(ChatSessionStatus::Archived), ..Default::default() };
        owner.update_chat_session(project.id, source.id, &archive).await.unwrap();
        let request = ForkRequest { message_id: first.id, title: Some("From the start".into()) };
        let early = owner.fork(project.id, source.id, &request).await.unwrap();
        let early = app.ready_session(&owner, &early).await;
        assert_eq!((early.title.as_str(), early.message_count), ("From the start", 2));
        assert_eq!(head(&app, &project, &early), first.commit_sha.clone().unwrap());
        assert!(app.checkout_dir(&early).join("a.txt").exists());

        let bad = ForkRequest { message_id: first.id, title: Some(" ".into()) };
        assert_eq!(owner.fork(project.id, source.id, &bad).await.unwrap_err().status(), Some(422));
        let (eve, _) = app.user("eve").await;
        assert_eq!(eve.fork(project.id, source.id, &request).await.unwrap_err().status(), Some(404));
    }
);
