//! Browser tests of the whole flow, on a desktop and on a phone.

use e2e::*;
use fakes::model::{Reply, text, tool};
use fantoccini::Locator;
use fantoccini::key::Key;
use std::time::{Duration, Instant};

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
    wait_text(&c, ".message.assistant .tokens", "shows the turn's tokens", |t| t.contains("tokens in")).await;
    screenshot(&c, "chat-desktop").await;

    // A busy provider mid-answer: the retry is said, the failed attempt's text struck out.
    stack.model.script([
        Reply::Fixture { name: "anthropic-overloaded.sse", split_at: None },
        Reply::Parts(vec![text("Une réponse entière.")]),
    ]);
    send(&c, "Réponds").await;
    wait_text(&c, ".message.assistant .retry", "says the provider was busy", |t| t.contains("retrying in")).await;
    wait_text(&c, ".message.assistant .retry del", "keeps the discarded text", |t| {
        t.contains("Je commence à répondre")
    })
    .await;
    wait_text(&c, "[data-testid=message]", "shows the whole answer", |t| t.contains("Une réponse entière.")).await;
    screenshot(&c, "retry-desktop").await;
    new_chat(&c, "Second").await;
    send(&c, "write beta").await;

    // Each chat sees only its own files.
    let files = wait_text(&c, "[data-testid=file-tree]", "lists beta.txt", |t| t.contains("beta.txt")).await;
    assert!(!files.contains("alpha.txt"), "{files}");
    assert!(files.contains("outside ↪"), "a committed symlink is shown as one: {files}");
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

    // The keyboard: the tabs follow the arrows, Home and End; the New Chat dialog takes the
    // focus, keeps Tab inside and gives the focus back on Escape; a chat's menu takes the focus
    // and moves with the arrows, and Escape returns to its button.
    click_text(&c, ".tabs", "Code").await;
    for (key, tab) in
        [(Key::Right, "Branding"), (Key::End, "Settings"), (Key::Right, "Preview"), (Key::Left, "Settings")]
    {
        press(&c, &key).await;
        wait_focus(&c, "moves along the tabs", tab).await;
        wait_text(&c, ".tabs [aria-selected=true]", "selects the focused tab", |t| t.trim() == tab).await;
    }
    find(&c, "#tab-panel[aria-labelledby=tab-settings] .settings").await;
    press(&c, &Key::Home).await;
    wait_focus(&c, "goes to the first tab", "Preview").await;
    click_text(&c, ".tabs", "Code").await;
    click(&c, ".new-chat").await;
    wait_focus(&c, "moves into the dialog", "title").await;
    // It opens blank: the required title is empty (so `:invalid`), not the last chat's.
    find(&c, ".dialog input[name=title]:invalid").await;
    screenshot(&c, "new-chat-desktop").await;
    press(&c, &(Key::Shift + &Key::Tab)).await;
    wait_focus(&c, "wraps to the dialog's last button", "Create chat").await;
    press(&c, &Key::Tab).await;
    wait_focus(&c, "wraps to the dialog's first field", "title").await;
    press(&c, &Key::Escape).await;
    wait_focus(&c, "returns to the button that opened the dialog", "+ New Chat").await;
    assert!(c.find(Locator::Css(".dialog")).await.is_err(), "Escape closes the dialog");
    open_chat_menu(&c, "First").await;
    wait_focus(&c, "moves into the menu", "Rename").await;
    press(&c, &Key::Down).await;
    wait_focus(&c, "moves down the menu", "Duplicate").await;
    press(&c, &Key::Up).await;
    press(&c, &Key::Up).await;
    wait_focus(&c, "wraps to the menu's last item", "Delete").await;
    press(&c, &Key::Escape).await;
    wait_focus(&c, "returns to the menu's button", "⋯").await;
    assert!(c.find(Locator::Css(".menu")).await.is_err(), "Escape closes the menu");
    // A click elsewhere closes it too; a second click on its button as well (not reopening it).
    open_chat_menu(&c, "First").await;
    wait_focus(&c, "moves into the menu", "Rename").await;
    click(&c, "textarea[name=prompt]").await;
    wait_gone(&c, ".menu", "a click elsewhere closes the menu").await;
    open_chat_menu(&c, "First").await;
    wait_focus(&c, "moves into the menu", "Rename").await;
    click(&c, ".session-card .menu-button[aria-expanded=true]").await;
    wait_gone(&c, ".menu", "its button closes the menu").await;
    // After the next thing the page does (focus back on the button), it is still closed.
    wait_focus(&c, "keeps focus on the menu's button", "⋯").await;
    assert!(c.find(Locator::Css(".menu")).await.is_err(), "and it stays closed");

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
    // The first account is the admin: the server's accounts and invite links are here.
    wait_text(&c, "[data-testid=accounts]", "lists the admin", |t| {
        t.contains("ann@example.test") && t.contains("admin")
    })
    .await;
    click_text(&c, "main", "Make an invite link").await;
    wait_text(&c, "[data-testid=invite-link]", "shows the link once", |t| t.contains("/signup?invite=")).await;
    screenshot(&c, "account-desktop").await;
    c.goto(&format!("{}/", stack.address)).await.unwrap();
    create_project(&c, "Hello", "github", "octocat/Hello-World").await;
    let button = find(&c, "[data-testid=create-pr]").await;
    assert!(button.attr("disabled").await.unwrap().is_some(), "disabled without a chat");
    new_chat(&c, "Greeting").await;
    send(&c, "write gamma").await;
    click(&c, "[data-testid=create-pr]").await;
    find(&c, "[data-testid=pr-dialog]").await;
    let before = c.windows().await.unwrap();
    click(&c, "[data-testid=pr-dialog] button[type=submit]").await;
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
    assert_console_clean(&c).await;
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
    assert_console_clean(&c).await;
    c.close().await.unwrap();
}

/// The path's last segment: the open chat's id.
async fn open_chat_id(c: &fantoccini::Client) -> String {
    c.current_url().await.unwrap().path().rsplit('/').next().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_message_page_never_lands_in_the_chat_opened_since() {
    let stack = stack().await;
    let c = browser(&stack, 1280, 800).await;
    sign_up(&c, &stack, "Cy").await;
    create_project(&c, "Pages", "empty", "").await;
    new_chat(&c, &format!("{SLOW_CHAT} one")).await;
    stack.model.script([Reply::Parts(vec![text("Done: the slow chat's answer.")])]);
    send(&c, "only in the slow chat").await;
    let slow = open_chat_id(&c).await;
    new_chat(&c, "Quick chat").await;
    stack.model.script([Reply::Parts(vec![text("Done: the quick chat's answer.")])]);
    send(&c, "only in the quick chat").await;

    // Open the slow chat (its page is on its way, late), then the quick one at once.
    open_chat(&c, SLOW_CHAT).await;
    open_chat(&c, "Quick chat").await;
    wait_text(&c, "[data-testid=message]", "shows the quick chat", |t| t.contains("only in the quick chat")).await;
    // The slow chat's page has reached the browser…
    let arrived = format!(
        "return performance.getEntriesByType('resource').some(e => e.name.includes('/chat-sessions/{slow}/messages') && e.responseEnd > 0)"
    );
    let deadline = Instant::now() + SLOW_PAGE * 4;
    while c.execute(&arrived, vec![]).await.unwrap() != serde_json::json!(true) {
        assert!(Instant::now() < deadline, "the slow page never arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // …and the open chat still shows only its own messages.
    let shown = find(&c, ".messages").await.text().await.unwrap();
    assert!(shown.contains("only in the quick chat") && !shown.contains("slow chat"), "{shown}");
    assert_console_clean(&c).await;
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_a_chat_mid_run_shows_every_streamed_word_once() {
    let stack = stack().await;
    let c = browser(&stack, 1280, 800).await;
    sign_up(&c, &stack, "Di").await;
    create_project(&c, "Stream", "empty", "").await;
    new_chat(&c, "Other").await;
    new_chat(&c, "Streaming").await;
    // Long enough (12 s) that the chat is reopened mid-run even on a loaded machine.
    stack.model.script([Reply::Slow { chunks: 120, every: Duration::from_millis(100) }]);
    type_into(&c, "textarea[name=prompt]", "count slowly").await;
    click(&c, ".composer button[type=submit]").await;
    wait_text(&c, ".message.assistant", "streams", |t| t.contains("chunk 2.")).await;
    // Away while it streams, and back mid-run: the snapshot, then the rest.
    open_chat(&c, "Other").await;
    wait_text(&c, ".messages", "shows the other chat", |t| t.contains("Say what you want built")).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    open_chat(&c, "Streaming").await;
    let reopened = wait_text(&c, ".message.assistant", "shows the run so far", |t| t.contains("chunk 5.")).await;
    assert!(!reopened.contains("chunk 119."), "reopened while the run was still live: {reopened}");
    let text = wait_text(&c, ".message.assistant", "shows the whole answer", |t| t.contains("chunk 119.")).await;
    for n in 0..120 {
        let word = format!("chunk {n}.");
        assert_eq!(text.matches(&word).count(), 1, "{word} once in {text}");
    }
    screenshot(&c, "resumed-mid-run-desktop").await;
    assert_console_clean(&c).await;
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_the_agent_runs_shows_its_output_as_it_comes_and_its_exit_code() {
    let stack = stack().await;
    let c = browser(&stack, 1280, 800).await;
    sign_up(&c, &stack, "Cy").await;
    create_project(&c, "Builds", "empty", "").await;
    new_chat(&c, "Run the build").await;
    let command = "echo compiling; sleep 2; echo 'error: 1 test failed'; exit 2";
    stack.model.script([
        Reply::Parts(vec![text("Running the tests."), tool("run_command", serde_json::json!({"command": command}))]),
        Reply::Parts(vec![text("The tests fail.")]),
    ]);
    type_into(&c, "textarea[name=prompt]", "run the tests").await;
    click(&c, ".composer button[type=submit]").await;
    // While it runs: the command, its first line, the running mark.
    let summary = wait_text(&c, ".message.assistant details.tool summary", "shows the command running", |t| {
        t.contains("⏳ $ echo compiling")
    })
    .await;
    let live = wait_text(&c, ".message.assistant details.tool pre", "shows its first line as it comes", |t| {
        t.trim() == "compiling"
    })
    .await;
    assert!(summary.contains("⏳") && !live.contains("exit code"), "still running: {summary} {live}");
    let open =
        c.execute("return document.querySelector('.message.assistant details.tool').open", vec![]).await.unwrap();
    assert_eq!(open, serde_json::json!(true), "the running command's output is open");
    screenshot(&c, "command-running-desktop").await;
    let done =
        wait_text(&c, ".message.assistant details.tool", "shows the exit code", |t| t.contains("[exit code 2]")).await;
    assert!(done.contains("error: 1 test failed") && done.contains("✗"), "{done}");
    wait_text(&c, "[data-testid=message]", "shows the answer after it", |t| t.contains("The tests fail.")).await;
    screenshot(&c, "command-finished-desktop").await;
    assert_console_clean(&c).await;
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_settings_set_up_each_new_chat_and_a_failed_setup_can_be_retried() {
    let stack = stack().await;
    let c = browser(&stack, 1280, 800).await;
    sign_up(&c, &stack, "Di").await;
    create_project(&c, "Runner", "empty", "").await;
    click_text(&c, ".tabs", "Settings").await;
    let section = "[data-testid=run-settings]";
    wait_text(&c, section, "shows the run settings", |t| t.contains("Setup command")).await;
    type_into(&c, "[data-testid=run-settings] input[aria-label='File path']", ".env.local").await;
    type_into(&c, "[data-testid=run-settings] textarea[aria-label='File content']", "GREETING=hello").await;
    click_text(&c, section, "Add or replace file").await;
    wait_text(&c, section, "lists the file", |t| t.contains(".env.local") && t.contains("14 bytes")).await;
    // Fails until a file `ok` exists; prints the copied file first.
    let script = "cat .env.local; sleep 1; test -f ok || { echo 'ok is missing'; exit 4; }";
    type_into(&c, ".run-settings textarea[placeholder='npm ci']", script).await;
    click_text(&c, section, "Save run settings").await;
    wait_text(&c, ".toasts", "confirms the save", |t| t.contains("Run settings saved")).await;
    wait_text(&c, section, "says where the setup comes from", |t| t.contains("In force: this project's setting."))
        .await;
    screenshot(&c, "run-settings-desktop").await;

    new_chat(&c, "Set up").await;
    let banner = "[data-testid=setup-banner]";
    let failed = wait_text(&c, banner, "shows the failed setup", |t| t.contains("The setup failed")).await;
    assert!(failed.contains("exited with code 4") && failed.contains("GREETING=hello"), "{failed}");
    assert!(failed.contains("ok is missing"), "the log's tail: {failed}");
    screenshot(&c, "setup-failed-desktop").await;
    click_text(&c, banner, "Skip it").await;
    wait_gone(&c, banner, "skipping leaves the chat ready").await;
    assert_console_clean(&c).await;
    c.close().await.unwrap();
}

/// Sets the project's dev command to the test dev server in the Settings tab.
async fn set_dev_command(c: &fantoccini::Client) {
    click_text(c, ".tabs", "Settings").await;
    let section = "[data-testid=run-settings]";
    wait_text(c, section, "shows the run settings", |t| t.contains("Dev command")).await;
    type_into(c, ".run-settings textarea[placeholder^='npm run dev']", "/usr/bin/python3 dev_server.py").await;
    click_text(c, section, "Save run settings").await;
    wait_text(c, ".toasts", "confirms the save", |t| t.contains("Run settings saved")).await;
}

/// Opens the Preview tab and waits for the dev server to run.
async fn running_preview(c: &fantoccini::Client) -> String {
    click_text(c, ".tabs", "Preview").await;
    wait_text(c, "[data-testid=preview-state]", "the dev server runs", |t| t.starts_with("Running on port")).await
}

/// What the framed page's own script can learn and reach, run inside the frame.
async fn from_inside_the_frame(c: &fantoccini::Client, kosuke: &str) -> serde_json::Value {
    let frame = find(c, "[data-testid=preview-frame]").await;
    frame.enter_frame().await.unwrap();
    let script = r#"
        const [kosuke, done] = arguments;
        const result = { cookies: document.cookie, origin: location.origin };
        fetch('/headers').then(r => r.json()).then(headers => {
            result.headers = headers;
            return fetch(kosuke + '/api/me', { credentials: 'include' })
                .then(r => r.text().then(body => { result.api = 'read: ' + r.status + ' ' + body; }))
                .catch(() => { result.api = 'blocked'; });
        }).catch(e => { result.error = String(e); }).finally(() => done(result));
    "#;
    let answer = c.execute_async(script, vec![serde_json::json!(kosuke)]).await.unwrap();
    c.enter_parent_frame().await.unwrap();
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_preview_tab_shows_the_chats_running_dev_server_on_its_own_origin() {
    let stack = stack().await;
    let site = stack.remotes.path().join("site.git");
    origin(&site);
    let c = browser(&stack, 1280, 800).await;
    sign_up(&c, &stack, "Pia").await;
    create_project(&c, "Site", "local", site.to_str().unwrap()).await;
    set_dev_command(&c).await;
    new_chat(&c, "Live").await;
    let state = running_preview(&c).await;
    let port: u16 = state.trim_start_matches("Running on port ").trim().parse().unwrap();
    wait_text(&c, "[data-testid=preview-log]", "shows the log", |t| t.contains(&format!("ready on {port}"))).await;
    wait_text(&c, ".session-card.active", "marks the chat's running preview", |t| t.contains("preview")).await;
    let frame = find(&c, "[data-testid=preview-frame]").await;
    frame.clone().enter_frame().await.unwrap();
    let listing = wait_text(&c, "body", "shows the dev server's page", |t| t.contains("dev_server.py")).await;
    assert!(listing.contains("README.md"), "the chat's checkout is served: {listing}");
    c.enter_parent_frame().await.unwrap();
    screenshot(&c, "preview-desktop").await;

    // The framed page: on an origin of its own, without kosuke's cookie, unable to call the
    // API as the user.
    let inside = from_inside_the_frame(&c, &stack.address).await;
    let origin = inside["origin"].as_str().unwrap_or_default();
    assert!(origin.starts_with("http://s") && origin.contains(".localhost:"), "{inside}");
    assert_eq!(inside["cookies"], "", "no cookie is readable there: {inside}");
    let sent = inside["headers"]["cookie"].as_str().unwrap_or_default();
    assert!(!sent.contains("kosuke_session") && !sent.contains("kosuke_preview"), "{inside}");
    assert_eq!(inside["api"], "blocked", "{inside}");

    // Restart: starting, then running again, the frame back.
    click_text(&c, "[data-testid=preview]", "Restart").await;
    running_preview(&c).await;
    frame_shows(&c, "dev_server.py").await;
    assert_console_clean(&c).await;
    c.close().await.unwrap();
}

/// Waits until the preview frame's page holds `what`.
async fn frame_shows(c: &fantoccini::Client, what: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let frame = find(c, "[data-testid=preview-frame]").await;
        frame.enter_frame().await.unwrap();
        let text = c.find(Locator::Css("body")).await.ok();
        let shown = match text {
            Some(body) => body.text().await.unwrap_or_default(),
            None => String::new(),
        };
        c.enter_parent_frame().await.unwrap();
        if shown.contains(what) {
            return;
        }
        assert!(Instant::now() < deadline, "the frame shows {shown:?}, not {what:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_preview_tab_works_on_a_phone() {
    let stack = stack().await;
    let site = stack.remotes.path().join("site.git");
    origin(&site);
    let c = browser(&stack, 390, 844).await;
    sign_up(&c, &stack, "Pat").await;
    create_project(&c, "Pocket site", "local", site.to_str().unwrap()).await;
    set_dev_command(&c).await;
    c.execute("window.scrollTo(0, 0)", vec![]).await.unwrap();
    click(&c, ".drawer-toggle").await;
    // The drawer slides in; its button takes clicks once it is in place.
    tokio::time::sleep(Duration::from_millis(500)).await;
    new_chat(&c, "Phone preview").await;
    running_preview(&c).await;
    frame_shows(&c, "dev_server.py").await;
    c.execute("document.querySelector('.details').scrollIntoView()", vec![]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    screenshot(&c, "preview-mobile").await;
    click_text(&c, "[data-testid=preview]", "Restart").await;
    running_preview(&c).await;
    frame_shows(&c, "dev_server.py").await;
    assert_console_clean(&c).await;
    c.close().await.unwrap();
}
