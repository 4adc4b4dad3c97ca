//! The checkout crate against real repositories in temp dirs, with a bare repo as origin.

#![allow(clippy::unwrap_used)]

use checkout::{Author, Checkout, CheckoutError, FetchOutcome, Mirror, ProjectDir, StartPoint};
use git2::{Repository, Signature};
use std::path::Path;
use tempfile::TempDir;

fn author() -> Author {
    Author { name: "Ann".into(), email: "ann@example.test".into() }
}

/// A bare "origin" with `main` holding the given files, and `develop` one commit further.
fn origin(dir: &Path, files: &[(&str, &str)]) {
    let repo = Repository::init_bare(dir).unwrap();
    let signature = Signature::now("Origin", "origin@example.test").unwrap();
    let mut builder = repo.treebuilder(None).unwrap();
    for (name, content) in files {
        let blob = repo.blob(content.as_bytes()).unwrap();
        builder.insert(name, blob, 0o100644).unwrap();
    }
    let tree = repo.find_tree(builder.write().unwrap()).unwrap();
    let main = repo.commit(Some("refs/heads/main"), &signature, &signature, "first", &tree, &[]).unwrap();
    let parent = repo.find_commit(main).unwrap();
    repo.commit(Some("refs/heads/develop"), &signature, &signature, "develop work", &tree, &[&parent]).unwrap();
    repo.set_head("refs/heads/main").unwrap();
}

struct Fixture {
    _tmp: TempDir,
    origin_dir: std::path::PathBuf,
    project: ProjectDir,
    mirror: Mirror,
}

fn fixture() -> Fixture {
    let tmp = TempDir::new().unwrap();
    let origin_dir = tmp.path().join("origin.git");
    origin(&origin_dir, &[("README.md", "# app\n"), ("src.txt", "one\n")]);
    let project = ProjectDir::new(tmp.path().join("projects/1"));
    let (mirror, default_branch) =
        Mirror::clone_from(&project.mirror(), origin_dir.to_str().unwrap(), None, &mut |_| {}).unwrap();
    assert_eq!(default_branch.as_deref(), Some("main"));
    Fixture { _tmp: tmp, origin_dir, project, mirror }
}

fn origin_branch_commits(origin_dir: &Path, branch: &str) -> Vec<String> {
    let repo = Repository::open_bare(origin_dir).unwrap();
    let mut walk = repo.revwalk().unwrap();
    walk.push(repo.refname_to_id(&format!("refs/heads/{branch}")).unwrap()).unwrap();
    walk.map(|oid| repo.find_commit(oid.unwrap()).unwrap().summary().unwrap().unwrap().to_owned()).collect()
}

#[test]
fn sessions_are_isolated_and_push_only_their_own_commits() {
    let f = fixture();
    let a = f
        .mirror
        .create_checkout("a1", "kosuke-chat-a1", StartPoint::Branch("main"), &f.project.checkout("a1"))
        .unwrap();
    let b = f
        .mirror
        .create_checkout("b2", "kosuke-chat-b2", StartPoint::Branch("main"), &f.project.checkout("b2"))
        .unwrap();
    std::fs::write(a.root().join("only-a.txt"), "from A\n").unwrap();
    std::fs::write(b.root().join("src.txt"), "changed by B\n").unwrap();
    assert!(!b.root().join("only-a.txt").exists(), "B does not see A's file");
    assert!(!f.project.mirror().join("only-a.txt").exists(), "the mirror has no working files");
    assert_eq!(std::fs::read_to_string(a.root().join("src.txt")).unwrap(), "one\n", "A does not see B's edit");

    a.commit_all("Add a file", &author()).unwrap().unwrap();
    b.commit_all("Change src", &author()).unwrap().unwrap();
    assert_eq!(a.commit_all("nothing", &author()).unwrap(), None, "a clean checkout makes no commit");
    f.mirror.push_branch("kosuke-chat-a1", None).unwrap();
    f.mirror.push_branch("kosuke-chat-b2", None).unwrap();
    assert_eq!(origin_branch_commits(&f.origin_dir, "kosuke-chat-a1"), ["Add a file", "first"]);
    assert_eq!(origin_branch_commits(&f.origin_dir, "kosuke-chat-b2"), ["Change src", "first"]);
    assert_eq!(origin_branch_commits(&f.origin_dir, "main"), ["first"], "main untouched");

    let status = f.mirror.branch_status("kosuke-chat-a1", "main").unwrap();
    assert_eq!((status.ahead, status.behind, status.pushed), (1, 0, true));
    std::fs::write(a.root().join("more.txt"), "x").unwrap();
    assert!(a.is_dirty().unwrap());
    a.commit_all("More", &author()).unwrap();
    assert!(!f.mirror.branch_status("kosuke-chat-a1", "main").unwrap().pushed, "a new commit is not pushed yet");
    let behind = f.mirror.branch_status("kosuke-chat-a1", "develop").unwrap();
    assert_eq!((behind.ahead, behind.behind), (2, 1));
    let commits = f.mirror.commits_ahead("kosuke-chat-a1", "main").unwrap();
    assert_eq!(commits.iter().map(|(_, s)| s.as_str()).collect::<Vec<_>>(), ["More", "Add a file"]);
}

#[test]
fn twenty_checkouts_commit_and_push_concurrently_without_lock_errors() {
    let f = fixture();
    let mirror_path = f.project.mirror();
    let handles: Vec<_> = (0..20)
        .map(|n| {
            let mirror_path = mirror_path.clone();
            let dir = f.project.checkout(&format!("s{n}"));
            std::thread::spawn(move || -> Result<(), CheckoutError> {
                let mirror = Mirror::open(&mirror_path)?;
                let checkout = mirror.create_checkout(
                    &format!("s{n}"),
                    &format!("kosuke-chat-s{n}"),
                    StartPoint::Branch("main"),
                    &dir,
                )?;
                std::fs::write(checkout.root().join(format!("file-{n}.txt")), format!("{n}\n"))?;
                checkout.commit_all(&format!("commit {n}"), &author())?;
                mirror.push_branch(&format!("kosuke-chat-s{n}"), None)
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap().unwrap();
    }
    let origin = Repository::open_bare(&f.origin_dir).unwrap();
    for n in 0..20 {
        assert_eq!(
            origin_branch_commits(&f.origin_dir, &format!("kosuke-chat-s{n}")),
            [format!("commit {n}"), "first".into()]
        );
        let tree = origin
            .find_commit(origin.refname_to_id(&format!("refs/heads/kosuke-chat-s{n}")).unwrap())
            .unwrap()
            .tree()
            .unwrap();
        let names: Vec<String> = tree.iter().map(|e| e.name().unwrap().to_owned()).collect();
        assert_eq!(names, ["README.md", format!("file-{n}.txt").as_str(), "src.txt"]);
    }
    let mut worktrees = f.mirror.worktree_names().unwrap();
    worktrees.sort();
    assert_eq!(worktrees.len(), 20);
}

#[test]
fn a_released_checkout_comes_back_with_its_committed_work() {
    let f = fixture();
    let dir = f.project.checkout("r1");
    let checkout = f.mirror.create_checkout("r1", "kosuke-chat-r1", StartPoint::Branch("main"), &dir).unwrap();
    std::fs::write(checkout.root().join("draft.txt"), "unfinished").unwrap();
    checkout.commit_all("kosuke: save work before archiving", &author()).unwrap().unwrap();
    drop(checkout);
    f.mirror.release("r1", &dir).unwrap();
    assert!(!dir.exists());
    assert!(f.mirror.worktree_names().unwrap().is_empty(), "the registration is gone");
    let back = f.mirror.materialize("r1", "kosuke-chat-r1", &dir).unwrap();
    assert_eq!(std::fs::read_to_string(back.root().join("draft.txt")).unwrap(), "unfinished");

    // A checkout directory deleted behind our back does not block materializing again.
    drop(back);
    std::fs::remove_dir_all(&dir).unwrap();
    let again = f.mirror.materialize("r1", "kosuke-chat-r1", &dir).unwrap();
    assert!(again.root().join("draft.txt").exists());
    drop(again);
    f.mirror.release("r1", &dir).unwrap();
    f.mirror.delete_branch("kosuke-chat-r1").unwrap();
    assert!(matches!(f.mirror.branch_head("kosuke-chat-r1"), Err(CheckoutError::BranchNotFound(_))));
}

#[test]
fn duplicating_starts_from_another_sessions_head() {
    let f = fixture();
    let source = f
        .mirror
        .create_checkout("src", "kosuke-chat-src", StartPoint::Branch("main"), &f.project.checkout("src"))
        .unwrap();
    std::fs::write(source.root().join("feature.txt"), "feature").unwrap();
    let head = source.commit_all("Feature", &author()).unwrap().unwrap();
    let copy = f
        .mirror
        .create_checkout("dup", "kosuke-chat-dup", StartPoint::Commit(&head.to_string()), &f.project.checkout("dup"))
        .unwrap();
    assert_eq!(copy.head().unwrap(), head);
    assert!(copy.root().join("feature.txt").exists());
}

#[test]
fn paths_are_confined_to_the_checkout() {
    let f = fixture();
    let checkout =
        f.mirror.create_checkout("j", "kosuke-chat-j", StartPoint::Branch("main"), &f.project.checkout("j")).unwrap();
    std::os::unix::fs::symlink("/etc", checkout.root().join("escape")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/planted", checkout.root().join("dangling")).unwrap();
    for bad in [
        "/etc/passwd",
        "../mirror.git/config",
        "a/../../x",
        ".git/config",
        "vendor/.git/config",
        "escape/passwd",
        "escape",
        "dangling",
        "nul\0byte",
        "",
    ] {
        assert!(matches!(checkout.open_file(bad), Err(CheckoutError::PathOutside(_))), "{bad:?}");
        assert!(matches!(checkout.read_file(bad, 1000), Err(CheckoutError::PathOutside(_))), "{bad:?}");
    }
    assert!(checkout.open_file("README.md").unwrap().is_some());
    let (files, _) = checkout.files(100).unwrap();
    let links: Vec<(&str, bool)> = files.iter().filter(|f| f.is_symlink).map(|f| (f.path.as_str(), f.is_dir)).collect();
    assert_eq!(links, [("dangling", false), ("escape", false)], "symlinks are listed as such, never entered");
    assert!(matches!(checkout.read_file("missing.txt", 1000), Err(CheckoutError::FileNotFound(_))));
}

#[test]
fn files_contents_and_diffs_describe_the_working_tree() {
    let f = fixture();
    let checkout =
        f.mirror.create_checkout("d", "kosuke-chat-d", StartPoint::Branch("main"), &f.project.checkout("d")).unwrap();
    std::fs::create_dir(checkout.root().join("src")).unwrap();
    std::fs::write(checkout.root().join("src/lib.rs"), "fn main() {}\n").unwrap();
    std::fs::write(checkout.root().join("image.bin"), [0u8, 1, 2, 3]).unwrap();
    checkout.commit_all("Add code", &author()).unwrap();
    std::fs::write(checkout.root().join("src.txt"), "one\ntwo\n").unwrap();

    let (files, truncated) = checkout.files(100).unwrap();
    let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["README.md", "image.bin", "src", "src.txt", "src/lib.rs"]);
    assert!(!truncated);
    assert!(checkout.files(2).unwrap().1, "the listing says when it was cut");

    let binary = checkout.read_file("image.bin", 1000).unwrap();
    assert!(binary.is_binary && binary.text.is_none());
    let text = checkout.read_file("src/lib.rs", 1000).unwrap();
    assert_eq!(text.text.as_deref(), Some("fn main() {}\n"));
    assert!(checkout.read_file("src/lib.rs", 5).unwrap().too_large);

    let base = f.mirror.merge_base("kosuke-chat-d", "main").unwrap();
    let diff = checkout.diff_from(base, 100_000).unwrap();
    assert_eq!(diff.files_changed, 3, "{}", diff.patch);
    assert!(diff.patch.contains("+fn main() {}"), "committed change: {}", diff.patch);
    assert!(diff.patch.contains("+two"), "uncommitted change: {}", diff.patch);
    assert!(!diff.truncated);
    let small = checkout.diff_from(base, 40).unwrap();
    assert!(small.truncated && small.patch.len() <= 40);
}

#[test]
fn fetch_brings_news_and_an_unreachable_remote_leaves_the_mirror_as_it_was() {
    let f = fixture();
    let origin = Repository::open_bare(&f.origin_dir).unwrap();
    let signature = Signature::now("Origin", "origin@example.test").unwrap();
    let parent = origin.find_commit(origin.refname_to_id("refs/heads/main").unwrap()).unwrap();
    let tree = parent.tree().unwrap();
    let newer = origin.commit(Some("refs/heads/main"), &signature, &signature, "newer", &tree, &[&parent]).unwrap();
    origin.branch("release", &parent, false).unwrap();
    assert_eq!(
        f.mirror.fetch(None, std::time::Duration::from_secs(10), std::time::SystemTime::now()).unwrap(),
        FetchOutcome::Updated
    );
    assert_eq!(f.mirror.resolve_branch("main").unwrap(), newer);
    let names: Vec<String> = f.mirror.branches().unwrap().into_iter().map(|b| b.name).collect();
    assert_eq!(names, ["develop", "main", "release"]);

    f.mirror.create_checkout("x", "kosuke-chat-x", StartPoint::Branch("main"), &f.project.checkout("x")).unwrap();
    f.mirror.push_branch("kosuke-chat-x", None).unwrap();
    let names: Vec<String> = f.mirror.branches().unwrap().into_iter().map(|b| b.name).collect();
    assert!(!names.iter().any(|n| n.starts_with("kosuke-chat-")), "session branches are hidden: {names:?}");

    std::fs::rename(&f.origin_dir, f.origin_dir.with_extension("moved")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    match f.mirror.fetch(None, std::time::Duration::from_secs(10), std::time::SystemTime::now()).unwrap() {
        FetchOutcome::Stale(_) => {}
        other => panic!("expected a stale mirror, got {other:?}"),
    }
    assert_eq!(f.mirror.resolve_branch("main").unwrap(), newer, "the last state is kept");
}

#[test]
fn an_empty_project_starts_with_one_commit_on_its_default_branch() {
    let tmp = TempDir::new().unwrap();
    let project = ProjectDir::new(tmp.path().join("p"));
    let mirror = Mirror::init_empty(&project.mirror(), "trunk", &author()).unwrap();
    assert!(!mirror.has_remote());
    assert_eq!(
        mirror.fetch(None, std::time::Duration::from_secs(1), std::time::SystemTime::now()).unwrap(),
        FetchOutcome::NoRemote
    );
    let branches = mirror.branches().unwrap();
    assert_eq!(branches.iter().map(|b| b.name.as_str()).collect::<Vec<_>>(), ["trunk"]);
    let checkout =
        mirror.create_checkout("e", "kosuke-chat-e", StartPoint::Branch("trunk"), &project.checkout("e")).unwrap();
    std::fs::write(checkout.root().join("index.html"), "<h1>hi</h1>").unwrap();
    assert!(checkout.commit_all("Page", &author()).unwrap().is_some());
    let names: Vec<String> = mirror.branches().unwrap().into_iter().map(|b| b.name).collect();
    assert_eq!(names, ["trunk"], "the session branch stays hidden");
    let _: Checkout = Checkout::open(&project.checkout("e")).unwrap();
}

#[test]
fn checkouts_work_without_the_git_command_too() {
    let mut f = fixture();
    f.mirror = Mirror::open(&f.project.mirror()).unwrap().without_git_command();
    let dir = f.project.checkout("lib");
    let checkout = f.mirror.create_checkout("lib", "kosuke-chat-lib", StartPoint::Branch("main"), &dir).unwrap();
    assert!(checkout.root().join("README.md").exists());
    std::fs::write(checkout.root().join("x.txt"), "x").unwrap();
    checkout.commit_all("x", &author()).unwrap().unwrap();
    drop(checkout);
    f.mirror.release("lib", &dir).unwrap();
    let back = f.mirror.materialize("lib", "kosuke-chat-lib", &dir).unwrap();
    assert!(back.root().join("x.txt").exists());
    assert_eq!(f.mirror.worktree_names().unwrap(), ["lib"]);
}

fn git_in(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git").arg("-C").arg(dir).args(args).output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn an_adopted_spare_becomes_a_session_checkout_like_any_other() {
    let f = fixture();
    let spare = f.project.spare();
    let main = f.mirror.resolve_branch("main").unwrap();
    let develop = f.mirror.resolve_branch("develop").unwrap();
    assert!(f.mirror.prepare_spare(StartPoint::Branch("main"), &spare).unwrap());
    assert_eq!(f.mirror.spare_at(&spare), Some(main));
    assert!(!f.mirror.prepare_spare(StartPoint::Branch("main"), &spare).unwrap(), "already there: kept");

    // A session starting elsewhere does not take it, and no branch is made.
    let other = f.project.checkout("s2");
    let taken = f.mirror.adopt_spare(&spare, "s2", "kosuke-chat-s2", StartPoint::Branch("develop"), &other).unwrap();
    assert!(taken.is_none());
    assert!(f.mirror.branch_head("kosuke-chat-s2").is_err());
    assert_eq!(f.mirror.spare_at(&spare), Some(main));

    let dir = f.project.checkout("s1");
    let checkout =
        f.mirror.adopt_spare(&spare, "s1", "kosuke-chat-s1", StartPoint::Branch("main"), &dir).unwrap().unwrap();
    assert!(!spare.exists());
    assert_eq!(f.mirror.spare_at(&spare), None);
    assert_eq!(checkout.head().unwrap(), main);
    assert!(!checkout.is_dirty().unwrap(), "the moved index still matches every file");
    assert_eq!(f.mirror.worktree_names().unwrap(), ["s1"]);
    // git itself sees a worktree on the session's branch, at the session's directory.
    assert_eq!(git_in(&dir, &["rev-parse", "--abbrev-ref", "HEAD"]), "kosuke-chat-s1");
    assert_eq!(git_in(&dir, &["status", "--porcelain"]), "");
    let listed = git_in(f.mirror.path(), &["worktree", "list", "--porcelain"]);
    assert!(listed.contains(&format!("worktree {}", dir.canonicalize().unwrap().display())), "{listed}");
    assert!(listed.contains("branch refs/heads/kosuke-chat-s1"), "{listed}");

    // Its commits move its own branch only.
    std::fs::write(checkout.root().join("turn.txt"), "one turn").unwrap();
    let commit = checkout.commit_all("Turn", &author()).unwrap().unwrap();
    assert_eq!(f.mirror.branch_head("kosuke-chat-s1").unwrap(), commit);
    assert_eq!(f.mirror.resolve_branch("main").unwrap(), main);
    // Released and made again under the session's name, like any checkout.
    drop(checkout);
    f.mirror.release("s1", &dir).unwrap();
    assert!(f.mirror.worktree_names().unwrap().is_empty());
    let back = f.mirror.materialize("s1", "kosuke-chat-s1", &dir).unwrap();
    assert_eq!(std::fs::read_to_string(back.root().join("turn.txt")).unwrap(), "one turn");

    // The next spare takes the same place; a spare at another commit is replaced, leaving one
    // registration for it.
    assert!(f.mirror.prepare_spare(StartPoint::Branch("develop"), &spare).unwrap());
    assert_eq!(f.mirror.spare_at(&spare), Some(develop));
    assert!(f.mirror.prepare_spare(StartPoint::Commit(&main.to_string()), &spare).unwrap());
    assert_eq!(f.mirror.spare_at(&spare), Some(main));
    let mut names = f.mirror.worktree_names().unwrap();
    names.sort();
    assert_eq!(names, ["s1", "spare"]);
}

#[test]
fn a_spare_that_was_not_finished_is_never_adopted() {
    let f = fixture();
    let spare = f.project.spare();
    let main = f.mirror.resolve_branch("main").unwrap().to_string();
    // What a spare cut off mid-checkout leaves: a registered worktree without the ready mark.
    git_in(f.mirror.path(), &["worktree", "add", "--quiet", "--detach", spare.to_str().unwrap(), &main]);
    assert_eq!(f.mirror.spare_at(&spare), None);
    let dir = f.project.checkout("s1");
    assert!(f.mirror.adopt_spare(&spare, "s1", "kosuke-chat-s1", StartPoint::Branch("main"), &dir).unwrap().is_none());
    assert!(!dir.exists());
    assert!(f.mirror.prepare_spare(StartPoint::Branch("main"), &spare).unwrap(), "replaced");
    assert!(f.mirror.spare_at(&spare).is_some());
    f.mirror.discard_spare(&spare).unwrap();
    assert!(!spare.exists());
    assert!(f.mirror.worktree_names().unwrap().is_empty(), "its registration went with it");
}
