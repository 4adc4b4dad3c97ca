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
    assert_console_clean(&c).await;
    c.close().await.unwrap();
}
