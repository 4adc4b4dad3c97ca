//! Isolation, tried as an attacker would: an agent run is untrusted code. Each row of the
//! escape table is something a command agent tried inside a turn on the real `kosuke` binary,
//! and what must hold. The table grows with the sandbox (reading other checkouts, the data
//! dir, signalling the server…); today it holds what the cleared environment enforces.

use crate::chat::{chat, finished, ready_session, setup};
use crate::db_test;
use crate::harness::spawn_binary;
use api_types::*;

const SECRET_KEY: &str = "a29zdWtlLXRlc3Qtc2VjcmV0LWtleS0zMi1ieXRlcyE=";
const PROVIDER_KEY: &str = "sk-ant-api03-leak-me-if-you-can";

db_test!(
    async fn a_command_agent_sees_none_of_the_servers_settings_or_secrets(backend) {
        let app = spawn_binary(backend, &[
            ("KOSUKE_SECRET_KEY", SECRET_KEY),
            ("KOSUKE_AGENT_PROVIDER", "command"),
            ("KOSUKE_AGENT_API_KEY", PROVIDER_KEY),
            ("KOSUKE_AGENT_COMMAND", "env > seen-env.txt; printf '%s' \"$HOME\" > seen-home.txt"),
        ])
        .await;
        let (owner, project, session) = setup(&app).await;
        owner.set_env_var(project.id, "DEPLOY_TARGET", "staging").await.unwrap();
        owner.send_chat(&chat(&project, &session, "Show me your environment")).await.unwrap();
        let run = finished(&owner, project.id, session.id).await;
        assert_eq!(run.status, RunStatus::Succeeded, "{:?}", run.error);
        let env = owner.get_file(project.id, session.id, "seen-env.txt").await.unwrap().content.unwrap();

        // The escape table: what the command tried to print, and the value it must not see.
        let database_url = app.database.url.clone();
        let server_home = std::env::var("HOME").unwrap_or_default();
        let rows: [(&str, &str); 3] = [
            ("the key that seals every stored secret (KOSUKE_SECRET_KEY)", SECRET_KEY),
            ("the model provider's API key (KOSUKE_AGENT_API_KEY)", PROVIDER_KEY),
            ("the database URL (DATABASE_URL)", &database_url),
        ];
        for (what, value) in rows {
            assert!(!env.contains(value), "{what} reached the agent's command:\n{env}");
        }
        let names: Vec<&str> = env.lines().filter_map(|line| line.split_once('=').map(|(name, _)| name)).collect();
        let kosukes: Vec<&&str> = names.iter().filter(|n| n.starts_with("KOSUKE_")).collect();
        assert_eq!(kosukes, [&"KOSUKE_PROMPT"], "no kosuke setting reaches a child:\n{env}");
        assert!(names.contains(&"PATH") && env.contains("DEPLOY_TARGET=staging"), "{env}");
        let home = owner.get_file(project.id, session.id, "seen-home.txt").await.unwrap().content.unwrap();
        assert!(!home.is_empty() && home != server_home, "a HOME of its own, not the server's ({home})");
        assert!(!std::path::Path::new(&home).exists(), "its HOME is removed after the turn");
    }
);

db_test!(
    async fn project_variables_that_change_the_loader_or_the_shell_are_refused(backend) {
        let app = crate::harness::spawn_app(backend).await;
        let (owner, _) = app.user("ann").await;
        let project = app.project(&owner, "env").await;
        for name in ["LD_PRELOAD", "LD_LIBRARY_PATH", "BASH_ENV", "ENV", "PATH", "HOME", "IFS", "DYLD_INSERT_LIBRARIES"] {
            let err = owner.set_env_var(project.id, name, "/tmp/evil.so").await.unwrap_err();
            assert_eq!((err.status(), err.code()), (Some(422), Some(ErrorCode::ValidationFailed)), "{name}");
            assert!(err.to_string().contains(name), "{name}: {err}");
        }
        assert!(owner.list_env_vars(project.id).await.unwrap().variables.is_empty(), "nothing stored");
        owner.set_env_var(project.id, "LDAP_URL", "ldap://example.test").await.unwrap();
    }
);

/// One row of the escape table: what the agent's command tries, as a shell condition that
/// holds only if the attempt worked.
struct Escape {
    what: &'static str,
    attempt: String,
}

/// The escape table, driven by a command agent in a session of user 1 (with a sibling session
/// of user 1 and a session of user 2 in another project), under the given `--sandbox`.
async fn escape_table(backend: crate::harness::Backend, sandbox: &str) {
    let app = spawn_binary(
        backend,
        &[
            ("KOSUKE_AGENT_PROVIDER", "command"),
            ("KOSUKE_AGENT_API_KEY", PROVIDER_KEY),
            ("KOSUKE_AGENT_COMMAND", "eval \"$KOSUKE_PROMPT\""),
            ("KOSUKE_SANDBOX", sandbox),
        ],
    )
    .await;
    assert!(app.client().health().await.is_ok());
    let (ann, project, attacker) = setup(&app).await;
    let sibling = ready_session(&app, &ann, project.id, "sibling").await;
    let (bob, _) = app.user("bob").await;
    let bobs_origin = app.origin("bobs", &[("README.md", "bob's\n")], &[]);
    let bobs_project = app.project_from(&bob, "bobs", &bobs_origin).await;
    let victim = ready_session(&app, &bob, bobs_project.id, "victim").await;
    for session in [&sibling, &victim] {
        std::fs::write(app.checkout_dir(session).join("uncommitted.txt"), "private work\n").unwrap();
    }
    let data = app.data_dir.path().display().to_string();
    let sibling_dir = app.checkout_dir(&sibling).display().to_string();
    let victim_dir = app.checkout_dir(&victim).display().to_string();
    let mirror = format!("{data}/projects/{}/mirror.git", project.id);
    let pid = app.server_pid().unwrap();
    // The SQLite file the server uses (on PostgreSQL the database is not a file here).
    let database_file =
        app.database.url.strip_prefix("sqlite://").map(|rest| rest.split('?').next().unwrap_or(rest).to_owned());
    let mut table = vec![
        Escape { what: "read secret.key", attempt: format!("cat {data}/secret.key") },
        Escape { what: "list the data dir", attempt: format!("ls {data}/projects") },
        Escape {
            what: "find the provider key in /proc/1/environ",
            attempt: "tr '\\0' '\\n' < /proc/1/environ | grep -q '^KOSUKE_AGENT_API_KEY='".to_owned(),
        },
        Escape { what: "read the server's /proc/<pid>/environ", attempt: format!("cat /proc/{pid}/environ") },
        Escape { what: "signal the server", attempt: format!("kill -0 {pid}") },
        Escape { what: "list the sibling session's checkout", attempt: format!("ls {sibling_dir}") },
        Escape {
            what: "read the sibling session's uncommitted file",
            attempt: format!("cat {sibling_dir}/uncommitted.txt"),
        },
        Escape {
            what: "write into the sibling session's checkout",
            attempt: format!("echo pwned > {sibling_dir}/pwned.txt"),
        },
        Escape { what: "read another user's checkout", attempt: format!("cat {victim_dir}/uncommitted.txt") },
        Escape { what: "write into another user's checkout", attempt: format!("echo pwned > {victim_dir}/pwned.txt") },
        Escape { what: "write the mirror's refs", attempt: format!("echo 0 > {mirror}/refs/heads/evil") },
        Escape { what: "read /etc/shadow", attempt: "grep -q root /etc/shadow".to_owned() },
    ];
    if let Some(file) = &database_file {
        table.push(Escape { what: "read the SQLite database", attempt: format!("head -c 15 {file} | grep -q SQLite") });
    }
    let mut script: String = table
        .iter()
        .map(|row| format!("if ( {} ) >/dev/null 2>&1; then echo \"{}\" >> escaped.txt; fi\n", row.attempt, row.what))
        .collect();
    // A process meant to outlive the turn, and the run's own work.
    // A process meant to outlive the turn, git reading the checkout, and the run's own work.
    // A sleep no other test runs (tests run side by side): its fraction holds this app's port.
    let lingering = format!("31.{}7", app.address.rsplit(':').next().unwrap_or_default());
    script.push_str(&format!("(setsid sleep {lingering} >/dev/null 2>&1 &)\necho mine > mine.txt\n"));
    script.push_str("git status --porcelain > git-status.txt 2>&1; git log --format=%s -1 >> git-status.txt 2>&1\n");
    ann.send_chat(&chat(&project, &attacker, &script)).await.unwrap();
    let run = finished(&ann, project.id, attacker.id).await;
    let said = crate::chat::assistant(&ann, project.id, attacker.id).await.content;
    assert_eq!(run.status, RunStatus::Succeeded, "{:?}: {said}", run.error);

    let escaped = ann.get_file(project.id, attacker.id, "escaped.txt").await.ok().and_then(|f| f.content);
    assert_eq!(escaped, None, "escapes that worked:\n{}", escaped.clone().unwrap_or_default());
    for dir in [&sibling_dir, &victim_dir] {
        assert!(!std::path::Path::new(dir).join("pwned.txt").exists(), "{dir} was written into");
    }
    assert!(!std::path::Path::new(&mirror).join("refs/heads/evil").exists(), "the mirror's refs were written");
    let survivors = processes_with(&lingering);
    assert!(survivors.is_empty(), "a process of the turn outlived it: {survivors:?}");
    let mine = ann.get_file(project.id, attacker.id, "mine.txt").await.unwrap();
    assert_eq!(mine.content.as_deref(), Some("mine\n"), "the run's own checkout stays writable");
    let git = ann.get_file(project.id, attacker.id, "git-status.txt").await.unwrap().content.unwrap();
    assert_eq!(git, "?? git-status.txt\n?? mine.txt\nfirst\n", "git in the sandbox reads the checkout's metadata");
    let (_, mut paths) = crate::chat::head_commit(&app, &project, &attacker.github_branch_name);
    paths.sort();
    assert_eq!(paths, ["git-status.txt", "mine.txt"], "and its files are committed");
}

db_test!(
    async fn an_agent_command_cannot_reach_other_sessions_the_data_dir_or_the_server(backend) {
        escape_table(backend, "bwrap").await;
    }
);

db_test!(
    async fn the_same_holds_under_landlock_where_bubblewrap_cannot_run(backend) {
        escape_table(backend, "landlock").await;
    }
);

db_test!(
    async fn without_a_sandbox_a_command_agent_is_refused_unless_the_operator_turns_it_off(backend) {
        // The operator asked for bubblewrap, and there is none on the server's PATH.
        let command = [
            ("KOSUKE_AGENT_PROVIDER", "command"),
            ("KOSUKE_AGENT_COMMAND", "echo ran > ran.txt"),
            ("PATH", "/nonexistent"),
            ("KOSUKE_SANDBOX", "bwrap"),
        ];
        let app = spawn_binary(backend, &command).await;
        let (owner, project, session) = setup(&app).await;
        let refused = owner.send_chat(&chat(&project, &session, "Run")).await.unwrap_err();
        assert_eq!((refused.status(), refused.code()), (Some(503), Some(ErrorCode::SandboxUnavailable)));
        let said = refused.to_string();
        assert!(said.contains("install bubblewrap") && said.contains("--sandbox off"), "{said}");
        let info = owner.agent_info().await.unwrap();
        assert!(!info.available && info.reason.unwrap_or_default().contains("bubblewrap"));
        assert_eq!(owner.get_chat_session(project.id, session.id).await.unwrap().message_count, 0, "nothing stored");
        drop(app);

        // The operator's explicit choice: commands run, and the banner says they are unsandboxed.
        let mut off = command.to_vec();
        off.push(("KOSUKE_SANDBOX", "off"));
        let app = spawn_binary(backend, &off).await;
        let (owner, project, session) = setup(&app).await;
        assert!(owner.agent_info().await.unwrap().display_name.contains("unsandboxed"));
        owner.send_chat(&chat(&project, &session, "Run")).await.unwrap();
        assert_eq!(finished(&owner, project.id, session.id).await.status, RunStatus::Succeeded);
    }
);

/// Processes on this machine whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<String> {
    std::fs::read_dir("/proc")
        .map(|entries| {
            entries
                .filter_map(|entry| std::fs::read(entry.ok()?.path().join("cmdline")).ok())
                .map(|cmdline| String::from_utf8_lossy(&cmdline).replace('\0', " "))
                .filter(|cmdline| cmdline.contains(marker))
                .collect()
        })
        .unwrap_or_default()
}

/// Kills the server mid-run five times under the given `--sandbox`.
async fn kill_mid_run(backend: crate::harness::Backend, sandbox: &str) {
    let mut app = spawn_binary(
        backend,
        &[
            ("KOSUKE_AGENT_PROVIDER", "command"),
            ("KOSUKE_AGENT_COMMAND", "eval \"$KOSUKE_PROMPT\""),
            ("KOSUKE_SANDBOX", sandbox),
        ],
    )
    .await;
    let (mut ann, project, session) = setup(&app).await;
    for round in 0..5 {
        // A sleep no other test runs (tests run side by side): its fraction holds this app's port.
        let port = app.address.rsplit(':').next().unwrap_or_default().to_owned();
        let (ticker, marker) = (format!("ticker-{round}.txt"), format!("61.{port}{round}7"));
        let script = format!("(while true; do echo tick >> {ticker}; sleep 0.02; done) & sleep {marker}");
        ann.send_chat(&chat(&project, &session, &script)).await.unwrap();
        let ticking = app.checkout_dir(&session).join(&ticker);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !ticking.exists() {
            assert!(std::time::Instant::now() < deadline, "round {round}: the run never started writing");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        // The loop may write before the sleep beside it has started: wait for both.
        while processes_with(&marker).is_empty() {
            assert!(std::time::Instant::now() < deadline, "round {round}: the run is live");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }

        app.kill_and_restart_binary().await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !processes_with(&marker).is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "round {round}: {:?} outlived the server",
                processes_with(&marker)
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        ann = app.client();
        ann.login(&LoginRequest { email: "ann@example.test".into(), password: "ann-password".into() }).await.unwrap();
        let runs = ann.list_runs(project.id, session.id).await.unwrap().runs;
        assert_eq!(runs[0].status, RunStatus::Interrupted, "round {round}");
        let (summary, paths) = crate::chat::head_commit(&app, &project, &session.github_branch_name);
        assert!(summary.starts_with("(while true"), "round {round}: the interrupted turn's own commit: {summary}");
        assert_eq!(paths, std::slice::from_ref(&ticker), "round {round}");

        let next = format!("next-{round}.txt");
        ann.send_chat(&chat(&project, &session, &format!("echo next > {next}"))).await.unwrap();
        let run = finished(&ann, project.id, session.id).await;
        assert_eq!(run.status, RunStatus::Succeeded, "round {round}: {:?}", run.error);
        let (_, paths) = crate::chat::head_commit(&app, &project, &session.github_branch_name);
        assert_eq!(paths, [next], "round {round}: the next turn's commit holds only its own files");
    }
}

db_test!(
    async fn a_server_killed_mid_run_leaves_no_process_behind_and_the_next_commit_holds_only_the_next_turn(backend) {
        kill_mid_run(backend, "bwrap").await;
    }
);

db_test!(
    async fn under_landlock_what_a_killed_server_left_running_is_killed_at_the_next_start(backend) {
        kill_mid_run(backend, "landlock").await;
    }
);

/// A bare repository whose `main` holds `files` and the symlinks `links` (name, target).
fn origin_with_links(
    app: &crate::harness::TestApp,
    files: &[(&str, &str)],
    links: &[(&str, &str)],
) -> std::path::PathBuf {
    let path = app.remotes.path().join("links.git");
    let repo = git2::Repository::init_bare(&path).unwrap();
    let mut builder = repo.treebuilder(None).unwrap();
    for (name, content) in files {
        builder.insert(name, repo.blob(content.as_bytes()).unwrap(), 0o100644).unwrap();
    }
    for (name, target) in links {
        builder.insert(name, repo.blob(target.as_bytes()).unwrap(), 0o120000).unwrap();
    }
    let tree = repo.find_tree(builder.write().unwrap()).unwrap();
    let signature = git2::Signature::now("Origin", "origin@example.test").unwrap();
    repo.commit(Some("refs/heads/main"), &signature, &signature, "links", &tree, &[]).unwrap();
    repo.set_head("refs/heads/main").unwrap();
    path
}

db_test!(
    async fn committed_symlinks_out_are_never_followed_by_any_tool_the_files_api_or_the_preview(backend) {
        use fakes::model::{Reply, text, tool};
        use serde_json::json;
        let app = crate::harness::spawn_app(backend).await;
        let outside = tempfile::TempDir::new().unwrap();
        let secret = outside.path().join("secret.txt");
        std::fs::write(&secret, "outside secret\n").unwrap();
        let planted = outside.path().join("planted.txt");
        let (secret_s, planted_s) = (secret.display().to_string(), planted.display().to_string());
        let links = [("dangling", planted_s.as_str()), ("chain1", "chain2"), ("chain2", secret_s.as_str()), ("up", "../../../../../..")];
        let origin = origin_with_links(&app, &[("README.md", "# Links\n"), ("index.html", "<p>hi</p>\n")], &links);
        let (owner, _) = app.user("ann").await;
        let project = app.project_from(&owner, "links", &origin).await;
        let session = ready_session(&app, &owner, project.id, "links").await;

        let mut script = Vec::new();
        for link in ["dangling", "chain1", "up/planted.txt", "up"] {
            script.push(Reply::Parts(vec![tool("write_file", json!({"path": link, "content": "pwned"}))]));
            script.push(Reply::Parts(vec![tool("edit_file", json!({"path": link, "old_text": "outside", "new_text": "pwned"}))]));
            script.push(Reply::Parts(vec![tool("read_file", json!({"path": link}))]));
            script.push(Reply::Parts(vec![tool("search", json!({"pattern": "secret", "path": link}))]));
        }
        script.push(Reply::Parts(vec![tool("list_files", json!({}))]));
        script.push(Reply::Parts(vec![tool("search", json!({"pattern": "outside secret"}))]));
        script.push(Reply::Parts(vec![tool("delete_file", json!({"path": "chain2"}))]));
        script.push(Reply::Parts(vec![text("Tried.")]));
        app.model.script(script);
        owner.send_chat(&chat(&project, &session, "Follow the links")).await.unwrap();
        let run = finished(&owner, project.id, session.id).await;
        assert_eq!(run.status, RunStatus::Succeeded, "{:?}", run.error);

        assert!(!planted.exists(), "nothing was created through the dangling link");
        assert_eq!(std::fs::read_to_string(&secret).unwrap(), "outside secret\n", "the target is untouched");
        let blocks = crate::chat::assistant(&owner, project.id, session.id).await.blocks.unwrap();
        let outputs: Vec<(String, bool)> = blocks
            .iter()
            .filter_map(|b| match b {
                ContentBlock::ToolUse { name, output: Some(output), is_error, .. } => Some((format!("{name}: {output}"), *is_error)),
                _ => None,
            })
            .collect();
        assert!(outputs.iter().all(|(output, _)| !output.contains("outside secret")), "{outputs:#?}");
        assert_eq!(outputs.iter().take(16).filter(|(_, is_error)| *is_error).count(), 16, "every tool on a link out is refused: {outputs:#?}");
        let listing = &outputs[16].0;
        assert!(listing.contains("dangling (symlink)") && listing.contains("chain1 (symlink)"), "{listing}");
        assert!(!outputs[17].1 && outputs[17].0.contains("no matches"), "the search walks past links: {:?}", outputs[17]);
        assert!(!app.checkout_dir(&session).join("chain2").exists() && secret.exists(), "delete removes the link itself");

        let tree = owner.list_files(project.id, session.id).await.unwrap();
        let symlinks: Vec<&str> = tree.files.iter().filter(|f| f.is_symlink).map(|f| f.path.as_str()).collect();
        assert_eq!(symlinks, ["chain1", "dangling", "up"], "listed as symlinks");
        for link in ["dangling", "chain1", "up/etc/hostname"] {
            let refused = owner.get_file(project.id, session.id, link).await.unwrap_err();
            assert!(matches!(refused.status(), Some(400 | 404)), "{link}: {refused}");
        }
        let preview = owner.preview(project.id, session.id).await.unwrap();
        for link in ["chain1", "dangling", "up/etc/hostname"] {
            let answer = reqwest::get(app.url(&format!("{}{link}", preview.url))).await.unwrap();
            let status = answer.status().as_u16();
            let body = answer.text().await.unwrap();
            assert!(matches!(status, 400 | 404) && !body.contains("outside secret"), "{link}: {status} {body}");
        }
        let page = reqwest::get(app.url(&preview.url)).await.unwrap().text().await.unwrap();
        assert!(page.contains("<p>hi</p>"), "the preview still serves the checkout's own files: {page}");
    }
);
