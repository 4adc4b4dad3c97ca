//! Browser tests of keeping chats mergeable: the conflict radar on the sidebar's cards and in
//! the Changes view, and an update from the base that stops on conflicts, handed to the agent.

use e2e::*;
use fakes::model::{Reply, text, tool};
use std::time::{Duration, Instant};

/// A turn whose agent writes README.md as `content`.
async fn edit_readme(c: &fantoccini::Client, stack: &Stack, content: &str, said: &str) {
    stack.model.script([
        Reply::Parts(vec![tool("write_file", serde_json::json!({"path": "README.md", "content": content}))]),
        Reply::Parts(vec![text(said)]),
    ]);
    type_into(c, "textarea[name=prompt]", "edit the readme").await;
    click(c, ".composer button[type=submit]").await;
    wait_text(c, ".messages", "shows the turn's answer", |t| t.contains(said)).await;
}

/// Adds a commit to `main` of the bare repository at `origin` that writes `file`.
fn commit_on_main(origin: &std::path::Path, file: &str, content: &str) {
    let repo = git2::Repository::open_bare(origin).unwrap();
    let head = repo.find_reference("refs/heads/main").and_then(|r| r.peel_to_commit()).unwrap();
    let mut tree = repo.treebuilder(Some(&head.tree().unwrap())).unwrap();
    tree.insert(file, repo.blob(content.as_bytes()).unwrap(), 0o100644).unwrap();
    let tree = repo.find_tree(tree.write().unwrap()).unwrap();
    let signature = git2::Signature::now("Origin", "origin@example.test").unwrap();
    repo.commit(Some("refs/heads/main"), &signature, &signature, "main moves", &tree, &[&head]).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_radar_marks_overlapping_chats_and_a_conflicted_update_goes_to_the_agent() {
    let stack = stack().await;
    let shop = stack.remotes.path().join("shop.git");
    origin(&shop);
    let c = browser(&stack, 1280, 800).await;
    sign_up(&c, &stack, "Mira").await;
    create_project(&c, "Radar", "local", shop.to_str().unwrap()).await;
    new_chat(&c, "Alpha").await;
    edit_readme(&c, &stack, "# Shop, as Alpha has it\n", "Alpha edited it.").await;
    new_chat(&c, "Beta").await;
    edit_readme(&c, &stack, "# Shop, as Beta has it\n", "Beta edited it.").await;
    let said =
        wait_text(&c, "[data-testid=radar]", "says the two chats overlap", |t| t.contains("overlaps with")).await;
    assert!(said.contains("‹Alpha›") && said.contains("‹Beta›"), "each card names the other: {said}");
    click_text(&c, ".code", "Changes").await;
    wait_text(&c, "[data-testid=changed-files]", "marks the conflicting file", |t| {
        t.contains("README.md") && t.contains("conflicts")
    })
    .await;
    screenshot(&c, "radar-desktop").await;

    // Main edits the same line; Beta's update from it stops on the conflict.
    commit_on_main(&shop, "README.md", "# Shop, as main has it\n");
    open_chat_menu(&c, "Beta").await;
    click_text(&c, ".menu", "Update from base").await;
    let banner =
        wait_text(&c, "[data-testid=conflict-banner]", "says the update stopped", |t| t.contains("README.md")).await;
    assert!(banner.contains("stopped on conflicts"), "{banner}");
    screenshot(&c, "update-conflict-desktop").await;
    stack.model.script([
        Reply::Parts(vec![tool(
            "write_file",
            serde_json::json!({"path": "README.md", "content": "# Shop, as both have it\n"}),
        )]),
        Reply::Parts(vec![text("Resolved the conflict.")]),
    ]);
    click_text(&c, "[data-testid=conflict-banner]", "Hand to the agent").await;
    wait_text(&c, ".messages", "the agent resolves it", |t| t.contains("Resolved the conflict.")).await;
    wait_gone(&c, "[data-testid=conflict-banner]", "the update is concluded").await;
    let deadline = Instant::now() + WAIT;
    while !stack.model.requests().iter().any(|r| r.to_string().contains("<merge_conflicts>")) {
        assert!(Instant::now() < deadline, "the agent was never told of the conflicts");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Settings: rebase by default, and archive chats whose pull request is merged; kept.
    click_text(&c, ".tabs", "Settings").await;
    find(&c, "[data-testid=update-strategy]").await.select_by_value("rebase").await.unwrap();
    wait_text(&c, ".toasts", "saves the strategy", |t| t.contains("Saved.")).await;
    // The toasts sit over the corner where the switch is.
    for dismiss in c.find_all(fantoccini::Locator::Css(".toast button[aria-label=Dismiss]")).await.unwrap() {
        dismiss.click().await.ok();
    }
    wait_gone(&c, ".toast", "the toasts are dismissed").await;
    click(&c, "[data-testid=archive-merged]").await;
    wait_text(&c, ".toasts", "saves the switch", |t| t.contains("Saved.")).await;
    c.refresh().await.unwrap();
    click_text(&c, ".tabs", "Settings").await;
    let deadline = Instant::now() + WAIT;
    while find(&c, "[data-testid=archive-merged]").await.prop("checked").await.unwrap().as_deref() != Some("true") {
        assert!(Instant::now() < deadline, "archive_merged was not kept");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let chosen = find(&c, "[data-testid=update-strategy]").await.prop("value").await.unwrap();
    assert_eq!(chosen.as_deref(), Some("rebase"));
    assert_console_clean(&c).await;
    c.close().await.unwrap();
}

/// A GitHub webhook payload (Octokit's examples) about pull request #`number` of
/// octocat/Hello-World.
fn about(name: &str, number: u64) -> serde_json::Value {
    let mut payload = fakes::github::fixture(name);
    payload["repository"]["full_name"] = serde_json::json!("octocat/Hello-World");
    if payload.get("pull_request").is_some() {
        payload["pull_request"]["number"] = serde_json::json!(number);
    }
    for pr in payload["check_suite"]["pull_requests"].as_array_mut().into_iter().flatten() {
        pr["number"] = serde_json::json!(number);
    }
    payload
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_card_shows_the_pull_requests_checks_and_review_and_a_merge_offers_to_archive() {
    let stack = stack().await;
    stack.github.accept_token("ghp_e2eToken", "octocat", "repo");
    origin(&stack.remotes.path().join("octocat/Hello-World.git"));
    let c = browser(&stack, 1280, 800).await;
    sign_up(&c, &stack, "Noor").await;
    c.goto(&format!("{}/account", stack.address)).await.unwrap();
    type_into(&c, "input[name=github_token]", "ghp_e2eToken").await;
    click_text(&c, "main", "Connect").await;
    wait_text(&c, "main", "shows the connected account", |t| t.contains("Connected as octocat")).await;
    c.goto(&format!("{}/", stack.address)).await.unwrap();
    create_project(&c, "Hello", "github", "octocat/Hello-World").await;
    new_chat(&c, "Greeting").await;
    send(&c, "write gamma").await;
    let main_window = c.window().await.unwrap();
    click(&c, "[data-testid=create-pr]").await;
    // The agent writes the title and description; they are edited, and opened as a draft.
    stack.model.script([Reply::Parts(vec![text("Add gamma\n\nWrites `gamma.txt`.")])]);
    click_text(&c, "[data-testid=pr-dialog]", "Describe it for me").await;
    let deadline = Instant::now() + WAIT;
    while find(&c, "input[name=pr_title]").await.prop("value").await.unwrap().as_deref() != Some("Add gamma") {
        assert!(Instant::now() < deadline, "the title was never written");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let body = find(&c, "textarea[name=pr_body]").await.prop("value").await.unwrap().unwrap_or_default();
    assert_eq!(body, "Writes `gamma.txt`.");
    click(&c, "input[name=pr_draft]").await;
    screenshot(&c, "pull-request-dialog-desktop").await;
    click(&c, "[data-testid=pr-dialog] button[type=submit]").await;
    wait_text(&c, ".toasts", "says the pull request is open", |t| t.contains("#1347 is open")).await;
    let opened = stack.github.requests_to("POST", "/pulls").last().unwrap().body.clone();
    assert_eq!((opened["title"].as_str(), opened["draft"].as_bool()), (Some("Add gamma"), Some(true)));
    c.switch_to_window(main_window).await.unwrap();

    // GitHub says the checks passed and a reviewer approved.
    assert_eq!(deliver_webhook(&stack, "check_suite", &about("webhook-check-suite-completed.json", 1347)), 204);
    let mut review = about("webhook-pull-request-review-submitted.json", 1347);
    review["review"]["state"] = serde_json::json!("approved");
    assert_eq!(deliver_webhook(&stack, "pull_request_review", &review), 204);
    c.refresh().await.unwrap();
    let line =
        wait_text(&c, "[data-testid=pull-life]", "shows the pull request's life", |t| t.contains("approved")).await;
    assert!(line.contains("PR #1347 draft") && line.contains("checks pass"), "{line}");
    screenshot(&c, "pull-life-desktop").await;

    // Merged on GitHub: the chat offers to archive itself.
    let mut merged = about("webhook-pull-request-closed.json", 1347);
    merged["pull_request"]["merged"] = serde_json::json!(true);
    assert_eq!(deliver_webhook(&stack, "pull_request", &merged), 204);
    c.refresh().await.unwrap();
    wait_text(&c, "[data-testid=pull-life]", "says it was merged", |t| t.contains("PR #1347 merged")).await;
    click_text(&c, "[data-testid=pr-ended-banner]", "Archive this chat").await;
    wait_gone(&c, "[data-testid=pr-ended-banner]", "the chat is archived").await;
    wait_text(&c, ".sidebar", "lists it as archived", |t| t.contains("Archived (1)") || t.contains("Archived")).await;
    assert_console_clean(&c).await;
    c.close().await.unwrap();
}
