//! Isolated session checkouts through the API, with a real bare repository as origin: isolation,
//! concurrency, archive/unarchive, delete, the start-up sweep, default branches, duplication.

use crate::db_test;
use crate::harness::{TestApp, insert_message, spawn_app};
use api_types::*;
use checkout::{Author, Checkout, Mirror};
use client::Client;
use std::collections::HashSet;
use std::path::Path;

fn new_session(title: &str) -> CreateChatSessionRequest {
    CreateChatSessionRequest { title: title.to_owned(), description: None, base_branch: None }
}

async fn ready_session(app: &TestApp, client: &Client, project: ProjectId, title: &str) -> ChatSession {
    let session = client.create_chat_session(project, &new_session(title)).await.unwrap();
    assert_eq!(session.workspace_state, WorkspaceState::Provisioning);
    let session = app.ready_session(client, &session).await;
    assert_eq!(session.workspace_state, WorkspaceState::Ready, "{:?}", session.workspace_error);
    session
}

/// What an agent turn does: commit everything in the checkout, push the branch.
async fn commit_and_push(app: &TestApp, session: &ChatSession, message: impl Into<String>) {
    let dir = app.checkout_dir(session);
    let mirror = dir.parent().unwrap().parent().unwrap().join("mirror.git");
    let (branch, message) = (session.github_branch_name.clone(), message.into());
    tokio::task::spawn_blocking(move || {
        let author = Author { name: "Ann".into(), email: "ann@example.test".into() };
        Checkout::open(&dir)?.commit_all(&message, &author)?;
        Mirror::open(&mirror)?.push_branch(&branch, None)
    })
    .await
    .unwrap()
    .unwrap();
}

/// (summary of each commit on the origin's branch, newest first), or None when it has no such branch.
fn origin_commits(origin: &Path, branch: &str) -> Option<Vec<String>> {
    let repo = git2::Repository::open_bare(origin).unwrap();
    let head = repo.refname_to_id(&format!("refs/heads/{branch}")).ok()?;
    let mut walk = repo.revwalk().unwrap();
    walk.push(head).unwrap();
    Some(walk.map(|oid| repo.find_commit(oid.unwrap()).unwrap().summary().unwrap().unwrap().to_owned()).collect())
}

fn paths(tree: &FileTree) -> HashSet<String> {
    tree.files.iter().map(|f| f.path.clone()).collect()
}

db_test!(
    async fn a_file_written_in_one_session_is_absent_from_another_and_from_the_mirror(backend) {
        let app = spawn_app(backend).await;
        let (owner, _) = app.user("ann").await;
        let origin = app.origin("shop", &[("README.md", "# shop\n")], &[]);
        let project = app.project_from(&owner, "shop", &origin).await;
        let a = ready_session(&app, &owner, project.id, "A").await;
        let b = ready_session(&app, &owner, project.id, "B").await;
        assert_ne!(app.checkout_dir(&a), app.checkout_dir(&b));
        std::fs::write(app.checkout_dir(&a).join("only-a.txt"), "from A\n").unwrap();

        let files_a = paths(&owner.list_files(project.id, a.id).await.unwrap());
        let files_b = paths(&owner.list_files(project.id, b.id).await.unwrap());
        assert!(files_a.contains("only-a.txt") && files_a.contains("README.md"));
        assert!(!files_b.contains("only-a.txt"), "B does not see A's file");
        let mirror = app.data_dir.path().join(format!("projects/{}/mirror.git", project.id));
        assert!(mirror.is_dir() && !mirror.join("only-a.txt").exists());
        let diff_a = owner.get_diff(project.id, a.id).await.unwrap();
        assert!(diff_a.patch.contains("+from A") && diff_a.files_changed == 1, "{}", diff_a.patch);
        assert_eq!(owner.get_diff(project.id, b.id).await.unwrap().files_changed, 0);
        let status = owner.get_branch_status(project.id, a.id).await.unwrap();
        assert_eq!((status.ahead, status.dirty, status.pushed), (0, true, false));
        assert_eq!(status.branch, a.github_branch_name);

        commit_and_push(&app, &a, "Add only-a").await;
        commit_and_push(&app, &b, "Nothing to add").await;
        assert_eq!(origin_commits(&origin, &a.github_branch_name).unwrap(), ["Add only-a", "first"]);
        assert_eq!(origin_commits(&origin, &b.github_branch_name).unwrap(), ["first"], "B pushed no commit of A's");
        assert_eq!(origin_commits(&origin, "main").unwrap(), ["first"]);
        let status = owner.get_branch_status(project.id, a.id).await.unwrap();
        assert_eq!((status.ahead, status.dirty, status.pushed), (1, false, true));
    }
);

db_test!(
    async fn twenty_concurrent_sessions_commit_and_push_without_lock_errors(backend) {
        let app = spawn_app(backend).await;
        let (owner, _) = app.user("ann").await;
        let origin = app.origin("busy", &[("README.md", "# busy\n")], &[]);
        let project = app.project_from(&owner, "busy", &origin).await;
        let creations = (0..20).map(|n| {
            let owner = owner.clone();
            tokio::spawn(async move { owner.create_chat_session(project.id, &new_session(&format!("s{n}"))).await })
        });
        let mut sessions = Vec::new();
        for created in futures_util::future::join_all(creations).await {
            let session = created.unwrap().expect("every creation succeeds");
            sessions.push(app.ready_session(&owner, &session).await);
        }
        assert!(sessions.iter().all(|s| s.workspace_state == WorkspaceState::Ready), "{sessions:?}");
        for (n, session) in sessions.iter().enumerate() {
            std::fs::write(app.checkout_dir(session).join(format!("file-{n}.txt")), format!("{n}\n")).unwrap();
        }
        let pushes = sessions.iter().enumerate().map(|(n, s)| commit_and_push(&app, s, format!("commit {n}")));
        futures_util::future::join_all(pushes).await;

        let repo = git2::Repository::open_bare(&origin).unwrap();
        for (n, session) in sessions.iter().enumerate() {
            assert_eq!(origin_commits(&origin, &session.github_branch_name).unwrap(), [format!("commit {n}"), "first".into()]);
            let tree = repo.find_commit(repo.refname_to_id(&format!("refs/heads/{}", session.github_branch_name)).unwrap()).unwrap().tree().unwrap();
            let names: Vec<String> = tree.iter().map(|e| e.name().unwrap().to_owned()).collect();
            assert_eq!(names, ["README.md".to_owned(), format!("file-{n}.txt")]);
        }
        let project_dir = app.data_dir.path().join(format!("projects/{}", project.id));
        let dirs = std::fs::read_dir(project_dir.join("sessions")).unwrap().count();
        assert_eq!(dirs, 20, "one directory per session, no orphans");
        let mirror = git2::Repository::open_bare(project_dir.join("mirror.git")).unwrap();
        let local: HashSet<String> = mirror
            .branches(Some(git2::BranchType::Local))
            .unwrap()
            .map(|b| b.unwrap().0.name().unwrap().unwrap().to_owned())
            .collect();
        let expected: HashSet<String> = sessions.iter().map(|s| s.github_branch_name.clone()).collect();
        assert_eq!(local, expected, "no orphan branch");
    }
);

db_test!(
    async fn archiving_keeps_uncommitted_work_and_deleting_removes_checkout_and_branch(backend) {
        let app = spawn_app(backend).await;
        let (owner, _) = app.user("ann").await;
        let origin = app.origin("life", &[("README.md", "# life\n")], &[]);
        let project = app.project_from(&owner, "life", &origin).await;
        let keep = ready_session(&app, &owner, project.id, "keep").await;
        let a = ready_session(&app, &owner, project.id, "archive me").await;
        std::fs::write(app.checkout_dir(&a).join("draft.txt"), "unsaved idea\n").unwrap();
        let archived = owner
            .update_chat_session(project.id, a.id, &UpdateChatSessionRequest { status: Some(ChatSessionStatus::Archived), ..Default::default() })
            .await
            .unwrap();
        assert_eq!((archived.status, archived.workspace_state), (ChatSessionStatus::Archived, WorkspaceState::Released));
        assert!(!app.checkout_dir(&a).exists(), "the checkout is released");
        let err = owner.list_files(project.id, a.id).await.unwrap_err();
        assert_eq!((err.status(), err.code()), (Some(409), Some(ErrorCode::WorkspaceNotReady)));
        let status = owner.get_branch_status(project.id, a.id).await.unwrap();
        assert_eq!((status.ahead, status.dirty), (1, false), "the draft was committed on the branch");

        let back = owner
            .update_chat_session(project.id, a.id, &UpdateChatSessionRequest { status: Some(ChatSessionStatus::Active), ..Default::default() })
            .await
            .unwrap();
        assert_eq!(back.workspace_state, WorkspaceState::Ready);
        let draft = owner.get_file(project.id, a.id, "draft.txt").await.unwrap();
        assert_eq!(draft.content.as_deref(), Some("unsaved idea\n"));

        commit_and_push(&app, &keep, "pushed").await;
        commit_and_push(&app, &a, "pushed").await;
        owner.delete_chat_session(project.id, a.id).await.unwrap();
        assert!(!app.checkout_dir(&a).exists());
        let mirror = git2::Repository::open_bare(app.data_dir.path().join(format!("projects/{}/mirror.git", project.id))).unwrap();
        assert!(mirror.find_branch(&a.github_branch_name, git2::BranchType::Local).is_err(), "local branch deleted");
        assert!(mirror.find_worktree(&a.session_id).is_err(), "worktree registration removed");
        assert!(origin_commits(&origin, &a.github_branch_name).is_some(), "the remote branch stays by default");

        // `keep` is the project's default session; make another to delete with its remote branch.
        let c = ready_session(&app, &owner, project.id, "gone everywhere").await;
        commit_and_push(&app, &c, "pushed").await;
        owner.delete_chat_session_everywhere(project.id, c.id).await.unwrap();
        assert!(origin_commits(&origin, &c.github_branch_name).is_none(), "the remote branch is deleted when asked");
        assert!(app.checkout_dir(&keep).exists());
    }
);

db_test!(
    async fn a_restart_removes_stray_checkouts_and_remakes_missing_ones_on_demand(backend) {
        let mut app = spawn_app(backend).await;
        let (owner, _) = app.user("ann").await;
        let origin = app.origin("sweep", &[("README.md", "# sweep\n")], &[]);
        let project = app.project_from(&owner, "sweep", &origin).await;
        let a = ready_session(&app, &owner, project.id, "A").await;
        let b = ready_session(&app, &owner, project.id, "B").await;
        std::fs::write(app.checkout_dir(&b).join("work.txt"), "saved\n").unwrap();
        commit_and_push(&app, &b, "work").await;
        let stray = app.checkout_dir(&a).parent().unwrap().join("strayzzzzzzzzzzzzzzz");
        std::fs::create_dir_all(&stray).unwrap();
        std::fs::write(stray.join("junk.txt"), "junk").unwrap();
        std::fs::remove_dir_all(app.checkout_dir(&b)).unwrap();

        app.restart().await;
        let owner = app.client();
        owner.login(&LoginRequest { email: "ann@example.test".into(), password: "ann-password".into() }).await.unwrap();
        assert!(!stray.exists(), "the stray directory is removed");
        assert!(app.checkout_dir(&a).exists(), "a healthy checkout is left alone");
        let b_now = owner.get_chat_session(project.id, b.id).await.unwrap();
        assert_eq!(b_now.workspace_state, WorkspaceState::Released, "the missing checkout is noted");
        let work = owner.get_file(project.id, b.id, "work.txt").await.unwrap();
        assert_eq!(work.content.as_deref(), Some("saved\n"), "and made again on demand");
        assert_eq!(owner.get_chat_session(project.id, b.id).await.unwrap().workspace_state, WorkspaceState::Ready);
    }
);

db_test!(
    async fn new_sessions_start_from_the_default_branch_in_force(backend) {
        let app = spawn_app(backend).await;
        let (owner, _) = app.user("ann").await;
        let origin = app.origin("branches", &[("README.md", "# b\n")], &["develop"]);
        let project = app.project_from(&owner, "branches", &origin).await;
        let listed = owner.list_branches(project.id).await.unwrap();
        let names: Vec<(&str, bool)> = listed.branches.iter().map(|b| (b.name.as_str(), b.is_default)).collect();
        assert_eq!(names, [("develop", false), ("main", true)]);

        let on_main = ready_session(&app, &owner, project.id, "on main").await;
        owner.set_default_branch(project.id, &UpdateDefaultBranchRequest { default_branch: "develop".into() }).await.unwrap();
        let on_develop = ready_session(&app, &owner, project.id, "on develop").await;
        assert_eq!(on_develop.base_branch.as_deref(), Some("develop"));
        let develop_sha = git2::Repository::open_bare(&origin).unwrap().refname_to_id("refs/heads/develop").unwrap().to_string();
        let status = owner.get_branch_status(project.id, on_develop.id).await.unwrap();
        assert_eq!((status.head_sha.as_str(), status.base_branch.as_str(), status.ahead, status.behind), (develop_sha.as_str(), "develop", 0, 0));
        assert!(paths(&owner.list_files(project.id, on_develop.id).await.unwrap()).contains("BRANCH.txt"));
        assert!(!paths(&owner.list_files(project.id, on_main.id).await.unwrap()).contains("BRANCH.txt"));

        let listed = owner.list_branches(project.id).await.unwrap();
        assert!(listed.branches.iter().all(|b| !b.name.starts_with("kosuke-chat-")), "session branches are hidden");
        let missing = owner
            .create_chat_session(project.id, &CreateChatSessionRequest { title: "x".into(), description: None, base_branch: Some("nope".into()) })
            .await
            .unwrap_err();
        assert_eq!((missing.status(), missing.code()), (Some(422), Some(ErrorCode::ValidationFailed)));
    }
);

db_test!(
    async fn duplicating_starts_from_the_source_head_with_its_messages(backend) {
        let app = spawn_app(backend).await;
        let (owner, user) = app.user("ann").await;
        let origin = app.origin("dup", &[("README.md", "# dup\n")], &[]);
        let project = app.project_from(&owner, "dup", &origin).await;
        let source = ready_session(&app, &owner, project.id, "Feature").await;
        std::fs::write(app.checkout_dir(&source).join("feature.txt"), "half done\n").unwrap();
        let db = app.database.connect().await;
        for n in 0..3 {
            insert_message(&db, &source, &user, MessageRole::User, format!("turn {n}")).await;
        }
        let copy = owner.duplicate_chat_session(project.id, source.id, &DuplicateChatSessionRequest::default()).await.unwrap();
        assert_eq!(copy.title, "Copy of Feature");
        assert_ne!(copy.github_branch_name, source.github_branch_name);
        assert_eq!(copy.message_count, 3);
        let copy = app.ready_session(&owner, &copy).await;
        let file = owner.get_file(project.id, copy.id, "feature.txt").await.unwrap();
        assert_eq!(file.content.as_deref(), Some("half done\n"));
        let source_head = owner.get_branch_status(project.id, source.id).await.unwrap().head_sha;
        assert_eq!(owner.get_branch_status(project.id, copy.id).await.unwrap().head_sha, source_head);
        let messages = owner.list_messages(project.id, copy.id, &MessageQuery::default()).await.unwrap();
        let texts: Vec<&str> = messages.messages.iter().map(|m| m.content.as_str()).collect();
        assert_eq!(texts, ["turn 0", "turn 1", "turn 2"]);
    }
);

db_test!(
    async fn an_unreachable_remote_still_gives_a_session_and_says_so(backend) {
        let app = spawn_app(backend).await;
        let (owner, _) = app.user("ann").await;
        let origin = app.origin("flaky", &[("README.md", "# flaky\n")], &[]);
        let project = app.project_from(&owner, "flaky", &origin).await;
        std::fs::rename(&origin, origin.with_extension("gone")).unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let session = owner.create_chat_session(project.id, &new_session("offline")).await.unwrap();
        let notice = session.notice.clone().expect("the response says the mirror's last state is used");
        assert!(notice.contains("last fetched state"), "{notice}");
        assert_eq!(app.ready_session(&owner, &session).await.workspace_state, WorkspaceState::Ready);
    }
);

db_test!(
    async fn file_reads_are_confined_and_describe_what_they_cannot_show(backend) {
        let app = spawn_app(backend).await;
        let (owner, _) = app.user("ann").await;
        let origin = app.origin("files", &[("README.md", "# files\n")], &[]);
        let project = app.project_from(&owner, "files", &origin).await;
        let session = ready_session(&app, &owner, project.id, "files").await;
        std::fs::write(app.checkout_dir(&session).join("logo.png"), [0x89u8, b'P', b'N', b'G', 0, 0, 1]).unwrap();
        let binary = owner.get_file(project.id, session.id, "logo.png").await.unwrap();
        assert!(binary.is_binary && binary.content.is_none());
        let missing = owner.get_file(project.id, session.id, "nope.txt").await.unwrap_err();
        assert_eq!(missing.status(), Some(404));
        let http = reqwest::Client::new();
        let token = owner.create_api_token(&CreateApiTokenRequest { name: "t".into() }).await.unwrap().token;
        for bad in ["..%2F..%2Fkosuke.db", ".git/config", "%2Fetc%2Fpasswd"] {
            let url = app.url(&format!("/api/projects/{}/chat-sessions/{}/files/{bad}", project.id, session.id));
            let response = http.get(url).bearer_auth(&token).send().await.unwrap();
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.unwrap();
            assert_eq!((status, body["code"].as_str()), (400, Some("invalid_path")), "{bad}");
        }
    }
);

db_test!(
    async fn the_sidebar_gets_every_chats_branch_status_at_once(backend) {
        let app = spawn_app(backend).await;
        let (owner, _) = app.user("ann").await;
        let (other_user, _) = app.user("bob").await;
        let origin = app.origin("statuses", &[("README.md", "# s\n")], &[]);
        let project = app.project_from(&owner, "statuses", &origin).await;
        owner.add_member(project.id, &AddMemberRequest { email: "bob@example.test".into(), role: None }).await.unwrap();
        let a = ready_session(&app, &owner, project.id, "A").await;
        let b = ready_session(&app, &owner, project.id, "B").await;
        let bobs = ready_session(&app, &other_user, project.id, "Bob's").await;
        std::fs::write(app.checkout_dir(&a).join("a.txt"), "a").unwrap();
        commit_and_push(&app, &a, "work on A").await;
        let list = owner.branch_statuses(project.id, &[a.id, b.id, bobs.id]).await.unwrap();
        let got: Vec<(ChatSessionPk, u64, bool)> = list.statuses.iter().map(|s| (s.chat_session_id, s.ahead, s.pushed)).collect();
        assert_eq!(got, [(a.id, 1, true), (b.id, 0, false)], "another user's chat is left out");
        let too_many: Vec<ChatSessionPk> = (1..=101).map(ChatSessionPk).collect();
        assert_eq!(owner.branch_statuses(project.id, &too_many).await.unwrap_err().status(), Some(400));
    }
);

/// Waits until the project's spare checkout is ready at `commit`.
async fn spare_ready_at(app: &TestApp, project: ProjectId, commit: git2::Oid) -> std::path::PathBuf {
    let dir = app.data_dir.path().join("projects").join(project.to_string());
    let (mirror, spare) = (dir.join("mirror.git"), dir.join("spare"));
    for _ in 0..400 {
        if Mirror::open(&mirror).unwrap().spare_at(&spare) == Some(commit) {
            return spare;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("no spare checkout at {commit}");
}

fn inode(path: &Path) -> u64 {
    std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(path).unwrap())
}

db_test!(
    async fn a_new_session_adopts_the_spare_checkout_unless_the_remote_moved(backend) {
        let app = spawn_app(backend).await;
        let (owner, _) = app.user("ann").await;
        let origin = app.origin("spare", &[("README.md", "# spare\n")], &[]);
        let project = app.project_from(&owner, "spare", &origin).await;
        let repo = git2::Repository::open_bare(&origin).unwrap();
        let first = repo.refname_to_id("refs/heads/main").unwrap();
        let spare = spare_ready_at(&app, project.id, first).await;
        let spare_readme = inode(&spare.join("README.md"));

        // The first session takes the spare's files as they are; a new spare is made behind it.
        let a = ready_session(&app, &owner, project.id, "A").await;
        assert_eq!(inode(&app.checkout_dir(&a).join("README.md")), spare_readme, "the spare was adopted");
        assert_eq!(owner.get_branch_status(project.id, a.id).await.unwrap().head_sha, first.to_string());
        let spare = spare_ready_at(&app, project.id, first).await;
        assert_ne!(inode(&spare.join("README.md")), spare_readme);

        // The remote moves on: the next session starts from the new tip, not the older spare.
        let second = crate::harness::commit_on_main(&origin, "NEWS.md", "moved on\n", "news");
        let b = ready_session(&app, &owner, project.id, "B").await;
        assert_eq!(owner.get_branch_status(project.id, b.id).await.unwrap().head_sha, second.to_string());
        assert!(paths(&owner.list_files(project.id, b.id).await.unwrap()).contains("NEWS.md"));
        assert!(!paths(&owner.list_files(project.id, a.id).await.unwrap()).contains("NEWS.md"));
        spare_ready_at(&app, project.id, second).await;

        // The adopted checkout works like any other: a commit pushes the session's branch only.
        std::fs::write(app.checkout_dir(&a).join("a.txt"), "from A\n").unwrap();
        commit_and_push(&app, &a, "A's turn").await;
        assert_eq!(origin_commits(&origin, &a.github_branch_name).unwrap(), ["A's turn", "first"]);
        assert_eq!(origin_commits(&origin, "main").unwrap(), ["news", "first"]);
    }
);

db_test!(
    async fn without_spare_checkouts_none_is_made(backend) {
        let app = crate::harness::spawn_app_with(backend, |settings| settings.spare_checkouts = false).await;
        let (owner, _) = app.user("ann").await;
        let origin = app.origin("nospare", &[("README.md", "# no spare\n")], &[]);
        let project = app.project_from(&owner, "nospare", &origin).await;
        let session = ready_session(&app, &owner, project.id, "A").await;
        assert!(app.checkout_dir(&session).join("README.md").exists());
        // Once the background work (where a spare would be made) is done.
        app.state().workspaces.settled().await;
        let project_dir = app.data_dir.path().join("projects").join(project.id.to_string());
        assert!(!project_dir.join("spare").exists());
    }
);

db_test!(
    async fn a_create_answers_while_another_sessions_checkout_is_being_written(backend) {
        let app = crate::harness::spawn_app_with(backend, |settings| settings.spare_checkouts = false).await;
        let (owner, _) = app.user("ann").await;
        let files = [("README.md", "# gated\n"), (".gitattributes", "*.txt filter=gate\n"), ("big.txt", "held\n")];
        let origin = app.origin("gated", &files, &[]);
        let project = app.project_from(&owner, "gated", &origin).await;
        // A smudge filter that holds the checkout of big.txt until the test opens the gate: a
        // slow checkout, made observable.
        let gate = tempfile::TempDir::new().unwrap();
        let (started, open) = (gate.path().join("started"), gate.path().join("open"));
        /// Opens the gate however the test ends, so no filter is left waiting.
        struct Opens(std::path::PathBuf);
        impl Drop for Opens {
            fn drop(&mut self) {
                let _ = std::fs::write(&self.0, "");
            }
        }
        let _opens = Opens(open.clone());
        let filter = format!(
            "sh -c 'touch {}; while [ ! -e {} ]; do sleep 0.05; done; cat'",
            started.display(),
            open.display()
        );
        let mirror = app.data_dir.path().join(format!("projects/{}/mirror.git", project.id));
        git2::Repository::open_bare(&mirror).unwrap().config().unwrap().set_str("filter.gate.smudge", &filter).unwrap();
        let create = |title: &str| CreateChatSessionRequest { title: title.into(), description: None, base_branch: None };
        let a = owner.create_chat_session(project.id, &create("A")).await.unwrap();
        for _ in 0..400 {
            if started.exists() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        assert!(started.exists(), "A's checkout reached big.txt");
        // B is created while A's files are being written (the bound only keeps a failure from
        // hanging the run: the old code waited until the gate opened).
        let b = tokio::time::timeout(std::time::Duration::from_secs(20), owner.create_chat_session(project.id, &create("B")))
            .await
            .expect("B's create answered while A's checkout was held")
            .unwrap();
        let a_now = owner.get_chat_session(project.id, a.id).await.unwrap();
        assert_eq!(a_now.workspace_state, WorkspaceState::Provisioning, "A's checkout was still being written");
        std::fs::write(&open, "").unwrap();
        let a = app.ready_session(&owner, &a).await;
        let b = app.ready_session(&owner, &b).await;
        for session in [&a, &b] {
            assert_eq!(std::fs::read_to_string(app.checkout_dir(session).join("big.txt")).unwrap(), "held\n");
        }
    }
);
