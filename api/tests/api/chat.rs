//! Agent runs through the API against fake providers speaking the real wire formats: edits
//! land as one commit on the session's branch, events stream live and resume, history is sent,
//! the path jail holds, sessions run at once, failures end runs cleanly.

use crate::chat_events::read_events;
use crate::db_test;
use crate::harness::{Backend, TestApp, spawn_app, spawn_app_with};
use api_types::*;
use client::Client;
use fakes::model::{Reply, text, tool};
use serde_json::json;
use std::time::Duration;

pub async fn ready_session(app: &TestApp, client: &Client, project: ProjectId, title: &str) -> ChatSession {
    let session = client
        .create_chat_session(
            project,
            &CreateChatSessionRequest { title: title.into(), description: None, base_branch: None },
        )
        .await
        .unwrap();
    app.ready_session(client, &session).await
}

pub async fn setup(app: &TestApp) -> (Client, Project, ChatSession) {
    let (owner, _) = app.user("ann").await;
    let origin = app.origin("shop", &[("README.md", "# Shop\nHello\n")], &[]);
    let project = app.project_from(&owner, "shop", &origin).await;
    let session = ready_session(app, &owner, project.id, "agent").await;
    (owner, project, session)
}

pub fn chat(project: &Project, session: &ChatSession, prompt: &str) -> ChatRequest {
    ChatRequest {
        project_id: project.id,
        chat_session_id: session.id,
        prompt: prompt.into(),
        github_token: None,
        queue: false,
        comments: Vec::new(),
    }
}

/// Waits for the session's newest run to end and returns it.
pub async fn finished(client: &Client, project: ProjectId, session: ChatSessionPk) -> AgentRun {
    for _ in 0..400 {
        let runs = client.list_runs(project, session).await.unwrap().runs;
        if let Some(run) = runs.first().filter(|r| !r.status.is_live()) {
            return run.clone();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the run did not finish in time");
}

pub async fn assistant(client: &Client, project: ProjectId, session: ChatSessionPk) -> ChatMessage {
    let messages = client.list_messages(project, session, &MessageQuery::default()).await.unwrap();
    messages.messages.into_iter().rev().find(|m| m.role == MessageRole::Assistant).expect("an assistant message")
}

/// (summary, changed paths) of the branch's newest commit against its parent.
pub fn head_commit(app: &TestApp, project: &Project, branch: &str) -> (String, Vec<String>) {
    let mirror =
        git2::Repository::open_bare(app.data_dir.path().join(format!("projects/{}/mirror.git", project.id))).unwrap();
    let commit = mirror.find_commit(mirror.refname_to_id(&format!("refs/heads/{branch}")).unwrap()).unwrap();
    let parent = commit.parent(0).unwrap();
    let diff = mirror.diff_tree_to_tree(Some(&parent.tree().unwrap()), Some(&commit.tree().unwrap()), None).unwrap();
    let paths = diff.deltas().map(|d| d.new_file().path().unwrap().display().to_string()).collect();
    (commit.summary().unwrap().unwrap().to_owned(), paths)
}

fn editing_script() -> Vec<Reply> {
    vec![
        Reply::Parts(vec![text("Let me look."), tool("list_files", json!({}))]),
        Reply::Parts(vec![tool("read_file", json!({"path": "README.md"}))]),
        Reply::Parts(vec![tool(
            "edit_file",
            json!({"path": "README.md", "old_text": "Hello", "new_text": "Hello, world"}),
        )]),
        Reply::Parts(vec![tool("write_file", json!({"path": "src/app.js", "content": "console.log('hi');\n"}))]),
        Reply::Parts(vec![text("Done: README greets the world and src/app.js exists.")]),
    ]
}

/// An app whose agent speaks the OpenAI-compatible format (the fake serves it at the same URL).
pub async fn spawn_openai_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |s| {
        s.agent.provider = Some("openai".into());
        s.agent.model = Some("gpt-test".into());
    })
    .await
}

async fn check_editing_run(
    app: &TestApp,
    owner: &Client,
    project: &Project,
    session: &ChatSession,
    other: &ChatSession,
    tokens: (i32, i32),
) {
    let accepted = owner.send_chat(&chat(project, session, "Greet the world\nand add an app")).await.unwrap();
    assert_eq!(accepted.user_message.content, "Greet the world\nand add an app");
    let run = finished(owner, project.id, session.id).await;
    assert_eq!((run.id, run.status, run.error.clone()), (accepted.run_id, RunStatus::Succeeded, None));
    let (summary, mut paths) = head_commit(app, project, &session.github_branch_name);
    paths.sort();
    assert_eq!(summary, "Greet the world");
    assert_eq!(paths, ["README.md", "src/app.js"], "exactly the agent's changes");
    let readme = owner.get_file(project.id, session.id, "README.md").await.unwrap();
    assert_eq!(readme.content.as_deref(), Some("# Shop\nHello, world\n"));
    assert!(!app.checkout_dir(other).join("src/app.js").exists(), "the other session is untouched");
    assert_eq!(
        owner.get_file(project.id, other.id, "README.md").await.unwrap().content.as_deref(),
        Some("# Shop\nHello\n")
    );
    let message = assistant(owner, project.id, session.id).await;
    assert_eq!(message.id, accepted.assistant_message_id);
    assert_eq!(
        (message.input_tokens, message.output_tokens),
        (Some(tokens.0), Some(tokens.1)),
        "the turn's five model calls, summed"
    );
    assert!(message.content.starts_with("Let me look.") && message.content.contains("Done:"), "{}", message.content);
    let status = owner.get_branch_status(project.id, session.id).await.unwrap();
    assert_eq!(message.commit_sha.as_deref(), Some(status.head_sha.as_str()));
    assert!(status.pushed, "the commit was pushed to the remote");
    let blocks: Vec<ContentBlock> = message.blocks.unwrap();
    let tools: Vec<(&str, bool)> = blocks
        .iter()
        .filter_map(|b| match b {
            ContentBlock::ToolUse { name, output, is_error, .. } => {
                Some((name.as_str(), output.is_some() && !is_error))
            }
            _ => None,
        })
        .collect();
    assert_eq!(tools, [("list_files", true), ("read_file", true), ("edit_file", true), ("write_file", true)]);
    let session_now = owner.get_chat_session(project.id, session.id).await.unwrap();
    assert_eq!(session_now.message_count, 2);
}

db_test!(
    async fn an_anthropic_run_edits_files_and_commits_exactly_that_on_its_branch(backend) {
        let app = spawn_app(backend).await;
        let (owner, project, session) = setup(&app).await;
        let other = ready_session(&app, &owner, project.id, "other").await;
        app.model.script(editing_script());
        // The fake counts 10 tokens in and 5 out per call.
        check_editing_run(&app, &owner, &project, &session, &other, (50, 25)).await;
        // A watcher arriving afterwards gets the whole run replayed, in order.
        let token = owner.create_api_token(&CreateApiTokenRequest { name: "replay".into() }).await.unwrap().token;
        let url = app.url(&format!("/api/projects/{}/chat-sessions/{}/events", project.id, session.id));
        let replay = read_events(reqwest::Client::new().get(url).bearer_auth(token).send().await.unwrap(), 13).await;
        let kinds: Vec<&str> = replay.iter().map(|(_, e)| e.name()).collect();
        assert_eq!(
            kinds,
            [
                "run_started", "text_delta", "tool_started", "tool_finished", "tool_started", "tool_finished",
                "tool_started", "tool_finished", "tool_started", "tool_finished", "text_delta", "commit_created",
                "run_finished"
            ]
        );
        let head = owner.get_branch_status(project.id, session.id).await.unwrap().head_sha;
        match &replay[11].1 {
            RunEvent::CommitCreated { sha, branch, pushed, .. } => {
                assert_eq!((sha, branch, *pushed), (&head, &session.github_branch_name, true));
            }
            other => panic!("{other:?}"),
        }
        let requests = app.model.requests();
        assert_eq!(requests.len(), 5);
        assert_eq!(requests[0]["model"], "claude-test");
        assert_eq!(requests[0]["stream"], true);
        let names: Vec<&str> = requests[0]["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["list_files", "read_file", "write_file", "edit_file", "delete_file", "search", "run_command"]);
        let second = requests[1]["messages"].as_array().unwrap();
        let result = &second.last().unwrap()["content"][0];
        assert_eq!(result["type"], "tool_result");
        assert!(result["content"].as_str().unwrap().contains("README.md"), "the listing went back to the model");
        let origin = git2::Repository::open_bare(app.remotes.path().join("shop.git")).unwrap();
        let main = origin.find_commit(origin.refname_to_id("refs/heads/main").unwrap()).unwrap();
        assert_eq!(main.summary().unwrap(), Some("first"), "the mirror's source is unchanged");
    }
);

db_test!(
    async fn an_openai_compatible_run_does_the_same(backend) {
        let app = spawn_openai_app(backend).await;
        app.model.script([]);
        let (owner, project, session) = setup(&app).await;
        let other = ready_session(&app, &owner, project.id, "other").await;
        // The fake serves both formats from the same URL: point the base at it.
        app.model.script(editing_script());
        // The fake counts 12 tokens in and 7 out per call, in the chunk `include_usage` asks for.
        check_editing_run(&app, &owner, &project, &session, &other, (60, 35)).await;
        let requests = app.model.requests();
        assert_eq!(requests[0]["model"], "gpt-test");
        assert_eq!(requests[0]["stream_options"]["include_usage"], true);
        assert_eq!(requests[0]["messages"][0]["role"], "system");
        let last = requests[1]["messages"].as_array().unwrap().last().unwrap().clone();
        assert_eq!((last["role"].as_str(), last["tool_call_id"].as_str()), (Some("tool"), Some("call_0")));
    }
);

db_test!(
    async fn a_server_refusing_stream_options_is_asked_without_them(backend) {
        let app = spawn_openai_app(backend).await;
        app.model.refuse_fields(&["stream_options"]);
        let (owner, project, session) = setup(&app).await;
        owner.send_chat(&chat(&project, &session, "write strict")).await.unwrap();
        let run = finished(&owner, project.id, session.id).await;
        assert_eq!((run.status, run.error), (RunStatus::Succeeded, None));
        let message = assistant(&owner, project.id, session.id).await;
        assert!(message.content.contains("Done:"), "{}", message.content);
        assert_eq!((message.input_tokens, message.output_tokens), (None, None), "no counts without the chunk");
        let asked: Vec<bool> = app.model.requests().iter().map(|r| r.get("stream_options").is_some()).collect();
        // Refused once, asked again without; the turn's second call (and later turns) never ask.
        assert_eq!(asked, [true, false, false]);
    }
);

db_test!(
    async fn the_command_provider_runs_in_the_checkout_and_its_changes_are_committed(backend) {
        let app = spawn_app_with(backend, |s| {
            s.agent.provider = Some("command".into());
            s.agent.command = Some(
                "printf 'made by a command\\n' > cmd.txt; cat > stdin.txt; echo \"prompt: $KOSUKE_PROMPT\"; echo oops >&2; \
                 printf '%s' \"$DEPLOY_TARGET\" > env.txt"
                    .into(),
            );
        })
        .await;
        let (owner, project, session) = setup(&app).await;
        owner.set_env_var(project.id, "DEPLOY_TARGET", "staging").await.unwrap();
        owner.send_chat(&chat(&project, &session, "Run the tool")).await.unwrap();
        let run = finished(&owner, project.id, session.id).await;
        assert_eq!(run.status, RunStatus::Succeeded, "{:?}", run.error);
        let (summary, mut paths) = head_commit(&app, &project, &session.github_branch_name);
        paths.sort();
        assert_eq!((summary.as_str(), paths), ("Run the tool", vec!["cmd.txt".to_owned(), "env.txt".into(), "stdin.txt".into()]));
        let env = owner.get_file(project.id, session.id, "env.txt").await.unwrap();
        assert_eq!(env.content.as_deref(), Some("staging"), "the project's environment variables are set");
        assert_eq!(owner.get_file(project.id, session.id, "stdin.txt").await.unwrap().content.as_deref(), Some("Run the tool"));
        let message = assistant(&owner, project.id, session.id).await;
        assert!(message.content.contains("prompt: Run the tool") && message.content.contains("oops"), "{}", message.content);
        assert_eq!((message.input_tokens, message.output_tokens), (None, None), "a command counts no tokens");
        let info = owner.agent_info().await.unwrap();
        assert_eq!((info.provider.as_deref(), info.available), (Some("command"), true));
        assert_eq!(info.display_name, "Command agent");
        assert!(info.command.is_some_and(|c| c.contains("cmd.txt")), "the admin sees the command");
        let (other, _) = app.user("bo").await;
        let seen = other.agent_info().await.unwrap();
        assert_eq!((seen.display_name.as_str(), seen.command), ("Command agent", None), "others never see it");
    }
);

db_test!(
    async fn the_model_banner_shows_the_operators_label(backend) {
        let app = spawn_app_with(backend, |s| s.agent.label = Some("Team Claude".into())).await;
        let (owner, _) = app.user("ann").await;
        let info = owner.agent_info().await.unwrap();
        assert_eq!((info.display_name.as_str(), info.model.as_deref()), ("Team Claude", Some("claude-test")));
        assert_eq!(info.command, None);
    }
);

db_test!(
    async fn earlier_turns_are_sent_as_history(backend) {
        let app = spawn_app(backend).await;
        let (owner, project, session) = setup(&app).await;
        app.model.script([Reply::Parts(vec![text("The capital is Paris.")]), Reply::Parts(vec![text("Lyon is second.")])]);
        owner.send_chat(&chat(&project, &session, "What is the capital of France?")).await.unwrap();
        finished(&owner, project.id, session.id).await;
        owner.send_chat(&chat(&project, &session, "And the second city?")).await.unwrap();
        finished(&owner, project.id, session.id).await;
        let second = &app.model.requests()[1]["messages"];
        assert_eq!(
            second,
            &json!([
                {"role": "user", "content": "What is the capital of France?"},
                {"role": "assistant", "content": [{"type": "text", "text": "The capital is Paris."}]},
                {"role": "user", "content": "And the second city?"},
            ])
        );
        assert_eq!(owner.get_chat_session(project.id, session.id).await.unwrap().message_count, 4);
    }
);

db_test!(
    async fn tools_cannot_reach_outside_the_checkout(backend) {
        let app = spawn_app(backend).await;
        let (owner, project, session) = setup(&app).await;
        let dir = app.checkout_dir(&session);
        std::os::unix::fs::symlink(app.data_dir.path(), dir.join("data-link")).unwrap();
        let escapes = [
            json!({"path": "../escape.txt", "content": "x"}),
            json!({"path": "/tmp/kosuke-escape.txt", "content": "x"}),
            json!({"path": ".git/config", "content": "x"}),
            json!({"path": "data-link/escape.txt", "content": "x"}),
            json!({"path": "a\u{0}b", "content": "x"}),
            json!({"path": "d/".repeat(600), "content": "x"}),
        ];
        let mut script: Vec<Reply> = escapes.iter().map(|input| Reply::Parts(vec![tool("write_file", input.clone())])).collect();
        script.push(Reply::Parts(vec![tool("read_file", json!({"path": "../../../../etc/hostname"}))]));
        script.push(Reply::Parts(vec![text("I could not.")]));
        app.model.script(script);
        let before_config = std::fs::read_to_string(app.data_dir.path().join(format!("projects/{}/mirror.git/config", project.id))).unwrap();
        owner.send_chat(&chat(&project, &session, "Escape")).await.unwrap();
        let run = finished(&owner, project.id, session.id).await;
        assert_eq!(run.status, RunStatus::Succeeded);
        let message = assistant(&owner, project.id, session.id).await;
        let blocks: Vec<ContentBlock> = message.blocks.unwrap();
        let refused = blocks.iter().filter(|b| matches!(b, ContentBlock::ToolUse { is_error: true, .. })).count();
        assert_eq!(refused, 7, "every escape is a tool error the model sees");
        assert!(!dir.parent().unwrap().join("escape.txt").exists());
        assert!(!std::path::Path::new("/tmp/kosuke-escape.txt").exists());
        assert!(!app.data_dir.path().join("escape.txt").exists());
        let after_config = std::fs::read_to_string(app.data_dir.path().join(format!("projects/{}/mirror.git/config", project.id))).unwrap();
        assert_eq!(before_config, after_config);
        let (_, paths) = head_commit(&app, &project, &session.github_branch_name);
        assert_eq!(paths, ["data-link"], "only the test's own symlink was committed; the agent changed nothing");
    }
);

db_test!(
    async fn ten_sessions_run_at_once_each_committing_its_own_work(backend) {
        let app = spawn_app(backend).await;
        let (owner, project, _) = setup(&app).await;
        let mut sessions = Vec::new();
        for n in 0..10 {
            sessions.push(ready_session(&app, &owner, project.id, &format!("s{n}")).await);
        }
        for (n, session) in sessions.iter().enumerate() {
            owner.send_chat(&chat(&project, session, &format!("write note{n}"))).await.unwrap();
        }
        for (n, session) in sessions.iter().enumerate() {
            let run = finished(&owner, project.id, session.id).await;
            assert_eq!(run.status, RunStatus::Succeeded, "{:?}", run.error);
            let (summary, paths) = head_commit(&app, &project, &session.github_branch_name);
            assert_eq!((summary, paths), (format!("write note{n}"), vec![format!("note{n}.txt")]));
        }
    }
);

db_test!(
    async fn environment_variables_are_write_only_and_for_owners(backend) {
        let app = spawn_app(backend).await;
        let (owner, _) = app.user("ann").await;
        let (member, _) = app.user("bob").await;
        let project = app.project(&owner, "env").await;
        owner.add_member(project.id, &AddMemberRequest { email: "bob@example.test".into(), role: None }).await.unwrap();
        owner.set_env_var(project.id, "API_URL", "https://staging.example.test").await.unwrap();
        owner.set_env_var(project.id, "SECRET_TOKEN", "s3cr3t-value").await.unwrap();
        owner.set_env_var(project.id, "SECRET_TOKEN", "rotated-value").await.unwrap();
        let listed = owner.list_env_vars(project.id).await.unwrap();
        let keys: Vec<&str> = listed.variables.iter().map(|v| v.key.as_str()).collect();
        assert_eq!(keys, ["API_URL", "SECRET_TOKEN"]);
        assert!(!serde_json::to_string(&listed).unwrap().contains("value"), "values are never sent back");
        for bad in ["1ABC", "A-B", "KOSUKE_PROMPT", ""] {
            let err = owner.set_env_var(project.id, bad, "x").await.unwrap_err();
            assert!(matches!(err.status(), Some(422) | Some(404) | Some(405)), "{bad:?}: {err}");
        }
        assert_eq!(member.list_env_vars(project.id).await.unwrap_err().status(), Some(403));
        assert_eq!(member.set_env_var(project.id, "X", "y").await.unwrap_err().status(), Some(403));
        owner.delete_env_var(project.id, "API_URL").await.unwrap();
        assert_eq!(owner.delete_env_var(project.id, "API_URL").await.unwrap_err().status(), Some(404));
        let db = app.database.connect().await;
        let stored = api::store::env_vars::list(&db, project.id.0).await.unwrap();
        assert!(stored.iter().all(|v| !v.value_encrypted.contains("rotated-value")), "sealed at rest");

        // Each change is audited with its key; no value reaches the trail.
        let audit = owner.list_audit(project.id, &PageQuery::default()).await.unwrap();
        let changes: Vec<(AuditAction, String)> = audit
            .events
            .iter()
            .filter(|e| matches!(e.action, AuditAction::EnvVarSet | AuditAction::EnvVarDeleted))
            .map(|e| (e.action, e.detail["key"].as_str().unwrap_or_default().to_owned()))
            .collect();
        assert_eq!(
            changes,
            [
                (AuditAction::EnvVarDeleted, "API_URL".to_owned()),
                (AuditAction::EnvVarSet, "SECRET_TOKEN".into()),
                (AuditAction::EnvVarSet, "SECRET_TOKEN".into()),
                (AuditAction::EnvVarSet, "API_URL".into()),
            ],
            "newest first; refused changes leave no entry"
        );
        let trail = serde_json::to_string(&audit).unwrap();
        assert!(!trail.contains("s3cr3t") && !trail.contains("rotated") && !trail.contains("staging"), "{trail}");
    }
);

db_test!(
    async fn the_projects_branding_reaches_the_agent(backend) {
        let app = spawn_app(backend).await;
        let (owner, project, session) = setup(&app).await;
        let (member, _) = app.user("bob").await;
        owner.add_member(project.id, &AddMemberRequest { email: "bob@example.test".into(), role: None }).await.unwrap();
        assert_eq!(member.get_branding(project.id).await.unwrap(), Branding::default());
        let branding = Branding {
            primary_color: "#ff0066".into(),
            accent_color: "#00aa88".into(),
            body_font: "\"Inter Tight\", sans-serif".into(),
            heading_font: "Georgia, serif".into(),
        };
        assert_eq!(member.set_branding(project.id, &branding).await.unwrap_err().status(), Some(403));
        let bad = owner.set_branding(project.id, &Branding { primary_color: "red".into(), ..branding.clone() }).await.unwrap_err();
        assert_eq!((bad.status(), bad.code()), (Some(422), Some(ErrorCode::ValidationFailed)));
        assert_eq!(owner.set_branding(project.id, &branding).await.unwrap(), branding);
        assert_eq!(member.get_branding(project.id).await.unwrap(), branding);
        app.model.script([Reply::Parts(vec![text("Styled.")])]);
        owner.send_chat(&chat(&project, &session, "Make a page")).await.unwrap();
        finished(&owner, project.id, session.id).await;
        let system = app.model.requests()[0]["system"].as_str().unwrap().to_owned();
        assert!(system.contains("#ff0066") && system.contains("Georgia, serif"), "{system}");
    }
);
