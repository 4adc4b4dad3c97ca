//! The browser-test harness: the real `kosuke` binary (with the built web app), Debian's
//! Chromium driven through chromedriver, a fake model provider and a fake GitHub on loopback,
//! and small helpers that wait for what a person would see. Screenshots land in
//! `e2e/screenshots/`. The tests themselves are in `tests/`.

#![allow(clippy::unwrap_used)]

use fakes::github::FakeGitHub;
use fakes::model::FakeModel;
use fantoccini::{Client, ClientBuilder, Locator};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process in its own group, killed (with its children) when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the group of a child we spawned.
        unsafe {
            libc::kill(-(self.0.id() as i32), libc::SIGKILL);
        }
        let _ = self.0.wait();
    }
}

fn spawn(command: &mut Command) -> Process {
    Process(command.process_group(0).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn"))
}

fn free_port() -> u16 {
    // Below the kernel's ephemeral range (32768 and up: where `bind(0)` and every client
    // connection of the tests take their ports, so one could take it before the server binds
    // it), from a block of 100 of this process, each checked free.
    static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
    let block = 12000 + (std::process::id() % 80) as u16 * 100;
    loop {
        let port = block + NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 100;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

async fn wait_http(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(stream) = tokio::net::TcpStream::connect(url.trim_start_matches("http://")).await {
            drop(stream);
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{url} did not come up");
}

/// A new, empty PostgreSQL database on the server of `TEST_DATABASE_URL` (made with `psql`),
/// dropped when this is dropped.
pub struct PostgresDatabase {
    admin_url: String,
    name: String,
    pub url: String,
}

impl PostgresDatabase {
    pub fn create() -> PostgresDatabase {
        let admin_url = std::env::var("TEST_DATABASE_URL")
            .expect("TEST_DATABASE_URL must point at a PostgreSQL server for the PostgreSQL variant of this test");
        let name = format!("kosuke_e2e_{}_{}", std::process::id(), free_port());
        psql(&admin_url, &format!("CREATE DATABASE {name}"));
        let url = match admin_url.rsplit_once('/') {
            Some((server, last)) if !last.contains('@') && !last.contains(':') => format!("{server}/{name}"),
            _ => format!("{}/{name}", admin_url.trim_end_matches('/')),
        };
        PostgresDatabase { admin_url, name, url }
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        psql(&self.admin_url, &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
    }
}

fn psql(url: &str, sql: &str) {
    let status = Command::new("psql").args(["-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql]).status().expect("run psql");
    assert!(status.success(), "psql failed: {sql}");
}

/// Everything one browser test stands on.
pub struct Stack {
    pub address: String,
    pub remotes: tempfile::TempDir,
    pub github: FakeGitHub,
    /// The fake model provider, for scripting answers.
    pub model: FakeModel,
    data: tempfile::TempDir,
    kosuke: Option<Process>,
    _driver: Process,
    driver_url: String,
}

/// Chats whose title holds this get their message pages `SLOW_PAGE` late.
pub const SLOW_CHAT: &str = "Slow chat";
pub const SLOW_PAGE: Duration = Duration::from_millis(1500);

/// The stack on the debug binary (or `KOSUKE_BIN`).
pub async fn stack() -> Stack {
    stack_on(None).await
}

/// The stack on the debug binary (or `KOSUKE_BIN`) with its database at `database_url`
/// (PostgreSQL), or SQLite in its data dir.
pub async fn stack_on(database_url: Option<String>) -> Stack {
    let binary = std::env::var("KOSUKE_BIN").map(PathBuf::from).unwrap_or_else(|_| root().join("target/debug/kosuke"));
    start(&binary, database_url, false).await
}

/// Two kosuke nodes on one PostgreSQL database, each a stack of its own (data dir, fakes,
/// chromedriver) with its node URL on loopback, the shared secrets and a heartbeat a second
/// (dead after three missed); A starts first.
pub async fn two_nodes(database_url: &str) -> (Stack, Stack) {
    let binary = std::env::var("KOSUKE_BIN").map(PathBuf::from).unwrap_or_else(|_| root().join("target/debug/kosuke"));
    let a = start(&binary, Some(database_url.to_owned()), true).await;
    let b = start(&binary, Some(database_url.to_owned()), true).await;
    (a, b)
}

/// The stack on the given `kosuke` binary (the benchmarks use the release build).
pub async fn stack_with(binary: &Path) -> Stack {
    start(binary, None, false).await
}

/// The nodes' shared `--secret-key` (32 bytes, base64) and `--node-secret`.
const NODE_KEY: &str = "a2t0ZXN0LWtleS1vZi10aGUtbm9kZXMtMzItYnl0ZXM=";
const NODE_SECRET: &str = "the e2e nodes' shared secret";

async fn start(binary: &Path, database_url: Option<String>, node: bool) -> Stack {
    assert!(
        binary.is_file(),
        "{} is missing: build it (cargo build -p api) or run `cargo xtask test`",
        binary.display()
    );
    let web = root().join("web/dist");
    assert!(
        web.join("index.html").is_file(),
        "web/dist is missing: run `cargo xtask web --dev` (cargo xtask test does)"
    );
    let model = FakeModel::start().await;
    let github = FakeGitHub::start().await;
    let remotes = tempfile::TempDir::new().unwrap();
    let data = tempfile::TempDir::new().unwrap();
    let port = free_port();
    let address = format!("http://127.0.0.1:{port}");
    let node_env = node.then(|| {
        [
            ("KOSUKE_NODE_URL", address.clone()),
            ("KOSUKE_NODE_SECRET", NODE_SECRET.to_owned()),
            ("KOSUKE_SECRET_KEY", NODE_KEY.to_owned()),
            ("KOSUKE_NODE_HEARTBEAT_SECS", "1".to_owned()),
        ]
    });
    let kosuke = spawn(
        Command::new(binary)
            .envs(node_env.into_iter().flatten())
            .args(["serve", "--bind", &format!("127.0.0.1:{port}"), "--data-dir"])
            .arg(data.path())
            .env_remove("DATABASE_URL")
            .envs(database_url.map(|url| ("DATABASE_URL", url)))
            .env("RUST_LOG", "warn")
            .env("KOSUKE_WEB_DIR", &web)
            .env("KOSUKE_AGENT_PROVIDER", "anthropic")
            .env("KOSUKE_AGENT_MODEL", "claude-test")
            .env("KOSUKE_AGENT_BASE_URL", &model.url)
            .env("KOSUKE_AGENT_API_KEY", "sk-test")
            .env("KOSUKE_GITHUB_API_URL", &github.url)
            .env("KOSUKE_GITHUB_GIT_URL", remotes.path())
            .env("KOSUKE_GITHUB_WEBHOOK_SECRET", WEBHOOK_SECRET)
            // Dev server ports of its own: stacks of tests running at once never meet, whether
            // each test is a process (nextest) or all are threads of one (`cargo test`).
            .env("KOSUKE_PREVIEW_PORTS", {
                static STACKS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
                let stack = STACKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 25;
                let base = 60000 + (std::process::id() % 20) * 250 + stack * 10;
                format!("{base}-{}", base + 9)
            })
            // Chats titled "Slow chat…" answer their message pages late (a slow network).
            .env("KOSUKE_TEST_SLOW_MESSAGE_PAGES", format!("{SLOW_CHAT}={}", SLOW_PAGE.as_millis())),
    );
    let driver_port = free_port();
    let driver = spawn(Command::new("chromedriver").arg(format!("--port={driver_port}")));
    let driver_url = format!("http://127.0.0.1:{driver_port}");
    wait_http(&address).await;
    wait_http(&driver_url).await;
    Stack { address, remotes, github, model, data, kosuke: Some(kosuke), _driver: driver, driver_url }
}

impl Stack {
    /// The server's data dir.
    pub fn data_path(&self) -> &Path {
        self.data.path()
    }

    /// `kill -9` of the stack's kosuke: nothing is saved or stopped.
    pub fn kill_server(&mut self) {
        drop(self.kosuke.take());
    }

    /// The server's SQLite database, for seeding what would take too long through the API.
    pub fn database_url(&self) -> String {
        format!("sqlite://{}?mode=rw", self.data.path().join("kosuke.db").display())
    }
}

pub async fn browser(stack: &Stack, width: u32, height: u32) -> Client {
    let profile = tempfile::TempDir::new().unwrap().keep();
    let capabilities = serde_json::json!({
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--disable-quic", format!("--user-data-dir={}", profile.display()),
                format!("--window-size={width},{height}"),
            ],
        },
        // The console's messages are kept for `console_errors`.
        "goog:loggingPrefs": { "browser": "ALL" },
    });
    let capabilities = capabilities.as_object().unwrap().clone();
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client = ClientBuilder::new(connector)
        .capabilities(capabilities)
        .connect(&stack.driver_url)
        .await
        .expect("a browser session");
    client.set_window_size(width, height).await.unwrap();
    client
}

/// A bare repository at `path` with README.md (and a symlink leading out) on main and one
/// commit on `develop`.
pub fn origin(path: &Path) {
    let repo = git2::Repository::init_bare(path).unwrap();
    let signature = git2::Signature::now("Origin", "origin@example.test").unwrap();
    let mut builder = repo.treebuilder(None).unwrap();
    builder.insert("README.md", repo.blob(b"# Shop\n").unwrap(), 0o100644).unwrap();
    builder.insert("outside", repo.blob(b"/etc/hostname").unwrap(), 0o120000).unwrap();
    // The test dev server, for projects whose run settings start it as their preview.
    builder
        .insert(fakes::dev_server::FILE, repo.blob(fakes::dev_server::SCRIPT.as_bytes()).unwrap(), 0o100644)
        .unwrap();
    let tree = repo.find_tree(builder.write().unwrap()).unwrap();
    let main = repo.commit(Some("refs/heads/main"), &signature, &signature, "first", &tree, &[]).unwrap();
    let mut builder = repo.treebuilder(Some(&tree)).unwrap();
    builder.insert("BRANCH.txt", repo.blob(b"develop\n").unwrap(), 0o100644).unwrap();
    let develop_tree = repo.find_tree(builder.write().unwrap()).unwrap();
    let parent = repo.find_commit(main).unwrap();
    repo.commit(Some("refs/heads/develop"), &signature, &signature, "develop", &develop_tree, &[&parent]).unwrap();
    repo.set_head("refs/heads/main").unwrap();
}

pub const WAIT: Duration = Duration::from_secs(20);

/// What the stack's kosuke checks GitHub's webhook deliveries with.
pub const WEBHOOK_SECRET: &str = "e2e webhook secret";

/// Delivers a GitHub webhook to the stack's kosuke, signed as GitHub signs it; the status.
pub fn deliver_webhook(stack: &Stack, event: &str, payload: &serde_json::Value) -> u16 {
    use hmac::{Hmac, Mac};
    use std::io::{Read, Write};
    let body = serde_json::to_vec(payload).unwrap();
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(WEBHOOK_SECRET.as_bytes()).unwrap();
    mac.update(&body);
    let signature: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    let host = stack.address.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    let head = format!(
        "POST /api/github/webhook HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nX-GitHub-Event: {event}\r\n\
         X-Hub-Signature-256: sha256={signature}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&body).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0)
}

pub async fn find(c: &Client, css: &str) -> fantoccini::elements::Element {
    c.wait().at_most(WAIT).for_element(Locator::Css(css)).await.unwrap_or_else(|e| panic!("no {css}: {e}"))
}

pub async fn click(c: &Client, css: &str) {
    find(c, css).await.click().await.unwrap_or_else(|e| panic!("click {css}: {e}"));
}

pub async fn type_into(c: &Client, css: &str, text: &str) {
    let element = find(c, css).await;
    element.clear().await.ok();
    element.send_keys(text).await.unwrap_or_else(|e| panic!("type into {css}: {e}"));
}

/// Clicks the button (or link) whose text is exactly `text`, inside `scope`.
pub async fn click_text(c: &Client, scope: &str, text: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        for element in c.find_all(Locator::Css(&format!("{scope} button, {scope} a"))).await.unwrap_or_default() {
            if element.text().await.unwrap_or_default().trim() == text && element.click().await.is_ok() {
                return;
            }
        }
        assert!(Instant::now() < deadline, "no {text:?} in {scope}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Replaces an input's text (select all, type) without clearing it first (clearing blurs).
pub async fn replace_text(c: &Client, css: &str, text: &str) {
    let element = find(c, css).await;
    let keys = format!("\u{E009}a\u{E000}{text}");
    element.send_keys(&keys).await.unwrap_or_else(|e| panic!("type into {css}: {e}"));
}

/// Waits until the text content of `css` (all matches joined; hidden parts too, as in a
/// closed drawer) satisfies `check`.
pub async fn wait_text(c: &Client, css: &str, what: &str, check: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let mut text = String::new();
        for element in c.find_all(Locator::Css(css)).await.unwrap_or_default() {
            text.push_str(&element.prop("textContent").await.ok().flatten().unwrap_or_default());
            text.push('\n');
        }
        if check(&text) {
            return text;
        }
        assert!(Instant::now() < deadline, "{css}: {what}; it shows {text:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn screenshot(c: &Client, name: &str) {
    let dir = root().join("e2e/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.png")), c.screenshot().await.unwrap()).unwrap();
}

pub async fn sign_up(c: &Client, stack: &Stack, name: &str) {
    c.goto(&format!("{}/signup", stack.address)).await.unwrap();
    type_into(c, "input[name=display_name]", name).await;
    type_into(c, "input[name=email]", &format!("{}@example.test", name.to_lowercase())).await;
    type_into(c, "input[name=password]", "correct horse battery").await;
    click(c, "button[type=submit]").await;
    wait_text(c, "h1", "shows the projects page", |t| t.contains("Projects")).await;
}

pub async fn create_project(c: &Client, name: &str, kind: &str, location: &str) {
    type_into(c, "input[name=project_name]", name).await;
    find(c, "select[name=kind]").await.select_by_value(kind).await.unwrap();
    if kind != "empty" {
        type_into(c, "input[name=location]", location).await;
    }
    click(c, "form button[type=submit]").await;
    let deadline = Instant::now() + WAIT;
    while !c.current_url().await.unwrap().path().starts_with("/projects/") {
        assert!(Instant::now() < deadline, "the project did not open");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    wait_text(c, "[data-testid=current-branch]", "shows the default branch", |t| {
        t.contains("main") || t.contains("develop")
    })
    .await;
}

/// Opens the phone layout's sidebar drawer and waits until it has slid in (its 0.2 s
/// transition), so what is in it can be clicked.
pub async fn open_drawer(c: &Client) {
    click(c, ".drawer-toggle").await;
    let deadline = Instant::now() + WAIT;
    loop {
        let left = c
            .execute("return document.querySelector('.sidebar.open')?.getBoundingClientRect().left ?? -1", vec![])
            .await
            .unwrap();
        if left.as_f64().is_some_and(|left| left >= 0.0) {
            return;
        }
        assert!(Instant::now() < deadline, "the drawer did not open");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn new_chat(c: &Client, title: &str) {
    click(c, ".new-chat").await;
    type_into(c, ".dialog input[name=title]", title).await;
    click(c, ".dialog button[type=submit]").await;
    wait_text(c, "[data-testid=current-branch]", "shows the chat's branch", |t| t.contains("kosuke-chat-")).await;
    wait_text(c, ".session-card.active", "highlights the new chat", |t| t.contains(title)).await;
}

pub async fn send(c: &Client, prompt: &str) {
    type_into(c, "textarea[name=prompt]", prompt).await;
    click(c, ".composer button[type=submit]").await;
    wait_text(c, "[data-testid=message]", "shows the agent's answer", |t| t.contains("Done:")).await;
}

pub async fn open_chat(c: &Client, title: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        for card in c.find_all(Locator::Css(".session-card .session-main")).await.unwrap_or_default() {
            if card.text().await.unwrap_or_default().starts_with(title) {
                card.click().await.unwrap();
                wait_text(c, ".session-card.active", "opens the chat", |t| t.starts_with(title)).await;
                return;
            }
        }
        assert!(Instant::now() < deadline, "no chat {title:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Opens the menu of the chat titled `title` and picks `item`.
pub async fn chat_menu(c: &Client, title: &str, item: &str) {
    open_chat_menu(c, title).await;
    click_text(c, ".menu", item).await;
}

/// Presses keys (text, or `fantoccini::key::Key`s) on the element that has the focus.
pub async fn press(c: &Client, keys: &str) {
    let focused = c.active_element().await.unwrap();
    focused.send_keys(keys).await.unwrap_or_else(|e| panic!("press {keys:?}: {e}"));
}

/// Waits until the focused element is `expected`: a field's name, else its text.
pub async fn wait_focus(c: &Client, what: &str, expected: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let focused = c
            .execute(
                "const e = document.activeElement; return e ? (e.getAttribute('name') || e.textContent.trim()) : ''",
                vec![],
            )
            .await
            .unwrap();
        if focused.as_str() == Some(expected) {
            return;
        }
        assert!(Instant::now() < deadline, "focus: {what}; it is on {focused}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Opens the menu of the chat titled `title`.
pub async fn open_chat_menu(c: &Client, title: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        for card in c.find_all(Locator::Css(".session-card")).await.unwrap_or_default() {
            if card.text().await.unwrap_or_default().starts_with(title) {
                card.find(Locator::Css(".menu-button")).await.unwrap().click().await.unwrap();
                find(c, ".menu").await;
                return;
            }
        }
        assert!(Instant::now() < deadline, "no chat {title:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until nothing matches `css`.
pub async fn wait_gone(c: &Client, css: &str, what: &str) {
    let deadline = Instant::now() + WAIT;
    while c.find(Locator::Css(css)).await.is_ok() {
        assert!(Instant::now() < deadline, "{css} is still there: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Chromium's `GET`-the-log command (`POST /session/{id}/se/log`, `{"type": "browser"}`): the
/// console's messages since the last call.
#[derive(Debug)]
struct BrowserLog;

impl fantoccini::wd::WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/se/log", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.to_owned()))
    }
}

/// The console errors, uncaught exceptions and wasm panics since the last call (each a
/// `SEVERE` entry of the browser's log). Chromium's own lines for HTTP error statuses ("Failed
/// to load resource": a 401 before signing in, a 409 the page shows) are answers the app
/// handles, not errors of the page, and are left out.
pub async fn console_errors(c: &Client) -> Vec<String> {
    let log = c.issue_cmd(BrowserLog).await.expect("the browser's log");
    log.as_array()
        .into_iter()
        .flatten()
        .filter(|entry| entry["level"] == "SEVERE")
        .filter(|entry| !entry["message"].as_str().unwrap_or_default().contains("Failed to load resource"))
        .map(|entry| entry["message"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Fails the test on any console error, uncaught exception or wasm panic so far.
pub async fn assert_console_clean(c: &Client) {
    let errors = console_errors(c).await;
    assert!(errors.is_empty(), "the console has errors: {errors:#?}");
}
