//! Browser tests of review and history: turns as checkpoints, queued messages, attention, the
//! Changes view and the Code tab, on a desktop and on a phone.

use e2e::*;
use fakes::model::{Reply, text, tool};
use fantoccini::Locator;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_is_a_checkpoint_to_revert_to_undo_and_fork_from() {
    let stack = stack().await;
    let shop = stack.remotes.path().join("steps.git");
    origin(&shop);
    let c = browser(&stack, 1280, 800).await;
    sign_up(&c, &stack, "Kai").await;
    create_project(&c, "Steps", "local", shop.to_str().unwrap()).await;
    new_chat(&c, "Steps").await;
    send(&c, "write alpha").await;
    send(&c, "write beta").await;
    wait_text(&c, "[data-testid=file-tree]", "lists beta.txt", |t| t.contains("beta.txt")).await;

    // Back to the first turn: the second is marked, Undo offered.
    click_text(&c, ".message.assistant", "Revert to here").await;
    wait_text(&c, ".undo-revert", "offers Undo", |t| t.contains("Undo revert")).await;
    let reverted = c.find_all(Locator::Css(".message.reverted")).await.unwrap();
    assert_eq!(reverted.len(), 2, "the second turn (prompt and answer) is marked");
    wait_text(&c, "[data-testid=file-tree]", "the files are the first turn's", |t| !t.contains("beta.txt")).await;
    screenshot(&c, "reverted-desktop").await;
    click_text(&c, ".undo-revert", "Undo revert").await;
    wait_gone(&c, ".undo-revert", "the revert is undone").await;
    wait_gone(&c, ".message.reverted", "no turn is marked").await;

    // A new chat from the first turn: its conversation is that turn only.
    click_text(&c, ".message.assistant", "Fork from here").await;
    wait_text(&c, ".session-card.active", "opens the fork", |t| t.contains("Fork of Steps")).await;
    let deadline = Instant::now() + WAIT;
    loop {
        let shown = c.find_all(Locator::Css("[data-testid=message]")).await.unwrap().len();
        if shown == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "the fork shows {shown} messages, not 2");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let files = wait_text(&c, "[data-testid=file-tree]", "lists alpha.txt", |t| t.contains("alpha.txt")).await;
    assert!(!files.contains("beta.txt"), "the fork starts at the first turn: {files}");
    assert_console_clean(&c).await;
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_sent_during_a_turn_waits_and_runs_after_it() {
    let stack = stack().await;
    let c = browser(&stack, 1280, 800).await;
    sign_up(&c, &stack, "Quinn").await;
    create_project(&c, "Queue", "empty", "").await;
    new_chat(&c, "Busy").await;
    stack.model.script([
        Reply::Slow { chunks: 60, every: Duration::from_millis(50) },
        Reply::Parts(vec![text("The queued one ran.")]),
    ]);
    type_into(&c, "textarea[name=prompt]", "a slow one").await;
    click(&c, ".composer button[type=submit]").await;
    wait_text(&c, ".composer", "offers Stop while it runs", |t| t.contains("Stop") && t.contains("Queue")).await;
    type_into(&c, "textarea[name=prompt]", "then this").await;
    click(&c, ".composer button[type=submit]").await;
    wait_text(&c, "[data-testid=queued-message]", "shows the waiting message", |t| t.contains("then this")).await;
    screenshot(&c, "queued-desktop").await;
    wait_gone(&c, "[data-testid=queued-message]", "the waiting message starts").await;
    wait_text(&c, ".messages", "runs it after the first", |t| t.contains("The queued one ran.")).await;
    let shown = c.find(Locator::Css(".messages")).await.unwrap().text().await.unwrap();
    let (first, second) = (shown.find("a slow one").unwrap(), shown.find("then this").unwrap());
    assert!(first < second, "in the order sent: {shown}");
    assert_console_clean(&c).await;
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_that_finished_out_of_sight_says_so_in_the_sidebar_and_the_tab_title() {
    let stack = stack().await;
    let c = browser(&stack, 1280, 800).await;
    sign_up(&c, &stack, "Uma").await;
    create_project(&c, "Many", "empty", "").await;
    new_chat(&c, "Background").await;
    new_chat(&c, "Foreground").await;
    open_chat(&c, "Background").await;
    stack.model.script([Reply::Slow { chunks: 40, every: Duration::from_millis(50) }]);
    type_into(&c, "textarea[name=prompt]", "take a while").await;
    click(&c, ".composer button[type=submit]").await;
    wait_text(&c, ".session-card.active [data-testid=attention]", "marks the chat working", |t| t.contains("working"))
        .await;
    open_chat(&c, "Foreground").await;
    let card = ".session-card:not(.active) [data-testid=attention]";
    wait_text(&c, card, "says the other chat's turn ended unread", |t| t.contains("1 unread")).await;
    let deadline = Instant::now() + WAIT;
    while c.title().await.unwrap() != "(1) kosuke" {
        assert!(Instant::now() < deadline, "the tab title is {:?}", c.title().await.unwrap());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    screenshot(&c, "unread-desktop").await;
    open_chat(&c, "Background").await;
    wait_gone(&c, "[data-testid=attention]", "reading it clears the mark").await;
    let deadline = Instant::now() + WAIT;
    while c.title().await.unwrap() != "kosuke" {
        assert!(Instant::now() < deadline, "the tab title is {:?}", c.title().await.unwrap());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    c.goto(&format!("{}/account", stack.address)).await.unwrap();
    wait_text(&c, "[data-testid=notifications]", "offers notifications", |t| t.contains("Allow notifications")).await;
    assert_console_clean(&c).await;
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_changes_list_each_file_with_numbered_lines_for_the_chat_or_one_turn() {
    let stack = stack().await;
    let c = browser(&stack, 1280, 800).await;
    sign_up(&c, &stack, "Vic").await;
    create_project(&c, "Diffs", "empty", "").await;
    new_chat(&c, "Changes").await;
    send(&c, "write alpha").await;
    send(&c, "write beta").await;
    click_text(&c, ".code", "Changes").await;
    let files = wait_text(&c, "[data-testid=changed-files]", "lists the changed files", |t| {
        t.contains("alpha.txt") && t.contains("beta.txt")
    })
    .await;
    assert!(files.contains("A") && files.contains("+1"), "status and counts: {files}");
    let line = wait_text(&c, "[data-testid=diff-line]", "shows numbered lines", |t| t.contains('1')).await;
    assert!(line.contains("alpha") || line.contains("beta"), "{line}");
    screenshot(&c, "changes-desktop").await;
    // One turn: the first wrote alpha.txt only.
    let first_turn = c.find(Locator::Css(".changes select option:nth-child(2)")).await.unwrap();
    let value = first_turn.attr("value").await.unwrap().unwrap();
    find(&c, ".changes select").await.select_by_value(&value).await.unwrap();
    wait_text(&c, "[data-testid=changed-files]", "shows the first turn's files", |t| {
        t.contains("alpha.txt") && !t.contains("beta.txt")
    })
    .await;
    click(&c, ".changes input[type=checkbox]").await;
    wait_text(&c, ".hunk", "shows the lines side by side", |t| t.contains("alpha")).await;
    assert_console_clean(&c).await;
    c.close().await.unwrap();
}

/// A bare repository with a nested Rust file, for the tree and the viewer.
fn nested_origin(path: &std::path::Path) {
    let repo = git2::Repository::init_bare(path).unwrap();
    let signature = git2::Signature::now("Origin", "origin@example.test").unwrap();
    let util = "// Helpers.\npub fn add(a: u32, b: u32) -> u32 {\n    a + b\n}\n";
    let mut lib = repo.treebuilder(None).unwrap();
    lib.insert("util.rs", repo.blob(util.as_bytes()).unwrap(), 0o100644).unwrap();
    let lib = lib.write().unwrap();
    let mut src = repo.treebuilder(None).unwrap();
    src.insert("lib", lib, 0o040000).unwrap();
    let src = src.write().unwrap();
    let mut root = repo.treebuilder(None).unwrap();
    root.insert("src", src, 0o040000).unwrap();
    root.insert("README.md", repo.blob(b"# Nested\n").unwrap(), 0o100644).unwrap();
    root.insert("notes.txt", repo.blob(notes().as_bytes()).unwrap(), 0o100644).unwrap();
    let tree = repo.find_tree(root.write().unwrap()).unwrap();
    repo.commit(Some("refs/heads/main"), &signature, &signature, "first", &tree, &[]).unwrap();
    repo.set_head("refs/heads/main").unwrap();
}

/// Forty numbered lines.
fn notes() -> String {
    (1..=40).map(|n| format!("note {n}\n")).collect()
}

/// The Code tab's core: the tree opened a directory at a time, a file highlighted, a comment
/// on a line that reaches the agent with the next message, the tree still open after the turn.
async fn review_a_file(width: u32, height: u32, tag: &str) -> (Stack, fantoccini::Client) {
    let stack = stack().await;
    let repo = stack.remotes.path().join("nested.git");
    nested_origin(&repo);
    let c = browser(&stack, width, height).await;
    sign_up(&c, &stack, &format!("Rey {tag}")).await;
    create_project(&c, "Nested", "local", repo.to_str().unwrap()).await;
    if width < 640 {
        open_drawer(&c).await;
    }
    new_chat(&c, "Review").await;
    let tree = wait_text(&c, "[data-testid=file-tree]", "lists the root", |t| t.contains("README.md")).await;
    assert!(tree.contains("src") && !tree.contains("util.rs"), "directories start closed: {tree}");
    click_text(&c, "[data-testid=file-tree]", "src").await;
    wait_text(&c, "[data-testid=file-tree]", "opens src", |t| t.contains("lib")).await;
    click_text(&c, "[data-testid=file-tree]", "lib").await;
    wait_text(&c, "[data-testid=file-tree]", "opens src/lib", |t| t.contains("util.rs")).await;
    click_text(&c, "[data-testid=file-tree]", "util.rs").await;
    let viewer = find(&c, "[data-testid=code-lines][data-language=Rust]").await;
    let keyword = find(&c, "[data-testid=code-lines] .tok-keyword").await.text().await.unwrap();
    assert!(["pub", "fn"].contains(&keyword.as_str()), "highlighted keyword: {keyword}");
    assert!(viewer.text().await.unwrap().contains("a + b"));
    find(&c, "[data-testid=code-lines] .tok-comment").await;

    click(&c, "[data-testid=code-lines] button[aria-label='Line 3']").await;
    let boxed =
        wait_text(&c, "[data-testid=comment-box]", "offers a comment", |t| t.contains("src/lib/util.rs:3")).await;
    assert!(boxed.contains("a + b"), "quotes the line: {boxed}");
    type_into(&c, "[data-testid=comment-box] textarea", "Check for overflow here.").await;
    screenshot(&c, &format!("review-comment-{tag}")).await;
    click_text(&c, "[data-testid=comment-box]", "Add comment").await;
    wait_text(&c, "[data-testid=pending-comments]", "lists the pending comment", |t| {
        t.contains("src/lib/util.rs:3") && t.contains("Check for overflow here.")
    })
    .await;
    type_into(&c, "textarea[name=prompt]", "please fix").await;
    click(&c, ".composer button[type=submit]").await;
    let deadline = Instant::now() + WAIT;
    let request = loop {
        let sent = stack.model.requests().iter().map(|r| r.to_string()).find(|r| r.contains("please fix"));
        if let Some(sent) = sent {
            break sent;
        }
        assert!(Instant::now() < deadline, "the prompt never reached the model");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for expected in ["<review_comments>", "src/lib/util.rs:3", "> ", "a + b", "Check for overflow here."] {
        assert!(request.contains(expected), "the provider's request has {expected}: {request}");
    }
    wait_gone(&c, "[data-testid=pending-comments]", "the sent comment is no longer pending").await;
    wait_text(&c, "[data-testid=sent-comments]", "the transcript shows it resolved", |t| {
        t.contains("resolved") && t.contains("Check for overflow here.")
    })
    .await;
    let tree =
        wait_text(&c, "[data-testid=file-tree]", "the tree stays open after the turn", |t| t.contains("util.rs")).await;
    assert!(tree.contains("lib"), "{tree}");
    screenshot(&c, &format!("review-sent-{tag}")).await;
    (stack, c)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_code_tab_opens_a_tree_highlights_a_file_and_sends_line_comments_to_the_agent() {
    let (stack, c) = review_a_file(1280, 800, "desktop").await;
    // The filter finds a file at any depth.
    type_into(&c, ".tree-filter", "UTIL").await;
    let found = wait_text(&c, "[data-testid=file-matches]", "finds the file", |t| t.contains("src/lib/util.rs")).await;
    assert!(!found.contains("README.md"), "{found}");
    replace_text(&c, ".tree-filter", "\u{E003}").await;
    wait_text(&c, "[data-testid=file-tree]", "the tree is back", |t| t.contains("README.md")).await;

    // Two changes far apart in one file: the lines between them collapsed until asked for.
    let edited = notes().replace("note 2\n", "note two\n").replace("note 39\n", "note thirty-nine\n");
    stack.model.script([
        Reply::Parts(vec![tool("write_file", serde_json::json!({"path": "notes.txt", "content": edited}))]),
        Reply::Parts(vec![text("Edited the notes.")]),
    ]);
    type_into(&c, "textarea[name=prompt]", "edit the notes").await;
    click(&c, ".composer button[type=submit]").await;
    wait_text(&c, ".messages", "edits the notes", |t| t.contains("Edited the notes.")).await;
    // A comment on a line of the changes.
    send(&c, "write alpha").await;
    click_text(&c, ".code", "Changes").await;
    wait_text(&c, "[data-testid=changed-files]", "lists alpha.txt", |t| t.contains("alpha.txt")).await;
    let gap =
        wait_text(&c, "[data-testid=expand-context]", "says what is collapsed", |t| t.contains("unchanged")).await;
    assert!(gap.contains("30 unchanged lines"), "between line 5 and line 36: {gap}");
    let shown = c.find(Locator::Css(".diff-file:nth-of-type(2)")).await.unwrap().text().await.unwrap();
    assert!(!shown.contains("note 20"), "collapsed: {shown}");
    click(&c, "[data-testid=expand-context]").await;
    wait_text(&c, "[data-testid=changes]", "shows the whole file", |t| t.contains("note 20")).await;
    wait_gone(&c, "[data-testid=expand-context]", "nothing is collapsed any more").await;
    click(&c, "[data-testid=diff-line] .line-number").await;
    wait_text(&c, "[data-testid=comment-box]", "comments on the changed line", |t| t.contains("alpha.txt:1")).await;
    find(&c, "[data-testid=diff-line].picked").await;
    type_into(&c, "[data-testid=comment-box] textarea", "Say more.").await;
    click_text(&c, "[data-testid=comment-box]", "Add comment").await;
    wait_text(&c, "[data-testid=pending-comments]", "lists it", |t| t.contains("alpha.txt:1")).await;
    stack.model.script([Reply::Parts(vec![text("Said more.")])]);
    type_into(&c, "textarea[name=prompt]", "\u{E007}").await;
    wait_gone(&c, "[data-testid=pending-comments]", "comments alone are sent").await;
    let deadline = Instant::now() + WAIT;
    while !stack.model.requests().iter().any(|r| r.to_string().contains("Say more.")) {
        assert!(Instant::now() < deadline, "the diff comment never reached the model");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    screenshot(&c, "review-changes-desktop").await;
    assert_console_clean(&c).await;
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_code_tabs_review_works_on_a_phone() {
    let (_stack, c) = review_a_file(390, 844, "phone").await;
    assert_console_clean(&c).await;
    c.close().await.unwrap();
}
