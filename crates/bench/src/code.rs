//! The Code tab on a 10,000-file checkout: the time to the tree's first listing (the root's
//! entries, against the whole tree in one answer, with the bytes of each), to open a file
//! (highlighted on the server: the first time, then from the cache), and the filter's search.

use api_types::*;
use std::path::Path;
use std::time::{Duration, Instant};

const DIRS: usize = 100;
const FILES_PER_DIR: usize = 100;
const SAMPLES: usize = 20;

/// A Rust source file of about 60 lines.
fn source(n: usize) -> String {
    let mut text = format!("//! Module {n}.\n\nuse std::collections::HashMap;\n\n");
    for f in 0..8 {
        text.push_str(&format!(
            "/// Adds the {f}th value.\npub fn add_{f}(map: &mut HashMap<String, u32>, key: &str) -> u32 {{\n    let value = map.entry(key.to_owned()).or_insert({f});\n    *value += 1;\n    *value\n}}\n\n"
        ));
    }
    text
}

/// A repository of `DIRS` directories of `FILES_PER_DIR` Rust files and a README.
pub(crate) fn generate(path: &Path) {
    let repo = git2::Repository::init_bare(path).unwrap();
    let mut root = repo.treebuilder(None).unwrap();
    for d in 0..DIRS {
        let mut dir = repo.treebuilder(None).unwrap();
        for f in 0..FILES_PER_DIR {
            let blob = repo.blob(source(d * FILES_PER_DIR + f).as_bytes()).unwrap();
            dir.insert(format!("file{f:03}.rs"), blob, 0o100644).unwrap();
        }
        root.insert(format!("dir{d:03}"), dir.write().unwrap(), 0o040000).unwrap();
    }
    root.insert("README.md", repo.blob(b"# Ten thousand files\n").unwrap(), 0o100644).unwrap();
    let tree = repo.find_tree(root.write().unwrap()).unwrap();
    let signature = git2::Signature::now("bench", "bench@example.test").unwrap();
    repo.commit(Some("refs/heads/main"), &signature, &signature, "generated", &tree, &[]).unwrap();
    repo.set_head("refs/heads/main").unwrap();
}

async fn timed<T, F: Future<Output = T>>(samples: &mut Vec<Duration>, work: F) -> T {
    let started = Instant::now();
    let out = work.await;
    samples.push(started.elapsed());
    out
}

pub async fn run() -> serde_json::Value {
    let tmp = tempfile::TempDir::new().unwrap();
    let origin = tmp.path().join("big.git");
    generate(&origin);
    let (client, _) = crate::previews::server(&tmp.path().join("data"), false).await;
    let project = crate::previews::project(&client, &origin).await;
    let request = CreateChatSessionRequest { title: "code".into(), description: None, base_branch: None };
    let session = client.create_chat_session(project, &request).await.unwrap();
    while client.get_chat_session(project, session.id).await.unwrap().workspace_state != WorkspaceState::Ready {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let s = session.id;

    let (mut first_listing, mut whole_tree, mut open_dir) = (Vec::new(), Vec::new(), Vec::new());
    let mut root_bytes = 0;
    let mut whole_bytes = 0;
    for n in 0..SAMPLES {
        let root = timed(&mut first_listing, client.list_dir(project, s, "")).await.unwrap();
        root_bytes = serde_json::to_vec(&root).unwrap().len();
        let whole = timed(&mut whole_tree, client.list_files(project, s)).await.unwrap();
        whole_bytes = serde_json::to_vec(&whole).unwrap().len();
        timed(&mut open_dir, client.list_dir(project, s, &format!("dir{n:03}"))).await.unwrap();
    }
    let (mut cold, mut warm) = (Vec::new(), Vec::new());
    let mut file_bytes = 0;
    for n in 0..SAMPLES {
        let path = format!("dir{:03}/file{:03}.rs", 50 + n, n);
        let file = timed(&mut cold, client.get_file(project, s, &path)).await.unwrap();
        assert!(file.highlighted.is_some(), "{path} is highlighted");
        file_bytes = serde_json::to_vec(&file).unwrap().len();
        timed(&mut warm, client.get_file(project, s, &path)).await.unwrap();
    }
    let mut filter = Vec::new();
    for n in 0..SAMPLES {
        let found = timed(&mut filter, client.find_files(project, s, &format!("file{n:03}"))).await.unwrap();
        assert_eq!(found.files.len(), DIRS);
    }
    let stats = crate::session_creation::stats;
    let rows = [
        ("first listing (the root's 101 entries)", stats(first_listing), Some(root_bytes)),
        ("the whole tree in one answer (10,101 entries)", stats(whole_tree), Some(whole_bytes)),
        ("opening a directory (100 files)", stats(open_dir), None),
        ("open a file, highlighted, first time", stats(cold), Some(file_bytes)),
        ("open the same file again (cached highlighting)", stats(warm), None),
        ("filter: files matching fileNNN in the tree", stats(filter), None),
    ];
    println!(
        "\nthe Code tab on {} files, {SAMPLES} samples each (ms: median / p95, answer size)",
        DIRS * FILES_PER_DIR
    );
    for (label, row, bytes) in &rows {
        let size = bytes.map(|b| format!("{:.1} KB", b as f64 / 1024.0)).unwrap_or_default();
        println!(
            "{label:<50} {:>7.2} / {:>7.2} {size:>10}",
            row["median_ms"].as_f64().unwrap(),
            row["p95_ms"].as_f64().unwrap()
        );
    }
    serde_json::json!({
        "files": DIRS * FILES_PER_DIR,
        "rows": rows.iter().map(|(label, row, bytes)| serde_json::json!({"what": label, "timing": row, "bytes": bytes})).collect::<Vec<_>>(),
        "machine": crate::machine(),
    })
}
