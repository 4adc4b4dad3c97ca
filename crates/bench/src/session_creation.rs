//! Session creation: from the create request until the session's checkout is ready, on
//! generated repositories of 1,000 and 10,000 files, against `git worktree add` on the same
//! mirror (the floor) and `git clone` of the same repository (the original ticket's design).

use api::settings::Settings;
use api::startup::Application;
use api_types::*;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const RUNS: usize = 10;

/// A bare repository with `files` files (100 per directory, ~200 bytes each) in one commit.
fn generate(path: &Path, files: usize) {
    let repo = git2::Repository::init_bare(path).unwrap();
    let mut root = repo.treebuilder(None).unwrap();
    for dir in 0..files.div_ceil(100) {
        let mut sub = repo.treebuilder(None).unwrap();
        for n in 0..100.min(files - dir * 100) {
            let content = format!("// file {dir}/{n}\n{}\n", "x".repeat(180));
            let blob = repo.blob(content.as_bytes()).unwrap();
            sub.insert(format!("file{n}.rs"), blob, 0o100644).unwrap();
        }
        root.insert(format!("dir{dir}"), sub.write().unwrap(), 0o040000).unwrap();
    }
    let tree = repo.find_tree(root.write().unwrap()).unwrap();
    let signature = git2::Signature::now("bench", "bench@example.test").unwrap();
    repo.commit(Some("refs/heads/main"), &signature, &signature, "generated", &tree, &[]).unwrap();
    repo.set_head("refs/heads/main").unwrap();
}

pub fn stats(mut samples: Vec<Duration>) -> serde_json::Value {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let at = |q: f64| samples[((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1];
    serde_json::json!({
        "median_ms": ms(samples[samples.len() / 2]),
        "p95_ms": ms(at(0.95)),
        "p99_ms": ms(at(0.99)),
        "min_ms": ms(samples[0]),
        "runs": samples.len(),
    })
}

fn git(args: &[&str]) {
    let status = Command::new("git")
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

/// A kosuke server in this process on its own data dir, signed in.
async fn server(data: &Path, spare_checkouts: bool) -> client::Client {
    let mut settings = Settings::new("127.0.0.1:0", data);
    settings.database_url = None;
    settings.spare_checkouts = spare_checkouts;
    let app = Application::build(settings).await.unwrap();
    let client = client::Client::new(format!("http://127.0.0.1:{}", app.port()));
    tokio::spawn(app.run_until_stopped());
    let signup = SignupRequest {
        email: "bench@example.test".into(),
        password: "bench-password".into(),
        display_name: "Bench".into(),
    };
    client.signup(&signup).await.unwrap();
    client
}

async fn ready_project(client: &client::Client, origin: &Path, name: String) -> ProjectId {
    let source = RepositorySource::Local { path: origin.display().to_string() };
    let request = CreateProjectRequest { name, description: None, repository: source, default_branch: None };
    let project = client.create_project(&request).await.unwrap();
    while client.get_project(project.id).await.unwrap().repository_state == RepositoryState::Cloning {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    project.id
}

/// Creates a session and waits for its checkout: (until ready, until the create answered).
async fn create_session(client: &client::Client, project: ProjectId, title: String) -> (Duration, Duration) {
    let started = Instant::now();
    let request = CreateChatSessionRequest { title, description: None, base_branch: None };
    let session = client.create_chat_session(project, &request).await.unwrap();
    let answered = started.elapsed();
    loop {
        let state = client.get_chat_session(project, session.id).await.unwrap().workspace_state;
        if state != WorkspaceState::Provisioning {
            assert_eq!(state, WorkspaceState::Ready);
            return (started.elapsed(), answered);
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Waits until the project's spare checkout is ready at `main`.
async fn spare_ready(project_dir: &Path, main: git2::Oid) {
    let mirror = checkout::Mirror::open(&project_dir.join("mirror.git")).unwrap();
    while mirror.spare_at(&project_dir.join("spare")) != Some(main) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The measures, in the order printed: (JSON key, row label).
const MEASURES: [(&str, &str); 10] = [
    ("kosuke_until_ready", "kosuke, spare checkout ready"),
    ("kosuke_create_request", "  its create request"),
    ("kosuke_back_to_back", "kosuke, sessions back to back"),
    ("kosuke_back_to_back_request", "  its create request"),
    ("kosuke_concurrent_request", "20 creates at once: each request"),
    ("kosuke_no_spare", "kosuke, --no-spare-checkout"),
    ("git_worktree_add", "git worktree add (the floor)"),
    ("git_clone", "git clone"),
    ("git_clone_no_local", "git clone --no-local"),
    ("git_clone_of_the_mirror", "git clone of kosuke's mirror"),
];

pub async fn run() -> serde_json::Value {
    let tmp = tempfile::TempDir::new().unwrap();
    let (data, data_no_spare) = (tmp.path().join("data"), tmp.path().join("data-no-spare"));
    let client = server(&data, true).await;
    let no_spare = server(&data_no_spare, false).await;

    let mut results = Vec::new();
    for files in [1_000, 10_000] {
        let origin = tmp.path().join(format!("origin-{files}.git"));
        generate(&origin, files);
        let project = ready_project(&client, &origin, format!("{files} files")).await;
        let project_dir = data.join(format!("projects/{project}"));
        let mirror = project_dir.join("mirror.git");
        let main = git2::Repository::open_bare(&mirror).unwrap().refname_to_id("refs/remotes/origin/main").unwrap();

        // Each session created once the spare behind the previous one is ready: a user's pace.
        let (mut until_ready, mut request) = (Vec::new(), Vec::new());
        for run in 0..=RUNS {
            spare_ready(&project_dir, main).await;
            let (ready, answered) = create_session(&client, project, format!("run {run}")).await;
            if run > 0 {
                until_ready.push(ready);
                request.push(answered);
            }
        }
        // Each session created as soon as the previous one is ready: the spare is being made.
        let (mut back_to_back, mut back_to_back_request) = (Vec::new(), Vec::new());
        for run in 0..=RUNS {
            let (ready, answered) = create_session(&client, project, format!("back to back {run}")).await;
            if run > 0 {
                back_to_back.push(ready);
                back_to_back_request.push(answered);
            }
        }
        // Twenty create requests at once (the checkouts are made behind them, one at a time).
        let creates: Vec<_> = (0..20)
            .map(|n| {
                let client = client.clone();
                tokio::spawn(async move {
                    let started = Instant::now();
                    let title = format!("at once {n}");
                    let request = CreateChatSessionRequest { title, description: None, base_branch: None };
                    client.create_chat_session(project, &request).await.unwrap();
                    started.elapsed()
                })
            })
            .collect();
        let mut concurrent_request = Vec::new();
        for create in creates {
            concurrent_request.push(create.await.unwrap());
        }
        let plain = ready_project(&no_spare, &origin, format!("{files} files")).await;
        let mut without_spare = Vec::new();
        for run in 0..=RUNS {
            let (ready, _) = create_session(&no_spare, plain, format!("run {run}")).await;
            if run > 0 {
                without_spare.push(ready);
            }
        }

        let scratch = tmp.path().join(format!("scratch-{files}"));
        let mut worktree = Vec::new();
        let mut clone = Vec::new();
        let mut clone_no_local = Vec::new();
        let mut clone_mirror = Vec::new();
        let main_sha = main.to_string();
        for run in 0..RUNS {
            let dir = scratch.join(format!("wt{run}"));
            let started = Instant::now();
            git(&[
                "-C",
                mirror.to_str().unwrap(),
                "worktree",
                "add",
                "-q",
                "-b",
                &format!("bench-{run}"),
                dir.to_str().unwrap(),
                "refs/remotes/origin/main",
            ]);
            worktree.push(started.elapsed());
            let dir = scratch.join(format!("clone{run}"));
            let started = Instant::now();
            git(&["clone", "-q", origin.to_str().unwrap(), dir.to_str().unwrap()]);
            clone.push(started.elapsed());
            let dir = scratch.join(format!("clone-no-local{run}"));
            let started = Instant::now();
            git(&["clone", "-q", "--no-local", origin.to_str().unwrap(), dir.to_str().unwrap()]);
            clone_no_local.push(started.elapsed());
            // kosuke's own mirror: fetched by libgit2, so its objects are one pack. Its branches
            // are remote-tracking refs, which a clone leaves behind: check the commit out by id.
            let dir = scratch.join(format!("clone-mirror{run}"));
            let started = Instant::now();
            git(&["clone", "-q", "--no-checkout", mirror.to_str().unwrap(), dir.to_str().unwrap()]);
            git(&["-C", dir.to_str().unwrap(), "checkout", "-q", &main_sha]);
            clone_mirror.push(started.elapsed());
        }
        let row = serde_json::json!({
            "files": files,
            "kosuke_until_ready": stats(until_ready),
            "kosuke_create_request": stats(request),
            "kosuke_back_to_back": stats(back_to_back),
            "kosuke_back_to_back_request": stats(back_to_back_request),
            "kosuke_concurrent_request": stats(concurrent_request),
            "kosuke_no_spare": stats(without_spare),
            "git_worktree_add": stats(worktree),
            "git_clone": stats(clone),
            "git_clone_no_local": stats(clone_no_local),
            "git_clone_of_the_mirror": stats(clone_mirror),
        });
        results.push(row);
    }

    println!("session creation until the checkout is ready, {RUNS} runs each (milliseconds: median / p95)");
    println!("{:<32}  {:>16}  {:>16}", "", "1,000 files", "10,000 files");
    for (key, label) in MEASURES {
        let cell = |row: &serde_json::Value| {
            format!("{:.1} / {:.1}", row[key]["median_ms"].as_f64().unwrap(), row[key]["p95_ms"].as_f64().unwrap())
        };
        println!("{label:<32}  {:>16}  {:>16}", cell(&results[0]), cell(&results[1]));
    }
    serde_json::json!({"session_creation": results, "machine": crate::machine()})
}
