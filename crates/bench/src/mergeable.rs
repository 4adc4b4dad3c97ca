//! Keeping sessions mergeable on a 10,000-file repository with 50 active sessions, each with a
//! commit of its own (every tenth edits the same file, so pairs conflict): the conflict radar
//! computed whole (every session against the base and against each other: 50 + 1,225 merges,
//! in the mirror: one `git merge-tree --stdin`, a git process per merge, libgit2),
//! `GET /conflicts` the first time, after one session's new commit (the incremental case: only
//! that session's pairs are merged again) and unchanged; and an update from the base (a merge)
//! after the base moved.

use api_types::*;
use checkout::{Mirror, Oid};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const SESSIONS: usize = 50;
const SAMPLES: usize = 10;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=bench", "-c", "user.email=bench@example.test"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A commit in a checkout (what a turn makes) that edits the first line of `path`.
fn commit_edit(checkout: &Path, path: &str, text: &str) {
    let file = checkout.join(path);
    let old = std::fs::read_to_string(&file).unwrap();
    let rest = old.split_once('\n').map(|(_, r)| r).unwrap_or_default();
    std::fs::write(&file, format!("//! {text}\n{rest}")).unwrap();
    git(checkout, &["commit", "-qam", text]);
}

/// Every merge the radar makes, from nothing: each head against the base and each pair; all
/// in one call (`batched`: one `git merge-tree --stdin`) or one call per merge.
fn full_radar(mirror: &Mirror, heads: &[Oid], base: Oid, batched: bool) -> (usize, usize) {
    let mut pairs: Vec<(Oid, Oid)> = heads.iter().map(|h| (*h, base)).collect();
    for (i, a) in heads.iter().enumerate() {
        pairs.extend(heads[i + 1..].iter().map(|b| (*a, *b)));
    }
    let results = if batched {
        mirror.merge_conflicts_of(&pairs).unwrap()
    } else {
        pairs.iter().map(|(a, b)| mirror.merge_conflicts(*a, *b).unwrap()).collect()
    };
    (pairs.len(), results.iter().filter(|paths| !paths.is_empty()).count())
}

pub async fn run() -> serde_json::Value {
    let tmp = tempfile::TempDir::new().unwrap();
    let origin = tmp.path().join("big.git");
    crate::code::generate(&origin);
    let data = tmp.path().join("data");
    let (client, _) = crate::previews::server(&data, true).await;
    let project = crate::previews::project(&client, &origin).await;
    let mut sessions = Vec::new();
    for n in 0..SESSIONS {
        let request = CreateChatSessionRequest { title: format!("s{n}"), description: None, base_branch: None };
        sessions.push(client.create_chat_session(project, &request).await.unwrap());
    }
    let checkout = |s: &ChatSession| data.join(format!("projects/{}/sessions/{}", project, s.session_id));
    for s in &sessions {
        while client.get_chat_session(project, s.id).await.unwrap().workspace_state != WorkspaceState::Ready {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    for (n, s) in sessions.iter().enumerate() {
        commit_edit(&checkout(s), &format!("dir{:03}/file000.rs", n % 10), &format!("session {n}"));
    }
    let mirror_path = data.join(format!("projects/{project}/mirror.git"));
    let heads: Vec<Oid> =
        sessions.iter().map(|s| Oid::from_str(&git(&checkout(s), &["rev-parse", "HEAD"])).unwrap()).collect();
    let base = Oid::from_str(&git(&mirror_path, &["rev-parse", "refs/remotes/origin/main"])).unwrap();

    let stats = crate::session_creation::stats;
    let mut rows = Vec::new();
    for (label, mirror, batched) in [
        (
            "full radar in the mirror, one git merge-tree --stdin (1,275 merges)",
            Mirror::open(&mirror_path).unwrap(),
            true,
        ),
        ("full radar in the mirror, a git process per merge", Mirror::open(&mirror_path).unwrap(), false),
        ("full radar in the mirror, libgit2", Mirror::open(&mirror_path).unwrap().without_git_command(), true),
    ] {
        let mut samples = Vec::new();
        let mut counted = (0, 0);
        for _ in 0..3 {
            let started = Instant::now();
            counted = full_radar(&mirror, &heads, base, batched);
            samples.push(started.elapsed());
        }
        println!("  {label}: {} merges, {} conflicting", counted.0, counted.1);
        rows.push((label.to_owned(), stats(samples)));
    }

    let started = Instant::now();
    let first = client.get_conflicts(project).await.unwrap();
    rows.push(("GET /conflicts, the first time (every merge)".to_owned(), stats(vec![started.elapsed()])));
    let mut unchanged = Vec::new();
    for _ in 0..SAMPLES {
        let started = Instant::now();
        client.get_conflicts(project).await.unwrap();
        unchanged.push(started.elapsed());
    }
    rows.push(("GET /conflicts, nothing changed (cached merges)".to_owned(), stats(unchanged)));
    let mut incremental = Vec::new();
    for n in 0..SAMPLES {
        commit_edit(&checkout(&sessions[n]), "README.md", &format!("turn {n}"));
        let started = Instant::now();
        client.get_conflicts(project).await.unwrap();
        incremental.push(started.elapsed());
    }
    rows.push(("GET /conflicts after one session's new commit (50 merges)".to_owned(), stats(incremental)));

    // The base moves; sessions are updated from it one after another (fetch, merge, push).
    let moved = tmp.path().join("moved");
    git(tmp.path(), &["clone", "-q", origin.to_str().unwrap(), moved.to_str().unwrap()]);
    commit_edit(&moved, "dir099/file099.rs", "main moves on");
    git(&moved, &["push", "-q", "origin", "HEAD:main"]);
    let mut updates = Vec::new();
    for s in sessions.iter().skip(SESSIONS - SAMPLES) {
        let started = Instant::now();
        let done = client.update_session(project, s.id, &UpdateSessionRequest::default()).await.unwrap();
        updates.push(started.elapsed());
        assert_eq!(done.outcome, UpdateOutcome::Updated);
    }
    rows.push(("update from base: fetch, merge, push (10,000 files)".to_owned(), stats(updates)));

    println!(
        "\nkeeping {SESSIONS} sessions mergeable on 10,000 files ({} base and {} pair conflicts) (ms: median / p95)",
        first.base.len(),
        first.pairs.len()
    );
    for (label, row) in &rows {
        println!("{label:<62} {:>8.1} / {:>8.1}", row["median_ms"].as_f64().unwrap(), row["p95_ms"].as_f64().unwrap());
    }
    serde_json::json!({
        "sessions": SESSIONS,
        "files": 10_000,
        "conflicts": {"base": first.base.len(), "pairs": first.pairs.len()},
        "rows": rows.iter().map(|(label, row)| serde_json::json!({"what": label, "timing": row})).collect::<Vec<_>>(),
        "machine": crate::machine(),
    })
}
