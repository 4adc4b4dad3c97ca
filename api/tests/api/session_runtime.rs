//! One owner per session (`runtime`): operations issued during a live run lose none of its
//! work, runs end cleanly however they fail, shutdown saves them, a server-wide limit queues
//! the excess, maps stay bounded, saving a turn costs what changed, and nothing on disk the
//! database does not account for is deleted.

use crate::chat::{assistant, chat, finished, head_commit, ready_session, setup};
use crate::db_test;
use crate::github::{TOKEN, github_project};
use crate::harness::{TestApp, TestDatabase, spawn_app, spawn_app_with, spawn_binary};
use api_types::*;
use fakes::model::{Reply, text, tool};
use futures_util::StreamExt;
use serde_json::json;
use std::path::Path;
use std::time::Duration;

/// A first model call that writes `kept.txt`, then a long, slow answer: the run is live with
/// work on disk for half a minute.
fn writes_then_talks(app: &TestApp) {
    app.model.script([
        Reply::Parts(vec![tool("write_file", json!({"path": "kept.txt", "content": "written mid-run\n"}))]),
        Reply::Slow { chunks: 600, every: Duration::from_millis(50) },
    ]);
}

/// Waits until `path` exists (the run has written it).
async fn written(path: &Path) {
    for _ in 0..400 {
        if path.exists() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{} was not written", path.display());
}

/// The files of `branch`'s tree in a bare repository.
fn files_on(repo: &Path, branch: &str) -> Option<Vec<String>> {
    let repo = git2::Repository::open_bare(repo).ok()?;
    let commit = repo.find_commit(repo.refname_to_id(&format!("refs/heads/{branch}")).ok()?).ok()?;
    let tree = commit.tree().ok()?;
    Some(tree.iter().filter_map(|entry| entry.name().ok().map(str::to_owned)).collect())
}

/// Waits until `branch` in the bare repository `repo` holds `file`.
async fn committed(repo: &Path, branch: &str, file: &str) {
    for _ in 0..400 {
        if files_on(repo, branch).unwrap_or_default().iter().any(|f| f == file) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{branch} never held {file}");
}

fn mirror(app: &TestApp, project: &Project) -> std::path::PathBuf {
    app.data_dir.path().join(format!("projects/{}/mirror.git", project.id))
}

db_test!(
    async fn archiving_during_a_live_run_stops_it_first_and_keeps_what_it_wrote(backend) {
        let app = spawn_app(backend).await;
        let (owner, project, session) = setup(&app).await;
        writes_then_talks(&app);
        owner.send_chat(&chat(&project, &session, "Write and keep talking")).await.unwrap();
        written(&app.checkout_dir(&session).join("kept.txt")).await;
        let archive = UpdateChatSessionRequest { status: Some(ChatSessionStatus::Archived), ..Default::default() };
        let archived = owner.update_chat_session(project.id, session.id, &archive).await.unwrap();
        assert_eq!(archived.status, ChatSessionStatus::Archived);
        let notice = archived.notice.unwrap_or_default();
        assert!(notice.contains("stopped before archiving") && notice.contains("committed"), "{notice}");
        let run = finished(&owner, project.id, session.id).await;
        assert_eq!(run.status, RunStatus::Cancelled);
        let (_, paths) = head_commit(&app, &project, &session.github_branch_name);
        assert_eq!(paths, ["kept.txt"], "the run's file is in its commit");
        assert!(!app.checkout_dir(&session).exists(), "the checkout is released after the run's commit");
    }
);

db_test!(
    async fn deleting_during_a_live_run_stops_it_first_and_its_pushed_commit_keeps_the_work(backend) {
        let app = spawn_app(backend).await;
        let (owner, _) = app.user("ann").await;
        let origin = app.origin("shop", &[("README.md", "# Shop\n")], &[]);
        let project = app.project_from(&owner, "shop", &origin).await;
        let _default = ready_session(&app, &owner, project.id, "default").await;
        let session = ready_session(&app, &owner, project.id, "to delete").await;
        writes_then_talks(&app);
        owner.send_chat(&chat(&project, &session, "Write and keep talking")).await.unwrap();
        written(&app.checkout_dir(&session).join("kept.txt")).await;
        let deleted = owner.delete_chat_session(project.id, session.id).await.unwrap();
        let notice = deleted.notice.unwrap_or_default();
        assert!(notice.contains("stopped before deleting") && notice.contains("committed"), "{notice}");
        assert!(!deleted.remote_branch_deleted);
        let on_remote = files_on(&origin, &session.github_branch_name).unwrap_or_default();
        assert!(on_remote.contains(&"kept.txt".to_owned()), "the run's commit was pushed before the delete: {on_remote:?}");
        assert!(!app.checkout_dir(&session).exists());
        let gone = owner.list_runs(project.id, session.id).await.unwrap_err();
        assert_eq!(gone.status(), Some(404));
    }
);

db_test!(
    async fn duplicate_and_pull_request_wait_for_no_run_and_then_carry_its_work(backend) {
        let app = spawn_app(backend).await;
        let (owner, project, session) = github_project(&app, false).await;
        writes_then_talks(&app);
        owner.send_chat(&chat(&project, &session, "Write and keep talking")).await.unwrap();
        written(&app.checkout_dir(&session).join("kept.txt")).await;
        let copy = owner.duplicate_chat_session(project.id, session.id, &Default::default()).await.unwrap_err();
        assert_eq!((copy.status(), copy.code()), (Some(409), Some(ErrorCode::SessionBusy)));
        let pull = owner.create_pull_request(project.id, session.id, &Default::default()).await.unwrap_err();
        assert_eq!((pull.status(), pull.code()), (Some(409), Some(ErrorCode::SessionBusy)));
        owner.cancel_run(project.id, session.id).await.unwrap();
        assert_eq!(finished(&owner, project.id, session.id).await.status, RunStatus::Cancelled);
        let copy = owner.duplicate_chat_session(project.id, session.id, &Default::default()).await.unwrap();
        let copy = app.ready_session(&owner, &copy).await;
        assert!(app.checkout_dir(&copy).join("kept.txt").is_file(), "the copy starts from the run's commit");
        let (status, _) = owner.create_pull_request_with_status(project.id, session.id, &Default::default()).await.unwrap();
        assert_eq!(status, 201);
    }
);

db_test!(
    async fn remote_branch_deletion_uses_the_users_token_and_its_failure_keeps_local_cleanup(backend) {
        use base64::Engine;
        let served = tempfile::TempDir::new().unwrap();
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{TOKEN}"));
        let git = fakes::git_http::FakeGitHttp::start_requiring(served.path().to_owned(), format!("Basic {basic}")).await;
        let app = spawn_app_with(backend, |s| s.github_git_url = git.url.clone()).await;
        let origin = app.origin("octocat/Hello-World", &[("README.md", "# Hello\n")], &[]);
        std::fs::create_dir_all(served.path().join("octocat")).unwrap();
        std::fs::rename(&origin, served.path().join("octocat/Hello-World.git")).unwrap();
        let origin = served.path().join("octocat/Hello-World.git");
        let (owner, project, _default) = github_project(&app, false).await;

        let pushed = |title: &'static str| {
            let (app, owner, project, origin) = (&app, &owner, &project, &origin);
            async move {
                let session = ready_session(app, owner, project.id, title).await;
                app.model.script([
                    Reply::Parts(vec![tool("write_file", json!({"path": "note.txt", "content": title}))]),
                    Reply::Parts(vec![text("Wrote it.")]),
                ]);
                owner.send_chat(&chat(project, &session, "Write a note")).await.unwrap();
                assert_eq!(finished(owner, project.id, session.id).await.status, RunStatus::Succeeded);
                assert!(files_on(origin, &session.github_branch_name).is_some(), "pushed with the token");
                session
            }
        };
        let first = pushed("first").await;
        let deleted = owner.delete_chat_session_everywhere(project.id, first.id).await.unwrap();
        assert_eq!((deleted.remote_branch_deleted, deleted.notice), (true, None));
        assert!(files_on(&origin, &first.github_branch_name).is_none(), "deleted on the remote");

        let second = pushed("second").await;
        owner.disconnect_github().await.unwrap();
        let deleted = owner.delete_chat_session_everywhere(project.id, second.id).await.unwrap();
        assert!(!deleted.remote_branch_deleted);
        let notice = deleted.notice.unwrap_or_default();
        assert!(notice.contains("still on the remote"), "{notice}");
        assert!(!notice.contains(TOKEN));
        assert!(files_on(&origin, &second.github_branch_name).is_some());
        assert!(!app.checkout_dir(&second).exists(), "the local checkout is removed all the same");
        assert!(files_on(&mirror(&app, &project), &second.github_branch_name).is_none(), "and the local branch");
    }
);

db_test!(
    async fn a_data_dir_met_with_an_empty_database_is_refused_or_adopted_into_lost_and_found(backend) {
        let app = spawn_app(backend).await;
        let (owner, project, session) = setup(&app).await;
        std::fs::write(app.checkout_dir(&session).join("unpushed.txt"), "only here\n").unwrap();
        let _ = owner;
        let empty = TestDatabase::create(backend).await;
        let refused = app.build_beside(|s| s.database_url = Some(empty.url.clone())).await.err().unwrap_or_default();
        assert!(refused.contains("--adopt-data-dir"), "{refused}");
        assert!(app.checkout_dir(&session).join("unpushed.txt").is_file(), "nothing was deleted");

        let adopted = app
            .build_beside(|s| {
                s.database_url = Some(empty.url.clone());
                s.adopt_data_dir = true;
            })
            .await;
        assert!(adopted.is_ok(), "{:?}", adopted.err());
        let kept: Vec<_> = std::fs::read_dir(app.data_dir.path().join("lost+found"))
            .unwrap()
            .flatten()
            .map(|stamp| stamp.path().join(format!("projects/{}", project.id)))
            .collect();
        assert_eq!(kept.len(), 1);
        let moved = kept[0].join("sessions").join(&session.session_id).join("unpushed.txt");
        assert_eq!(std::fs::read_to_string(moved).unwrap(), "only here\n");
        assert!(kept[0].join("mirror.git").is_dir());
        assert!(!app.data_dir.path().join(format!("projects/{}", project.id)).exists());
    }
);

db_test!(
    async fn a_run_whose_end_cannot_be_recorded_or_whose_task_panics_leaves_the_session_usable(backend) {
        let app = spawn_app(backend).await;
        let (owner, project, session) = setup(&app).await;
        let state = app.state();
        // Every attempt to record the end fails: the row stays live with nothing behind it.
        state.faults.failing_finishes.store(3, std::sync::atomic::Ordering::SeqCst);
        app.model.script([Reply::Parts(vec![text("First.")])]);
        owner.send_chat(&chat(&project, &session, "One")).await.unwrap();
        let runtime = &state.runtime;
        for _ in 0..400 {
            if runtime.existing(session.id.0).is_some_and(|owner| owner.live().is_none()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert_eq!(state.faults.failing_finishes.load(std::sync::atomic::Ordering::SeqCst), 0, "all three failed");
        let runs = owner.list_runs(project.id, session.id).await.unwrap().runs;
        assert_eq!(runs[0].status, RunStatus::Running, "its end was not recorded");
        app.model.script([Reply::Parts(vec![text("Second.")])]);
        owner.send_chat(&chat(&project, &session, "Two")).await.unwrap();
        assert_eq!(finished(&owner, project.id, session.id).await.status, RunStatus::Succeeded);
        let runs = owner.list_runs(project.id, session.id).await.unwrap().runs;
        assert_eq!((runs[1].status, runs[1].error.as_deref()), (RunStatus::Failed, Some("The run's end could not be recorded.")));

        state.faults.panic_next_run.store(true, std::sync::atomic::Ordering::SeqCst);
        owner.send_chat(&chat(&project, &session, "Three")).await.unwrap();
        let run = finished(&owner, project.id, session.id).await;
        assert_eq!(run.status, RunStatus::Failed);
        assert!(run.error.unwrap_or_default().contains("internal error"));
        app.model.script([Reply::Parts(vec![text("Fourth.")])]);
        owner.send_chat(&chat(&project, &session, "Four")).await.unwrap();
        assert_eq!(finished(&owner, project.id, session.id).await.status, RunStatus::Succeeded);
        assert_eq!(assistant(&owner, project.id, session.id).await.content, "Fourth.");
    }
);

db_test!(
    async fn shutdown_stops_every_live_run_and_saves_each_transcript(backend) {
        let mut app = spawn_binary(backend, &[
            ("KOSUKE_AGENT_PROVIDER", "anthropic"),
            ("KOSUKE_AGENT_MODEL", "claude-test"),
            ("KOSUKE_AGENT_API_KEY", "sk-ant-shutdown"),
        ])
        .await;
        let (owner, project, first) = setup(&app).await;
        let mut sessions = vec![first];
        for n in 1..5 {
            sessions.push(ready_session(&app, &owner, project.id, &format!("chat {n}")).await);
        }
        app.model.script((0..5).map(|_| Reply::Slow { chunks: 600, every: Duration::from_millis(50) }));
        for session in &sessions {
            owner.send_chat(&chat(&project, session, "Talk slowly")).await.unwrap();
        }
        for session in &sessions {
            for _ in 0..400 {
                if assistant(&owner, project.id, session.id).await.content.contains("chunk 1.") {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }
        let env = app.binary_env();
        assert!(app.terminate_binary().await, "kosuke exits cleanly on SIGTERM");
        app.start_binary_again(env).await;
        let owner = app.client();
        owner.login(&LoginRequest { email: "ann@example.test".into(), password: "ann-password".into() }).await.unwrap();
        for session in &sessions {
            let run = owner.list_runs(project.id, session.id).await.unwrap().runs.remove(0);
            assert_eq!(run.status, RunStatus::Interrupted);
            assert_eq!(run.error.as_deref(), Some("The server stopped during the turn; what it wrote is committed."));
            let message = assistant(&owner, project.id, session.id).await;
            assert!(message.content.starts_with("chunk 0. chunk 1."), "{}", message.content);
        }
    }
);

db_test!(
    async fn a_server_wide_limit_of_two_runs_queues_the_other_two_until_a_slot_is_free(backend) {
        let app = spawn_app_with(backend, |s| s.max_concurrent_runs = 2).await;
        let (owner, project, first) = setup(&app).await;
        let mut sessions = vec![first];
        for n in 1..4 {
            sessions.push(ready_session(&app, &owner, project.id, &format!("chat {n}")).await);
        }
        app.model.script((0..4).map(|_| Reply::Slow { chunks: 10, every: Duration::from_millis(60) }));
        for session in &sessions {
            owner.send_chat(&chat(&project, session, "Count")).await.unwrap();
        }
        let mut statuses = Vec::new();
        for session in &sessions {
            statuses.push(owner.list_runs(project.id, session.id).await.unwrap().runs[0].status);
        }
        assert_eq!(statuses, [RunStatus::Running, RunStatus::Running, RunStatus::Queued, RunStatus::Queued]);
        for session in &sessions {
            assert_eq!(finished(&owner, project.id, session.id).await.status, RunStatus::Succeeded);
            assert!(assistant(&owner, project.id, session.id).await.content.contains("chunk 9."));
        }
        assert_eq!(app.model.requests().len(), 4);
    }
);

db_test!(
    async fn the_turn_ends_when_the_command_exits_and_non_utf8_output_is_kept(backend) {
        // The sleep is told apart from the other backend's run of this test, which may be live
        // at the same moment in another process.
        let marker = format!("sleep 6{:07}", std::process::id());
        let command = format!("{marker} & printf 'caf\\351 ok\\n'; echo done");
        let app = spawn_app_with(backend, move |s| {
            s.agent.provider = Some("command".into());
            s.agent.command = Some(command);
        })
        .await;
        let (owner, project, session) = setup(&app).await;
        owner.send_chat(&chat(&project, &session, "Start a server")).await.unwrap();
        let run = finished(&owner, project.id, session.id).await;
        assert_eq!((run.status, run.error), (RunStatus::Succeeded, None));
        let message = assistant(&owner, project.id, session.id).await;
        assert_eq!(message.content, "caf\u{FFFD} ok\ndone\n");
        // Killing the group is immediate; the sandbox's namespace may take a moment to be reaped.
        let mut left = Vec::new();
        for _ in 0..100 {
            left = std::process::Command::new("pgrep").args(["-f", &marker]).output().unwrap().stdout;
            if left.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(left.is_empty(), "what the command left running was killed: {}", String::from_utf8_lossy(&left));
    }
);

db_test!(
    async fn a_session_with_ten_thousand_messages_duplicates_in_one_transaction(backend) {
        use sea_orm::{EntityTrait, Set};
        let app = spawn_app(backend).await;
        let (owner, project, session) = setup(&app).await;
        let db = app.database.connect().await;
        let at = api::store::now();
        for batch in 0..10 {
            let rows = (0..1000).map(|n| entity::chat_message::ActiveModel {
                project_id: Set(project.id.0),
                chat_session_id: Set(session.id.0),
                role: Set(if n % 2 == 0 { MessageRole::User } else { MessageRole::Assistant }),
                content: Set(format!("message {}", batch * 1000 + n)),
                created_at: Set(at),
                updated_at: Set(at),
                ..Default::default()
            });
            entity::chat_message::Entity::insert_many(rows).exec(&db).await.unwrap();
        }
        let copy = owner.duplicate_chat_session(project.id, session.id, &Default::default()).await.unwrap();
        let page = MessageQuery { order: Some(MessageOrder::Desc), limit: Some(1), cursor: None };
        let last = owner.list_messages(project.id, copy.id, &page).await.unwrap();
        assert_eq!(last.total, 10_000);
        assert_eq!(last.messages[0].content, "message 9999");
        let sessions = owner.list_chat_sessions(project.id, &Default::default()).await.unwrap();
        assert_eq!(sessions.total, 2, "the copy and its source, no orphan");
    }
);

db_test!(
    async fn made_up_session_ids_leave_no_owner_behind(backend) {
        let app = spawn_app(backend).await;
        let (owner, project, _session) = setup(&app).await;
        let kept = app.state().runtime.owner_count();
        let refused = futures_util::stream::iter(0..10_000)
            .map(|n| {
                let request = ChatRequest {
                    project_id: project.id,
                    chat_session_id: ChatSessionPk(1_000_000 + n),
                    prompt: "hello".into(),
                    github_token: None,
                    queue: false,
                    comments: Vec::new(),
                };
                let owner = owner.clone();
                async move {
                    // A connection the pool reused as the server closed it is not an answer:
                    // sent again (what is checked is the answers and the owners).
                    for _ in 0..2 {
                        match owner.send_chat(&request).await {
                            Err(client::ClientError::Transport(_)) => continue,
                            answer => return answer.unwrap_err(),
                        }
                    }
                    owner.send_chat(&request).await.unwrap_err()
                }
            })
            .buffer_unordered(32)
            .collect::<Vec<_>>()
            .await;
        let odd: Vec<String> =
            refused.iter().filter(|err| err.status() != Some(404)).map(|err| format!("{err:?}")).take(5).collect();
        assert!(odd.is_empty(), "every made-up id is 404; these were not: {odd:?}");
        assert_eq!(app.state().runtime.owner_count(), kept, "no owner, event log or lock for a made-up id");
    }
);

db_test!(
    async fn saving_a_long_turn_costs_what_changed(backend) {
        let app = spawn_app(backend).await;
        let (owner, project, session) = setup(&app).await;
        let saved = || app.state().runtime.transcript_bytes();
        let mut cost = Vec::new();
        for steps in [1000, 2000] {
            let before = saved();
            app.model.script([Reply::Slow { chunks: steps, every: Duration::from_millis(1) }]);
            owner.send_chat(&chat(&project, &session, "Count")).await.unwrap();
            assert_eq!(finished(&owner, project.id, session.id).await.status, RunStatus::Succeeded);
            cost.push((saved() - before) as f64);
        }
        let ratio = cost[1] / cost[0];
        assert!((1.6..2.6).contains(&ratio), "twice the steps cost {ratio:.2} times the bytes ({cost:?})");
        // The turns' deltas go once their messages are written whole.
        app.state().runtime.events.flush(Duration::from_secs(10)).await;
        let db = app.database.connect().await;
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        let deltas = entity::session_event::Entity::find().filter(entity::session_event::Column::Kind.eq("text_delta"));
        assert_eq!(deltas.count(&db).await.unwrap(), 0, "deltas pruned");
    }
);

db_test!(
    async fn a_literal_escaped_nul_in_code_round_trips(backend) {
        let app = spawn_app(backend).await;
        let (owner, project, session) = setup(&app).await;
        let code = "const nul = \"\\u0000\"; // and a real one: \u{0}\n";
        app.model.script([
            Reply::Parts(vec![tool("write_file", json!({"path": "nul.js", "content": code}))]),
            Reply::Parts(vec![text("Wrote `\"\\u0000\"` into nul.js.")]),
        ]);
        owner.send_chat(&chat(&project, &session, "Write a NUL")).await.unwrap();
        assert_eq!(finished(&owner, project.id, session.id).await.status, RunStatus::Succeeded);
        let message = assistant(&owner, project.id, session.id).await;
        assert_eq!(message.content, "Wrote `\"\\u0000\"` into nul.js.");
        let Some(ContentBlock::ToolUse { input, .. }) = message.blocks.unwrap_or_default().into_iter().next() else {
            panic!("the tool call is kept");
        };
        assert_eq!(input["content"], code, "the tool input round-trips byte for byte");
        assert_eq!(std::fs::read_to_string(app.checkout_dir(&session).join("nul.js")).unwrap(), code);
    }
);

db_test!(
    async fn a_stalled_remote_does_not_hold_up_another_sessions_commit_and_times_out_clearly(backend) {
        // Its own process: libgit2's network timeouts are process-wide.
        let app = spawn_binary(backend, &[
            ("KOSUKE_AGENT_PROVIDER", "anthropic"),
            ("KOSUKE_AGENT_MODEL", "claude-test"),
            ("KOSUKE_AGENT_API_KEY", "sk-ant-stall"),
            ("KOSUKE_GIT_TRANSFER_TIMEOUT_SECS", "3"),
        ])
        .await;
        let (owner, project, a) = setup(&app).await;
        let b = ready_session(&app, &owner, project.id, "b").await;
        // A remote that accepts connections and never answers.
        let stall = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/stall.git", stall.local_addr().unwrap());
        std::thread::spawn(move || {
            let held: Vec<_> = stall.incoming().flatten().collect();
            drop(held);
        });
        git2::Repository::open_bare(mirror(&app, &project)).unwrap().remote_set_url("origin", &url).unwrap();
        app.model.script([
            Reply::Parts(vec![tool("write_file", json!({"path": "a.txt", "content": "a"}))]),
            Reply::Parts(vec![text("A done.")]),
        ]);
        owner.send_chat(&chat(&project, &a, "A")).await.unwrap();
        // A's commit is made and its push is stalled; then B commits.
        committed(&mirror(&app, &project), &a.github_branch_name, "a.txt").await;
        app.model.script([
            Reply::Parts(vec![tool("write_file", json!({"path": "b.txt", "content": "b"}))]),
            Reply::Parts(vec![text("B done.")]),
        ]);
        owner.send_chat(&chat(&project, &b, "B")).await.unwrap();
        committed(&mirror(&app, &project), &b.github_branch_name, "b.txt").await;
        let a_run = owner.list_runs(project.id, a.id).await.unwrap().runs.remove(0);
        assert!(a_run.status.is_live(), "B committed while A's push was still waiting on the remote");
        assert_eq!(finished(&owner, project.id, a.id).await.status, RunStatus::Succeeded);
        let said = assistant(&owner, project.id, a.id).await;
        let errors: Vec<String> = said
            .blocks
            .unwrap_or_default()
            .into_iter()
            .filter_map(|b| match b {
                ContentBlock::Error { message } => Some(message),
                _ => None,
            })
            .collect();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].starts_with("The commit was made but not pushed") && errors[0].contains("time"), "{}", errors[0]);
    }
);

db_test!(
    async fn an_archived_session_has_no_preview(backend) {
        let app = spawn_app(backend).await;
        let (owner, project, session) = setup(&app).await;
        let link = owner.preview(project.id, session.id).await.unwrap();
        let archive = UpdateChatSessionRequest { status: Some(ChatSessionStatus::Archived), ..Default::default() };
        owner.update_chat_session(project.id, session.id, &archive).await.unwrap();
        let refused = owner.preview(project.id, session.id).await.unwrap_err();
        assert_eq!((refused.status(), refused.code()), (Some(409), Some(ErrorCode::WorkspaceNotReady)));
        let page = app.http().get(app.url(&link.url)).send().await.unwrap();
        assert_eq!(page.status().as_u16(), 409);
        assert!(!app.checkout_dir(&session).exists(), "the preview did not make the checkout again");
    }
);
