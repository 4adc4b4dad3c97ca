//! Run settings and setup: the project's own settings over the repository's `kosuke.json`
//! (owner only), files copied into each new checkout and kept out of its commits, the setup
//! command run once per checkout in the sandbox with its log kept and streamed, failure with
//! the log's tail, retry and skip, the spare checkout set up ahead, disk use.

use crate::chat::{chat, finished, head_commit, ready_session};
use crate::db_test;
use crate::harness::{TestApp, spawn_app, spawn_app_with};
use api_types::*;
use client::Client;
use fakes::model::{Reply, text, tool};
use serde_json::json;
use std::time::Duration;

/// What every origin of these tests ignores, as real projects do.
const GITIGNORE: &str = "node_modules/\n.setup-count\n";

fn own(setup: &str) -> UpdateRunSettingsRequest {
    UpdateRunSettingsRequest { setup: Some(setup.into()), dev: None, readiness_path: None }
}

/// A project on an origin with `files`, owned by ann.
async fn project_with(app: &TestApp, files: &[(&str, &str)]) -> (Client, Project) {
    let (owner, _) = app.user("ann").await;
    let mut all = vec![("README.md", "# Shop\n"), (".gitignore", GITIGNORE)];
    all.extend_from_slice(files);
    let origin = app.origin("shop", &all, &[]);
    let project = app.project_from(&owner, "shop", &origin).await;
    (owner, project)
}

fn read(app: &TestApp, session: &ChatSession, file: &str) -> Option<String> {
    std::fs::read_to_string(app.checkout_dir(session).join(file)).ok()
}

/// The setup's log as its event stream sends it, to its `end` event: (lines, end state).
async fn setup_events(
    app: &TestApp,
    owner: &Client,
    session: &ChatSession,
    after: Option<u64>,
) -> (Vec<LogLine>, String) {
    log_events(app, owner, &owner.setup_events_url(session.project_id, session.id), after).await
}

/// A process log's event stream at `url`, to its `end` event: (lines, end state).
pub async fn log_events(app: &TestApp, owner: &Client, url: &str, after: Option<u64>) -> (Vec<LogLine>, String) {
    use futures_util::StreamExt;
    let token = owner.create_api_token(&CreateApiTokenRequest { name: "log".into() }).await.unwrap().token;
    let mut request = app.http().get(url).bearer_auth(token);
    if let Some(after) = after {
        request = request.header("Last-Event-ID", after.to_string());
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut stream = response.bytes_stream();
    let (mut buffer, mut lines) = (Vec::new(), Vec::new());
    loop {
        let next = tokio::time::timeout(Duration::from_secs(20), stream.next()).await;
        let Ok(Some(Ok(chunk))) = next else { panic!("the log stream ended before its end event: {lines:?}") };
        buffer.extend_from_slice(&chunk);
        while let Some(end) = buffer.windows(2).position(|w| w == b"\n\n") {
            let block = String::from_utf8(buffer.drain(..end + 2).collect()).unwrap();
            let Some(data) = block.lines().find_map(|l| l.strip_prefix("data: ")) else { continue };
            match serde_json::from_str::<LogEvent>(data).unwrap() {
                LogEvent::Line(line) => lines.push(line),
                LogEvent::End(end) => return (lines, end.state),
            }
        }
    }
}

db_test! {
    async fn the_projects_settings_override_kosuke_json_and_only_its_owner_sees_them(backend) {
        let app = spawn_app(backend).await;
        let kosuke_json = r#"{"setup": "npm ci", "dev": "npm run dev -- --port $PORT", "readiness_path": "/health", "other": true}"#;
        let (owner, project) = project_with(&app, &[("kosuke.json", kosuke_json)]).await;

        let settings = owner.get_run_settings(project.id).await.unwrap();
        assert!(settings.repository_file && settings.repository_file_error.is_none());
        assert_eq!(settings.setup.value.as_deref(), Some("npm ci"));
        assert_eq!(settings.setup.source, SettingSource::Repository);
        assert_eq!(settings.readiness_path.value.as_deref(), Some("/health"));

        let request = UpdateRunSettingsRequest { setup: Some(" pnpm install ".into()), dev: Some("".into()), readiness_path: None };
        let settings = owner.put_run_settings(project.id, &request).await.unwrap();
        assert_eq!(settings.setup.value.as_deref(), Some("pnpm install"));
        assert_eq!(settings.setup.source, SettingSource::Settings);
        assert_eq!(settings.setup.repository.as_deref(), Some("npm ci"), "both are shown");
        assert_eq!(settings.dev.source, SettingSource::Repository, "an empty value leaves it to kosuke.json");

        // A member reads nothing and changes nothing; a stranger does not see the project.
        let (member, _) = app.user("bob").await;
        owner.add_member(project.id, &AddMemberRequest { email: "bob@example.test".into(), role: None }).await.unwrap();
        assert_eq!(member.get_run_settings(project.id).await.unwrap_err().status(), Some(403));
        assert_eq!(member.put_run_settings(project.id, &own("rm -rf /")).await.unwrap_err().status(), Some(403));
        assert_eq!(member.put_project_file(project.id, ".env", "A=1").await.unwrap_err().status(), Some(403));
        let (stranger, _) = app.user("eve").await;
        assert_eq!(stranger.get_run_settings(project.id).await.unwrap_err().status(), Some(404));

        // Bad input gets the field named and changes nothing.
        let bad = UpdateRunSettingsRequest { setup: Some("ok".into()), dev: None, readiness_path: Some("health".into()) };
        let err = owner.put_run_settings(project.id, &bad).await.unwrap_err();
        assert_eq!((err.status(), err.body().unwrap().field.as_deref()), (Some(422), Some("readiness_path")));
        for path in ["../outside", ".git/config", "/etc/passwd", "a//b"] {
            let err = owner.put_project_file(project.id, path, "x").await.unwrap_err();
            assert_eq!((err.status(), err.body().unwrap().field.as_deref()), (Some(422), Some("path")), "{path}");
        }
        assert_eq!(owner.get_run_settings(project.id).await.unwrap().setup.value.as_deref(), Some("pnpm install"));

        // A file's content is sealed and never sent back; the same path replaces it.
        owner.put_project_file(project.id, ".env.local", "API_KEY=first").await.unwrap();
        let file = owner.put_project_file(project.id, ".env.local", "API_KEY=second-value").await.unwrap();
        let settings = owner.get_run_settings(project.id).await.unwrap();
        assert_eq!(settings.files.len(), 1);
        assert_eq!((settings.files[0].path.as_str(), settings.files[0].size), (".env.local", 20));
        let body = app.http().get(app.url(&format!("/api/projects/{}/settings/run", project.id)));
        let token = owner.create_api_token(&CreateApiTokenRequest { name: "t".into() }).await.unwrap().token;
        let raw = body.bearer_auth(token).send().await.unwrap().text().await.unwrap();
        assert!(!raw.contains("second-value"), "{raw}");
        owner.delete_project_file(project.id, file.id).await.unwrap();
        assert!(owner.get_run_settings(project.id).await.unwrap().files.is_empty());
        assert_eq!(owner.delete_project_file(project.id, file.id).await.unwrap_err().status(), Some(404));

        // A kosuke.json that cannot be used says why, and is not used.
        let app = spawn_app(backend).await;
        let (owner, project) = project_with(&app, &[("kosuke.json", r#"{"setup": ["npm", "ci"]}"#)]).await;
        let settings = owner.get_run_settings(project.id).await.unwrap();
        assert!(settings.repository_file_error.unwrap().contains("kosuke.json"));
        assert_eq!(settings.setup.source, SettingSource::Unset);
    }
}

db_test! {
    async fn setup_runs_once_per_checkout_in_the_sandbox_and_copied_files_stay_out_of_commits(backend) {
        let app = spawn_app_with(backend, |s| s.spare_checkouts = false).await;
        let (owner, project) = project_with(&app, &[]).await;
        owner.set_env_var(project.id, "API_TOKEN", "tok-very-secret-1234").await.unwrap();
        owner.put_project_file(project.id, ".env.local", "API_KEY=local-only\n").await.unwrap();
        owner.put_project_file(project.id, "config/dev.env", "MODE=dev\n").await.unwrap();
        let script = "echo run >> .setup-count; echo \"installing with $API_TOKEN\"; \
                      mkdir -p node_modules && echo dep > node_modules/dep.txt; \
                      cat .env.local; pwd; ls /srv /home 2>&1 | head -3; echo finished";
        owner.put_run_settings(project.id, &own(script)).await.unwrap();

        let session = ready_session(&app, &owner, project.id, "first").await;
        assert_eq!(session.workspace_state, WorkspaceState::Ready, "{:?}", session.workspace_error);
        let setup = owner.get_setup(project.id, session.id).await.unwrap();
        assert_eq!(setup.state, WorkspaceState::Ready);
        assert_eq!(setup.command.as_deref(), Some(script));
        assert!(setup.log.contains("API_KEY=local-only") && setup.log.contains("finished"), "{}", setup.log);
        assert!(setup.log.contains("installing with [$API_TOKEN]"), "variable values are hidden: {}", setup.log);
        assert!(setup.log.contains("/workspace"), "it runs in the sandbox: {}", setup.log);
        assert_eq!(read(&app, &session, ".env.local").as_deref(), Some("API_KEY=local-only\n"));
        assert_eq!(read(&app, &session, "config/dev.env").as_deref(), Some("MODE=dev\n"));
        assert_eq!(read(&app, &session, "node_modules/dep.txt").as_deref(), Some("dep\n"));
        assert!(session.disk_bytes.unwrap_or(0) > 0 || {
            let again = owner.get_chat_session(project.id, session.id).await.unwrap();
            again.disk_bytes.unwrap_or(0) > 0
        });

        // The kept log streams whole, then ends; it resumes after a line.
        let (lines, end) = setup_events(&app, &owner, &session, None).await;
        assert_eq!(end, "ready");
        assert!(lines.iter().any(|l| l.text == "finished"), "{lines:?}");
        let (after, _) = setup_events(&app, &owner, &session, Some(lines[1].n)).await;
        assert_eq!(after.first().map(|l| l.n), Some(lines[2].n));

        // A turn commits its own work, never the copied files, and does not set up again.
        app.model.script([
            Reply::Parts(vec![tool("write_file", json!({"path": "src/app.js", "content": "ok\n"}))]),
            Reply::Parts(vec![text("Done")]),
        ]);
        owner.send_chat(&chat(&project, &session, "Add the app")).await.unwrap();
        assert_eq!(finished(&owner, project.id, session.id).await.status, RunStatus::Succeeded);
        let (_, paths) = head_commit(&app, &project, &session.github_branch_name);
        assert_eq!(paths, vec!["src/app.js".to_owned()]);
        assert_eq!(read(&app, &session, ".setup-count").as_deref(), Some("run\n"));

        // A second session gets its own checkout, set up once, with the files.
        let second = ready_session(&app, &owner, project.id, "second").await;
        assert_eq!(read(&app, &second, ".setup-count").as_deref(), Some("run\n"));
        assert_eq!(read(&app, &second, ".env.local").as_deref(), Some("API_KEY=local-only\n"));
        assert_eq!(read(&app, &second, "src/app.js"), None, "sessions never share files");

        // Disk use: each checkout, the mirror.
        let disk = owner.get_disk(project.id).await.unwrap();
        assert_eq!(disk.sessions.len(), 2, "{disk:?}");
        let first = disk.sessions.iter().find(|s| s.chat_session_id == session.id).unwrap();
        assert!(first.bytes > 0 && disk.mirror_bytes > 0 && disk.spare_bytes == 0, "{disk:?}");
        assert_eq!(disk.total_bytes, disk.mirror_bytes + disk.sessions.iter().map(|s| s.bytes).sum::<u64>());

        // Archiving frees the checkout and its dependencies.
        owner
            .update_chat_session(project.id, session.id, &UpdateChatSessionRequest { status: Some(ChatSessionStatus::Archived), ..Default::default() })
            .await
            .unwrap();
        assert!(!app.checkout_dir(&session).exists());
        let archived = owner.get_chat_session(project.id, session.id).await.unwrap();
        assert_eq!(archived.disk_bytes, None);
        let disk = owner.get_disk(project.id).await.unwrap();
        assert_eq!(disk.sessions.iter().find(|s| s.chat_session_id == session.id).unwrap().bytes, 0);
    }
}

db_test! {
    async fn a_failed_setup_shows_its_tail_and_can_be_retried_or_skipped(backend) {
        let app = spawn_app_with(backend, |s| s.spare_checkouts = false).await;
        let (owner, project) = project_with(&app, &[]).await;
        owner.put_run_settings(project.id, &own("echo checking; test -f ok || { echo 'ok is missing' >&2; exit 3; }; echo fine")).await.unwrap();

        let session = ready_session(&app, &owner, project.id, "failing").await;
        assert_eq!(session.workspace_state, WorkspaceState::SetupFailed);
        let error = session.workspace_error.clone().unwrap();
        assert!(error.contains("exited with code 3") && error.contains("ok is missing"), "{error}");
        let setup = owner.get_setup(project.id, session.id).await.unwrap();
        assert_eq!(setup.error.as_deref(), Some(error.as_str()));
        let (_, end) = setup_events(&app, &owner, &session, None).await;
        assert_eq!(end, "setup_failed");
        let err = owner.setup_action(project.id, session.id, SetupAction::Skip).await;
        assert!(err.is_ok(), "a failed setup can be skipped");
        assert_eq!(owner.get_chat_session(project.id, session.id).await.unwrap().workspace_state, WorkspaceState::Ready);
        assert_eq!(owner.setup_action(project.id, session.id, SetupAction::Skip).await.unwrap_err().status(), Some(409));

        // Fixed in the checkout, the retry succeeds; its log streams live to its end.
        let other = ready_session(&app, &owner, project.id, "fixed later").await;
        assert_eq!(other.workspace_state, WorkspaceState::SetupFailed);
        std::fs::write(app.checkout_dir(&other).join("ok"), "").unwrap();
        let retried = owner.setup_action(project.id, other.id, SetupAction::Retry).await.unwrap();
        assert_eq!(retried.state, WorkspaceState::SettingUp);
        let (lines, end) = setup_events(&app, &owner, &other, None).await;
        assert_eq!(end, "ready");
        assert!(lines.iter().any(|l| l.text == "fine"), "{lines:?}");
        let other = owner.get_chat_session(project.id, other.id).await.unwrap();
        assert_eq!((other.workspace_state, other.workspace_error), (WorkspaceState::Ready, None));

        // Someone else's session's setup is not theirs to see or retry.
        let (stranger, _) = app.user("eve").await;
        assert_eq!(stranger.get_setup(project.id, other.id).await.unwrap_err().status(), Some(404));
        assert_eq!(stranger.setup_action(project.id, other.id, SetupAction::Retry).await.unwrap_err().status(), Some(404));
    }
}

db_test! {
    async fn the_spare_is_set_up_ahead_and_the_session_adopting_it_does_not_set_up_again(backend) {
        let app = spawn_app(backend).await;
        let (owner, project) = project_with(&app, &[]).await;
        owner.put_project_file(project.id, ".env.local", "KEY=1\n").await.unwrap();
        owner.put_run_settings(project.id, &own("echo run >> .setup-count; echo set up ahead")).await.unwrap();
        // The change sets the spare up again in the background.
        let record = app.data_dir.path().join(format!("projects/{}/spare-setup.json", project.id));
        for _ in 0..400 {
            if record.exists() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert!(record.exists(), "the spare was set up ahead");
        let spare = app.data_dir.path().join(format!("projects/{}/spare", project.id));
        assert_eq!(std::fs::read_to_string(spare.join(".setup-count")).unwrap(), "run\n");

        let session = ready_session(&app, &owner, project.id, "adopts the spare").await;
        assert_eq!(session.workspace_state, WorkspaceState::Ready, "{:?}", session.workspace_error);
        assert_eq!(read(&app, &session, ".setup-count").as_deref(), Some("run\n"), "set up once, ahead");
        assert_eq!(read(&app, &session, ".env.local").as_deref(), Some("KEY=1\n"));
        let setup = owner.get_setup(project.id, session.id).await.unwrap();
        assert!(setup.log.contains("set up ahead"), "the spare's log is the session's: {}", setup.log);
    }
}
