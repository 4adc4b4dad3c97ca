//! Previews: how long from "New Chat" until the chat's dev server answers through the preview
//! proxy, with the spare checkout made (and set up) ahead and without, on a generated project
//! whose setup installs dependencies; what the proxy adds to a small page against asking the
//! dev server directly; what each session takes on disk.
//!
//! The dev server is the test one of `fakes` (Python's `http.server`, threaded); the setup
//! writes 5,000 dependency files of 1 KiB into `node_modules/` (an install from a warm cache,
//! without a network).

use crate::load;
use api::settings::Settings;
use api::startup::Application;
use api_types::*;
use std::path::Path;
use std::time::{Duration, Instant};

const RUNS: usize = 5;

const SETUP: &str = "/usr/bin/python3 -c \"import os\nfor d in range(50):\n    os.makedirs(f'node_modules/pkg{d}', exist_ok=True)\n    for n in range(100):\n        open(f'node_modules/pkg{d}/f{n}.js', 'w').write('x' * 1024)\"";

/// A repository whose `kosuke.json` installs dependencies and starts the test dev server.
fn generate(path: &Path) {
    let repo = git2::Repository::init_bare(path).unwrap();
    let mut root = repo.treebuilder(None).unwrap();
    let settings = serde_json::json!({
        "setup": SETUP,
        "dev": "/usr/bin/python3 dev_server.py",
        "readiness_path": "/",
    });
    let page = format!("<!doctype html><title>Bench</title><p>{}</p>", "A small page. ".repeat(60));
    let files = [
        ("kosuke.json", settings.to_string()),
        (fakes::dev_server::FILE, fakes::dev_server::SCRIPT.to_owned()),
        ("index.html", page),
        (".gitignore", "node_modules/\n__pycache__/\n".to_owned()),
    ];
    for (name, content) in files {
        root.insert(name, repo.blob(content.as_bytes()).unwrap(), 0o100644).unwrap();
    }
    let tree = repo.find_tree(root.write().unwrap()).unwrap();
    let signature = git2::Signature::now("bench", "bench@example.test").unwrap();
    repo.commit(Some("refs/heads/main"), &signature, &signature, "generated", &tree, &[]).unwrap();
    repo.set_head("refs/heads/main").unwrap();
}

/// A kosuke server in this process, signed in: its client and the preview proxy's port.
pub(crate) async fn server(data: &Path, spare_checkouts: bool) -> (client::Client, u16) {
    let mut settings = Settings::new("127.0.0.1:0", data);
    settings.spare_checkouts = spare_checkouts;
    settings.previews.max_per_user = 64;
    settings.previews.max_running = 64;
    let app = Application::build(settings).await.unwrap();
    let (client, proxy) = (client::Client::new(format!("http://127.0.0.1:{}", app.port())), app.preview_port());
    tokio::spawn(app.run_until_stopped());
    let signup = SignupRequest {
        email: "bench@example.test".into(),
        password: "bench-password".into(),
        display_name: "Bench".into(),
    };
    client.signup(&signup).await.unwrap();
    (client, proxy)
}

pub(crate) async fn project(client: &client::Client, origin: &Path) -> ProjectId {
    let source = RepositorySource::Local { path: origin.display().to_string() };
    let request =
        CreateProjectRequest { name: "site".into(), description: None, repository: source, default_branch: None };
    let project = client.create_project(&request).await.unwrap();
    while client.get_project(project.id).await.unwrap().repository_state == RepositoryState::Cloning {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    project.id
}

/// A browser-like client of the proxy (`s{n}.localhost` to loopback), redirects left alone.
fn browser(session: ChatSessionPk) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .resolve(&format!("s{session}.localhost"), "127.0.0.1:0".parse().unwrap())
        .build()
        .unwrap()
}

/// From the create request until the new chat's page answers through the proxy: its checkout
/// made and set up, its dev server started and ready, the one-time link opened. Returns the
/// time, the session, its preview and the cookie.
async fn new_chat_until_preview(
    client: &client::Client,
    project: ProjectId,
    title: String,
) -> (Duration, ChatSession, Preview, String) {
    let started = Instant::now();
    let request = CreateChatSessionRequest { title, description: None, base_branch: None };
    let session = client.create_chat_session(project, &request).await.unwrap();
    loop {
        let state = client.get_chat_session(project, session.id).await.unwrap().workspace_state;
        if !matches!(state, WorkspaceState::Provisioning | WorkspaceState::SettingUp) {
            assert_eq!(state, WorkspaceState::Ready, "the setup failed");
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    client.preview_action(project, session.id, PreviewAction::Start).await.unwrap();
    let preview = loop {
        let preview = client.preview(project, session.id).await.unwrap();
        if preview.state != PreviewState::Starting {
            assert_eq!(preview.state, PreviewState::Running, "{:?}", preview.error);
            break preview;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let http = browser(session.id);
    let opened = http.get(preview.open_url.clone().unwrap()).send().await.unwrap();
    let cookie = opened.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let page = http.get(&preview.url).header("cookie", &cookie).send().await.unwrap();
    assert!(page.status().is_success());
    page.bytes().await.unwrap();
    (started.elapsed(), session, preview, cookie)
}

/// Waits until the project's spare checkout is made and set up.
async fn spare_set_up(project_dir: &Path) {
    while !(project_dir.join("spare").is_dir() && project_dir.join("spare-setup.json").is_file()) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub async fn run() -> serde_json::Value {
    let tmp = tempfile::TempDir::new().unwrap();
    let origin = tmp.path().join("site.git");
    generate(&origin);
    let (data, data_no_spare) = (tmp.path().join("data"), tmp.path().join("data-no-spare"));
    let (client, proxy_port) = server(&data, true).await;
    let (no_spare, _) = server(&data_no_spare, false).await;

    let with_spare_project = project(&client, &origin).await;
    let project_dir = data.join(format!("projects/{with_spare_project}"));
    let mut with_spare = Vec::new();
    let mut last = None;
    for run in 0..RUNS {
        spare_set_up(&project_dir).await;
        let (took, session, preview, cookie) =
            new_chat_until_preview(&client, with_spare_project, format!("spare {run}")).await;
        with_spare.push(took);
        last = Some((session, preview, cookie));
    }
    let plain_project = project(&no_spare, &origin).await;
    let mut without_spare = Vec::new();
    for run in 0..RUNS {
        let (took, session, _, _) = new_chat_until_preview(&no_spare, plain_project, format!("plain {run}")).await;
        without_spare.push(took);
        no_spare.preview_action(plain_project, session.id, PreviewAction::Stop).await.unwrap();
    }
    println!("\npreviews: from New Chat until its page answers through the proxy, {RUNS} runs (ms: median / p95)");
    let (with_spare, without_spare) =
        (crate::session_creation::stats(with_spare), crate::session_creation::stats(without_spare));
    for (label, row) in [("spare made and set up ahead", &with_spare), ("--no-spare-checkout", &without_spare)] {
        println!("{label:<50} {:.1} / {:.1}", row["median_ms"].as_f64().unwrap(), row["p95_ms"].as_f64().unwrap());
    }

    // The proxy against the dev server itself, for the same small page.
    let (session, preview, cookie) = last.unwrap();
    let direct_url = format!("http://127.0.0.1:{}/", preview.port.unwrap());
    let proxied_url = preview.url.clone();
    assert!(proxied_url.contains(&format!(":{proxy_port}/")));
    load::header("the preview proxy: a 1 KB page");
    let direct_http = reqwest::Client::new();
    let direct = load::row("the dev server directly", load::WINDOW, move |_, _| {
        let (http, url) = (direct_http.clone(), direct_url.clone());
        async move { body_ok(http.get(&url).send().await).await }
    })
    .await;
    let proxied_http = browser(session.id);
    let proxied = load::row("through the preview proxy", load::WINDOW, move |_, _| {
        let (http, url, cookie) = (proxied_http.clone(), proxied_url.clone(), cookie.clone());
        async move { body_ok(http.get(&url).header("cookie", cookie).send().await).await }
    })
    .await;

    // What each session takes: its checkout with its dependencies.
    let disk = client.get_disk(with_spare_project).await.unwrap();
    let mut sizes: Vec<u64> = disk.sessions.iter().map(|s| s.bytes).filter(|b| *b > 0).collect();
    sizes.sort();
    let median = sizes.get(sizes.len() / 2).copied().unwrap_or_default();
    println!(
        "\ndisk: each session {:.1} MB (median of {}, dependencies included), the spare {:.1} MB, the mirror {:.2} MB",
        median as f64 / 1e6,
        sizes.len(),
        disk.spare_bytes as f64 / 1e6,
        disk.mirror_bytes as f64 / 1e6
    );
    serde_json::json!({
        "new_chat_until_preview": {"with_spare": with_spare, "without_spare": without_spare, "setup_files": 5000},
        "proxy": {"direct": direct, "proxied": proxied},
        "disk": {"session_median_bytes": median, "sessions": sizes, "spare_bytes": disk.spare_bytes, "mirror_bytes": disk.mirror_bytes},
        "machine": crate::machine(),
    })
}

async fn body_ok(answer: reqwest::Result<reqwest::Response>) -> bool {
    match answer {
        Ok(response) if response.status().is_success() => response.bytes().await.is_ok(),
        _ => false,
    }
}
