//! Keeping sessions mergeable: a chat updated from its base branch by a merge or a rebase
//! (clean, conflicted then handed to the agent, conflicted then aborted; uncommitted files
//! survive each), and the conflict radar across a project's chats, which touches no checkout.

use crate::chat::{chat, finished, ready_session};
use crate::checkpoints::turn;
use crate::db_test;
use crate::harness::{TestApp, commit_on_main, spawn_app};
use api_types::*;
use client::Client;
use fakes::model::{Reply, text, tool};
use serde_json::json;
use std::path::{Path, PathBuf};

const README: &str = "# Shop\nline 2\nline 3\nline 4\nline 5\n";

async fn shop(app: &TestApp) -> (Client, Project, PathBuf) {
    let (owner, _) = app.user("ann").await;
    let origin = app.origin("shop", &[("README.md", README)], &[]);
    let project = app.project_from(&owner, "shop", &origin).await;
    (owner, project, origin)
}

/// A turn whose agent writes `path` with `content`.
async fn write_turn(
    app: &TestApp,
    owner: &Client,
    project: &Project,
    session: &ChatSession,
    path: &str,
    content: &str,
) {
    app.model.script([
        Reply::Parts(vec![tool("write_file", json!({"path": path, "content": content}))]),
        Reply::Parts(vec![text(&format!("Wrote {path}."))]),
    ]);
    owner.send_chat(&chat(project, session, &format!("write {path}"))).await.unwrap();
    let run = finished(owner, project.id, session.id).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{:?}", run.error);
}

fn readme_with(line: usize, to: &str) -> String {
    README.lines().enumerate().map(|(i, l)| if i + 1 == line { format!("{to}\n") } else { format!("{l}\n") }).collect()
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git").arg("-C").arg(dir).args(args).output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn origin_branch(origin: &Path, branch: &str) -> Option<String> {
    let repo = git2::Repository::open_bare(origin).unwrap();
    repo.refname_to_id(&format!("refs/heads/{branch}")).ok().map(|oid| oid.to_string())
}

fn update(strategy: UpdateStrategy) -> UpdateSessionRequest {
    UpdateSessionRequest { strategy: Some(strategy) }
}

db_test!(
    async fn a_clean_merge_and_a_clean_rebase_bring_the_bases_commits_in_and_push_them(backend) {
        let app = spawn_app(backend).await;
        let (owner, project, origin) = shop(&app).await;
        let session = ready_session(&app, &owner, project.id, "merge").await;
        assert_eq!(project.update_strategy, UpdateStrategy::Merge, "merge unless the project says");
        let up_to_date = owner.update_session(project.id, session.id, &UpdateSessionRequest::default()).await.unwrap();
        assert_eq!(up_to_date.outcome, UpdateOutcome::UpToDate);

        let first = turn(&app, &owner, &project, &session, "mine.txt").await;
        commit_on_main(&origin, "theirs.txt", "from main\n", "main moves on");
        let root = app.checkout_dir(&session);
        std::fs::write(root.join("draft.txt"), "not committed yet\n").unwrap();
        let merged = owner.update_session(project.id, session.id, &update(UpdateStrategy::Merge)).await.unwrap();
        assert_eq!(merged.outcome, UpdateOutcome::Updated);
        assert!(merged.pushed, "the project has a remote");
        assert_eq!(origin_branch(&origin, &session.github_branch_name).as_deref(), Some(merged.head_sha.as_str()));
        assert_eq!(git(&root, &["rev-list", "--parents", "-n1", "HEAD"]).split(' ').count(), 3, "one merge commit");
        for file in ["theirs.txt", "mine.txt", "draft.txt"] {
            assert!(root.join(file).exists(), "{file} is in the checkout");
        }
        assert_eq!(git(&root, &["status", "--porcelain"]), "", "the uncommitted file was committed first");
        let status = owner.get_branch_status(project.id, session.id).await.unwrap();
        assert_eq!(status.behind, 0, "{status:?}");

        // The project rebases by default now; the turn's commit follows its rebased copy.
        let put = UpdateProjectRequest { update_strategy: Some(UpdateStrategy::Rebase), ..Default::default() };
        assert_eq!(owner.update_project(project.id, &put).await.unwrap().update_strategy, UpdateStrategy::Rebase);
        let other = ready_session(&app, &owner, project.id, "rebase").await;
        let own = turn(&app, &owner, &project, &other, "own.txt").await;
        let tip = commit_on_main(&origin, "later.txt", "later\n", "main moves again");
        std::fs::write(app.checkout_dir(&other).join("draft.txt"), "kept across the rebase\n").unwrap();
        let rebased = owner.update_session(project.id, other.id, &UpdateSessionRequest::default()).await.unwrap();
        assert_eq!(rebased.outcome, UpdateOutcome::Updated);
        let other_root = app.checkout_dir(&other);
        assert_eq!(git(&other_root, &["rev-list", "--parents", "-n1", "HEAD"]).split(' ').count(), 2, "no merge commit");
        assert_eq!(git(&other_root, &["rev-parse", "HEAD~2"]), tip.to_string(), "its commits sit on main's tip");
        assert_eq!(std::fs::read_to_string(other_root.join("draft.txt")).unwrap(), "kept across the rebase\n");
        let messages = owner.list_messages(project.id, other.id, &MessageQuery::default()).await.unwrap().messages;
        let moved = messages.iter().find(|m| m.id == own.id).unwrap();
        let new_turn_commit = git(&other_root, &["rev-parse", "HEAD~1"]);
        assert_eq!(moved.commit_sha.as_deref(), Some(new_turn_commit.as_str()), "the turn points at its new commit");
        assert_ne!(moved.commit_sha, own.commit_sha);
        assert_eq!(origin_branch(&origin, &other.github_branch_name).as_deref(), Some(rebased.head_sha.as_str()));
        // The first chat's turn was not rewritten by the other's rebase.
        let kept = owner.list_messages(project.id, session.id, &MessageQuery::default()).await.unwrap().messages;
        assert_eq!(kept.iter().find(|m| m.id == first.id).unwrap().commit_sha, first.commit_sha);
    }
);

db_test!(
    async fn a_conflicted_merge_is_handed_to_the_agent_whose_turn_resolves_and_concludes_it(backend) {
        let app = spawn_app(backend).await;
        let (owner, project, origin) = shop(&app).await;
        let session = ready_session(&app, &owner, project.id, "conflict").await;
        write_turn(&app, &owner, &project, &session, "README.md", &readme_with(3, "line 3, the chat's")).await;
        commit_on_main(&origin, "README.md", &readme_with(3, "line 3, main's"), "main edits line 3");
        let root = app.checkout_dir(&session);
        std::fs::write(root.join("draft.txt"), "kept\n").unwrap();

        let stopped = owner.update_session(project.id, session.id, &update(UpdateStrategy::Merge)).await.unwrap();
        assert_eq!(stopped.outcome, UpdateOutcome::Conflicted);
        assert!(!stopped.pushed);
        let conflict = stopped.session.update_conflict.clone().expect("the session records the conflict");
        assert_eq!((conflict.paths, conflict.strategy), (vec!["README.md".to_owned()], UpdateStrategy::Merge));
        let marked = std::fs::read_to_string(root.join("README.md")).unwrap();
        assert!(marked.contains("<<<<<<< ") && marked.contains("main's") && marked.contains("the chat's"), "{marked}");
        assert!(root.join("draft.txt").exists());
        let diff = owner.get_diff(project.id, session.id).await.unwrap();
        let readme = diff.files.iter().find(|f| f.path == "README.md").expect("the conflicted file is a change");
        assert!(readme.hunks.iter().flat_map(|h| &h.lines).any(|l| l.text.starts_with("<<<<<<< ")), "{readme:?}");
        let listed = owner.get_chat_session(project.id, session.id).await.unwrap();
        assert!(listed.update_conflict.is_some(), "reads show it");
        let again = owner.update_session(project.id, session.id, &update(UpdateStrategy::Merge)).await.unwrap_err();
        assert_eq!(again.status(), Some(409));

        // Handed to the agent: its instructions name the file and show both sides; its turn
        // resolves the file, and the turn's commit is the merge.
        let resolved = readme_with(3, "line 3, both");
        write_turn(&app, &owner, &project, &session, "README.md", &resolved).await;
        let sent = app.model.requests().iter().map(|r| r.to_string()).find(|r| r.contains("<merge_conflicts>"));
        let sent = sent.expect("the agent was told of the conflicts");
        for expected in ["README.md", "main's", "the chat's", "<<<<<<< "] {
            assert!(sent.contains(expected), "the instructions have {expected}: {sent}");
        }
        let session = owner.get_chat_session(project.id, session.id).await.unwrap();
        assert_eq!(session.update_conflict, None, "concluded");
        assert_eq!(git(&root, &["rev-list", "--parents", "-n1", "HEAD"]).split(' ').count(), 3, "the merge commit");
        assert_eq!(std::fs::read_to_string(root.join("README.md")).unwrap(), resolved);
        assert_eq!(git(&root, &["status", "--porcelain"]), "");
        let status = owner.get_branch_status(project.id, session.id).await.unwrap();
        assert_eq!(status.behind, 0, "main is merged in: {status:?}");
        let radar = owner.get_conflicts(project.id).await.unwrap();
        assert!(radar.base.is_empty(), "it merges into main now: {radar:?}");
    }
);

db_test!(
    async fn a_conflicted_update_aborted_puts_back_the_head_with_the_uncommitted_work(backend) {
        let app = spawn_app(backend).await;
        let (owner, project, origin) = shop(&app).await;
        let session = ready_session(&app, &owner, project.id, "abort").await;
        write_turn(&app, &owner, &project, &session, "README.md", &readme_with(2, "line 2, the chat's")).await;
        commit_on_main(&origin, "README.md", &readme_with(2, "line 2, main's"), "main edits line 2");
        let root = app.checkout_dir(&session);
        std::fs::write(root.join("draft.txt"), "kept\n").unwrap();

        for strategy in [UpdateStrategy::Merge, UpdateStrategy::Rebase] {
            let stopped = owner.update_session(project.id, session.id, &update(strategy)).await.unwrap();
            assert_eq!(stopped.outcome, UpdateOutcome::Conflicted, "{strategy:?}");
            let head_before = stopped.head_sha.clone();
            let aborted = owner.abort_update(project.id, session.id).await.unwrap();
            assert_eq!(aborted.update_conflict, None);
            assert_eq!(git(&root, &["rev-parse", "HEAD"]), head_before, "{strategy:?}: back at the head before");
            assert_eq!(git(&root, &["status", "--porcelain"]), "", "{strategy:?}: the checkout is clean");
            assert_eq!(std::fs::read_to_string(root.join("draft.txt")).unwrap(), "kept\n");
            assert!(std::fs::read_to_string(root.join("README.md")).unwrap().contains("the chat's"));
        }
        let nothing = owner.abort_update(project.id, session.id).await.unwrap_err();
        assert_eq!(nothing.status(), Some(409), "nothing left to abort");
    }
);

/// Every file's modification time and the status of a checkout.
fn snapshot(root: &Path) -> (Vec<(PathBuf, std::time::SystemTime)>, String) {
    let mut times = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            if entry.file_name() == ".git" {
                continue;
            }
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                dirs.push(entry.path());
            } else {
                times.push((entry.path(), meta.modified().unwrap()));
            }
        }
    }
    times.sort();
    (times, git(root, &["status", "--porcelain"]))
}

db_test!(
    async fn the_radar_finds_the_pair_editing_the_same_lines_and_the_chat_the_base_moved_under(backend) {
        let app = spawn_app(backend).await;
        let (owner, project, origin) = shop(&app).await;
        let a = ready_session(&app, &owner, project.id, "A").await;
        let b = ready_session(&app, &owner, project.id, "B").await;
        let c = ready_session(&app, &owner, project.id, "C").await;
        let both = readme_with(2, "line 2, A's");
        write_turn(&app, &owner, &project, &a, "README.md", &both.replace("line 4\n", "line 4, A's\n")).await;
        let b_first = turn(&app, &owner, &project, &b, "b-own.txt").await;
        write_turn(&app, &owner, &project, &b, "README.md", &readme_with(2, "line 2, B's")).await;
        write_turn(&app, &owner, &project, &c, "other.txt", "C's own\n").await;
        let roots = [&a, &b, &c].map(|s| app.checkout_dir(s));
        let before: Vec<_> = roots.iter().map(|r| snapshot(r)).collect();

        let radar = owner.get_conflicts(project.id).await.unwrap();
        let (lo, hi) = if a.id.0 < b.id.0 { (a.id, b.id) } else { (b.id, a.id) };
        assert_eq!(radar.pairs, [PairConflict { a: lo, b: hi, paths: vec!["README.md".into()] }], "only A×B");
        assert!(radar.base.is_empty(), "all merge into main: {radar:?}");
        let after: Vec<_> = roots.iter().map(|r| snapshot(r)).collect();
        assert_eq!(before, after, "no checkout was touched");

        // Main edits line 4, which only A changed; the next fetch (a new chat's, deleted again
        // since it starts at main's tip) brings it.
        commit_on_main(&origin, "README.md", &readme_with(4, "line 4, main's"), "main edits line 4");
        let d = ready_session(&app, &owner, project.id, "D").await;
        owner.delete_chat_session(project.id, d.id).await.unwrap();
        let radar = owner.get_conflicts(project.id).await.unwrap();
        assert_eq!(radar.base, [BaseConflict { chat_session_id: a.id, paths: vec!["README.md".into()] }]);

        // B goes back to its first turn: the pair is clean.
        owner.revert(project.id, b.id, b_first.id).await.unwrap();
        let radar = owner.get_conflicts(project.id).await.unwrap();
        assert!(radar.pairs.is_empty(), "{radar:?}");
        assert_eq!(radar.base.len(), 1);

        // Another user sees none of these chats.
        let (stranger, _) = app.user("bob").await;
        assert_eq!(stranger.get_conflicts(project.id).await.unwrap_err().status(), Some(404));
    }
);
