//! Browser tests: the real `kosuke` binary (with the built web app), Debian's Chromium driven
//! through chromedriver, a fake model provider and a fake GitHub on loopback. Screenshots of
//! each main screen land in `e2e/screenshots/`.

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
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
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

/// Everything one browser test stands on.
struct Stack {
    address: String,
    remotes: tempfile::TempDir,
    github: FakeGitHub,
    _model: FakeModel,
    _data: tempfile::TempDir,
    _kosuke: Process,
    _driver: Process,
    driver_url: String,
}

async fn stack() -> Stack {
    let binary = std::env::var("KOSUKE_BIN").map(PathBuf::from).unwrap_or_else(|_| root().join("target/debug/kosuke"));
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
    let kosuke = spawn(
        Command::new(&binary)
            .args(["serve", "--bind", &format!("127.0.0.1:{port}"), "--data-dir"])
            .arg(data.path())
            .env_remove("DATABASE_URL")
            .env("KOSUKE_WEB_DIR", &web)
            .env("KOSUKE_AGENT_PROVIDER", "anthropic")
            .env("KOSUKE_AGENT_MODEL", "claude-test")
            .env("KOSUKE_AGENT_BASE_URL", &model.url)
            .env("KOSUKE_AGENT_API_KEY", "sk-test")
            .env("KOSUKE_GITHUB_API_URL", &github.url)
            .env("KOSUKE_GITHUB_GIT_URL", remotes.path()),
    );
    let driver_port = free_port();
    let driver = spawn(Command::new("chromedriver").arg(format!("--port={driver_port}")));
    let address = format!("http://127.0.0.1:{port}");
    let driver_url = format!("http://127.0.0.1:{driver_port}");
    wait_http(&address).await;
    wait_http(&driver_url).await;
    Stack { address, remotes, github, _model: model, _data: data, _kosuke: kosuke, _driver: driver, driver_url }
}

async fn browser(stack: &Stack, width: u32, height: u32) -> Client {
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
        }
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

/// A bare repository at `path` with README.md on main and one commit on `develop`.
fn origin(path: &Path) {
    let repo = git2::Repository::init_bare(path).unwrap();
    let signature = git2::Signature::now("Origin", "origin@example.test").unwrap();
    let mut builder = repo.treebuilder(None).unwrap();
    builder.insert("README.md", repo.blob(b"# Shop\n").unwrap(), 0o100644).unwrap();
    let tree = repo.find_tree(builder.write().unwrap()).unwrap();
    let main = repo.commit(Some("refs/heads/main"), &signature, &signature, "first", &tree, &[]).unwrap();
    let mut builder = repo.treebuilder(Some(&tree)).unwrap();
    builder.insert("BRANCH.txt", repo.blob(b"develop\n").unwrap(), 0o100644).unwrap();
    let develop_tree = repo.find_tree(builder.write().unwrap()).unwrap();
    let parent = repo.find_commit(main).unwrap();
    repo.commit(Some("refs/heads/develop"), &signature, &signature, "develop", &develop_tree, &[&parent]).unwrap();
    repo.set_head("refs/heads/main").unwrap();
}

const WAIT: Duration = Duration::from_secs(20);

async fn find(c: &Client, css: &str) -> fantoccini::elements::Element {
    c.wait().at_most(WAIT).for_element(Locator::Css(css)).await.unwrap_or_else(|e| panic!("no {css}: {e}"))
}

async fn click(c: &Client, css: &str) {
    find(c, css).await.click().await.unwrap_or_else(|e| panic!("click {css}: {e}"));
}

async fn type_into(c: &Client, css: &str, text: &str) {
    let element = find(c, css).await;
    element.clear().await.ok();
    element.send_keys(text).await.unwrap_or_else(|e| panic!("type into {css}: {e}"));
}

/// Clicks the button (or link) whose text is exactly `text`, inside `scope`.
async fn click_text(c: &Client, scope: &str, text: &str) {
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
async fn replace_text(c: &Client, css: &str, text: &str) {
    let element = find(c, css).await;
    let keys = format!("\u{E009}a\u{E000}{text}");
    element.send_keys(&keys).await.unwrap_or_else(|e| panic!("type into {css}: {e}"));
}

/// Waits until the text content of `css` (all matches joined; hidden parts too, as in a
/// closed drawer) satisfies `check`.
async fn wait_text(c: &Client, css: &str, what: &str, check: impl Fn(&str) -> bool) -> String {
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

async fn screenshot(c: &Client, name: &str) {
    let dir = root().join("e2e/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.png")), c.screenshot().await.unwrap()).unwrap();
}

async fn sign_up(c: &Client, stack: &Stack, name: &str) {
    c.goto(&format!("{}/signup", stack.address)).await.unwrap();
    type_into(c, "input[name=display_name]", name).await;
    type_into(c, "input[name=email]", &format!("{}@example.test", name.to_lowercase())).await;
    type_into(c, "input[name=password]", "correct horse battery").await;
    click(c, "button[type=submit]").await;
    wait_text(c, "h1", "shows the projects page", |t| t.contains("Projects")).await;
}

async fn create_project(c: &Client, name: &str, kind: &str, location: &str) {
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

async fn new_chat(c: &Client, title: &str) {
    click(c, ".new-chat").await;
    type_into(c, ".dialog input[name=title]", title).await;
    click(c, ".dialog button[type=submit]").await;
    wait_text(c, "[data-testid=current-branch]", "shows the chat's branch", |t| t.contains("kosuke-chat-")).await;
    wait_text(c, ".session-card.active", "highlights the new chat", |t| t.contains(title)).await;
}

async fn send(c: &Client, prompt: &str) {
    type_into(c, "textarea[name=prompt]", prompt).await;
    click(c, ".composer button[type=submit]").await;
    wait_text(c, "[data-testid=message]", "shows the agent's answer", |t| t.contains("Done:")).await;
}

async fn open_chat(c: &Client, title: &str) {
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
async fn chat_menu(c: &Client, title: &str, item: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        for card in c.find_all(Locator::Css(".session-card")).await.unwrap_or_default() {
            if card.text().await.unwrap_or_default().starts_with(title) {
                card.find(Locator::Css(".menu-button")).await.unwrap().click().await.unwrap();
                click_text(c, ".menu", item).await;
                return;
            }
        }
        assert!(Instant::now() < deadline, "no chat {title:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_works_through_chats_branches_and_a_pull_request() {
    let stack = stack().await;
    let shop = stack.remotes.path().join("shop.git");
    origin(&shop);
    let c = browser(&stack, 1280, 800).await;
    sign_up(&c, &stack, "Ann").await;
    screenshot(&c, "projects-desktop").await;
    create_project(&c, "Shop", "local", shop.to_str().unwrap()).await;
    screenshot(&c, "workspace-empty-desktop").await;

    new_chat(&c, "First").await;
    send(&c, "write alpha").await;
    screenshot(&c, "chat-desktop").await;
    new_chat(&c, "Second").await;
    send(&c, "write beta").await;

    // Each chat sees only its own files.
    let files = wait_text(&c, "[data-testid=file-tree]", "lists beta.txt", |t| t.contains("beta.txt")).await;
    assert!(!files.contains("alpha.txt"), "{files}");
    open_chat(&c, "First").await;
    let files = wait_text(&c, "[data-testid=file-tree]", "lists alpha.txt", |t| t.contains("alpha.txt")).await;
    assert!(!files.contains("beta.txt"), "{files}");
    wait_text(&c, "[data-testid=message]", "keeps the first chat's history", |t| t.contains("write alpha")).await;
    screenshot(&c, "code-desktop").await;

    // Rename, archive, unarchive, search, delete.
    chat_menu(&c, "Second", "Rename").await;
    replace_text(&c, "input.rename", "Second renamed\u{E007}").await;
    wait_text(&c, ".sidebar .sessions", "shows the new title", |t| t.contains("Second renamed")).await;
    chat_menu(&c, "Second renamed", "Archive").await;
    wait_text(&c, ".sidebar .sessions:not(.archived)", "moves it out of the active list", |t| {
        !t.contains("Second renamed")
    })
    .await;
    click(&c, ".archived-toggle").await;
    wait_text(&c, ".sessions.archived", "lists it as archived", |t| t.contains("Second renamed")).await;
    chat_menu(&c, "Second renamed", "Unarchive").await;
    wait_text(&c, ".sidebar .sessions:not(.archived)", "brings it back", |t| t.contains("Second renamed")).await;
    type_into(&c, "input.search", "First").await;
    wait_text(&c, ".sidebar .sessions:not(.archived)", "finds only First", |t| {
        t.contains("First") && !t.contains("Second")
    })
    .await;
    type_into(&c, "input.search", "").await;
    find(&c, "input.search").await.send_keys(" ").await.unwrap();
    find(&c, "input.search").await.clear().await.unwrap();
    wait_text(&c, ".sidebar .sessions:not(.archived)", "lists every chat again", |t| t.contains("Second renamed"))
        .await;
    chat_menu(&c, "Second renamed", "Delete").await;
    find(&c, ".dialog[role=alertdialog]").await;
    screenshot(&c, "delete-confirm-desktop").await;
    click_text(&c, ".dialog", "Delete").await;
    wait_text(&c, ".sidebar", "removes the chat", |t| !t.contains("Second renamed")).await;

    // The default branch: change it, and the next chat starts from it.
    click_text(&c, ".tabs", "Settings").await;
    find(&c, "[data-testid=default-branch]").await.select_by_value("develop").await.unwrap();
    click_text(&c, ".settings", "Save").await;
    wait_text(&c, ".toasts", "confirms the save", |t| t.contains("Default branch saved")).await;
    screenshot(&c, "settings-desktop").await;
    let project_url = c.current_url().await.unwrap();
    let project_url = project_url.as_str().split("/sessions/").next().unwrap().to_owned();
    c.goto(&project_url).await.unwrap();
    wait_text(&c, "[data-testid=current-branch]", "shows the default branch with no chat open", |t| {
        t.contains("develop")
    })
    .await;
    new_chat(&c, "Third").await;
    wait_text(&c, "[data-testid=base-branch]", "shows the chat started from develop", |t| t.contains("develop")).await;
    click_text(&c, ".tabs", "Code").await;
    wait_text(&c, "[data-testid=file-tree]", "starts from develop", |t| t.contains("BRANCH.txt")).await;
    click_text(&c, ".tabs", "Preview").await;
    find(&c, "iframe.preview-frame").await;
    screenshot(&c, "preview-desktop").await;
    click_text(&c, ".tabs", "Branding").await;
    find(&c, ".branding input[type=color]").await;
    screenshot(&c, "branding-desktop").await;

    // A pull request from a GitHub project opens in a new tab at the PR's page.
    stack.github.accept_token("ghp_e2eToken", "octocat", "repo");
    origin(&stack.remotes.path().join("octocat/Hello-World.git"));
    c.goto(&format!("{}/account", stack.address)).await.unwrap();
    type_into(&c, "input[name=github_token]", "ghp_e2eToken").await;
    click_text(&c, "main", "Connect").await;
    wait_text(&c, "main", "shows the connected account", |t| t.contains("Connected as octocat")).await;
    screenshot(&c, "account-desktop").await;
    c.goto(&format!("{}/", stack.address)).await.unwrap();
    create_project(&c, "Hello", "github", "octocat/Hello-World").await;
    let button = find(&c, "[data-testid=create-pr]").await;
    assert!(button.attr("disabled").await.unwrap().is_some(), "disabled without a chat");
    new_chat(&c, "Greeting").await;
    send(&c, "write gamma").await;
    let before = c.windows().await.unwrap();
    click(&c, "[data-testid=create-pr]").await;
    let deadline = Instant::now() + WAIT;
    let opened = loop {
        let now = c.windows().await.unwrap();
        if let Some(new) = now.into_iter().find(|w| !before.contains(w)) {
            break new;
        }
        assert!(Instant::now() < deadline, "no new tab opened");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    c.switch_to_window(opened).await.unwrap();
    let expected = format!("{}/octocat/Hello-World/pull/1347", stack.github.url);
    let deadline = Instant::now() + WAIT;
    while c.current_url().await.unwrap().as_str() != expected {
        assert!(Instant::now() < deadline, "the new tab is at {}", c.current_url().await.unwrap());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_core_flow_works_on_a_phone() {
    let stack = stack().await;
    let c = browser(&stack, 390, 844).await;
    sign_up(&c, &stack, "Bo").await;
    screenshot(&c, "projects-mobile").await;
    create_project(&c, "Pocket", "empty", "").await;
    click(&c, ".drawer-toggle").await;
    screenshot(&c, "sidebar-drawer-mobile").await;
    new_chat(&c, "On the go").await;
    send(&c, "write phone").await;
    screenshot(&c, "chat-mobile").await;
    for (tab, name) in [("Code", "code-mobile"), ("Settings", "settings-mobile")] {
        click_text(&c, ".tabs", tab).await;
        c.execute("document.querySelector('.details').scrollIntoView()", vec![]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        screenshot(&c, name).await;
    }
    c.execute("window.scrollTo(0, 0)", vec![]).await.unwrap();
    click(&c, ".drawer-toggle").await;
    wait_text(&c, ".sidebar", "lists the chat in the drawer", |t| t.contains("On the go")).await;
    c.close().await.unwrap();
}
