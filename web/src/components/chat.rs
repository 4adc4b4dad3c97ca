//! The chat pane: the model banner (model left, branch right), the messages (streamed ones
//! included), and the composer with its Stop button.

use crate::components::markdown::Markdown;
use crate::components::review::{PendingComments, sent_comments};
use crate::components::sidebar::SessionAction;
use api_types::{ChatMessage, ContentBlock, MessageRole, QueuedPrompt, QueuedPromptId, ReviewComment};
use leptos::prelude::*;

#[component]
pub fn ModelBanner(
    #[prop(into)] model: Signal<String>,
    #[prop(into)] branch: Signal<String>,
    /// The branch the open chat started from.
    #[prop(into)]
    base: Signal<Option<String>>,
    /// Its pull request's line ("PR #12 open · ✓ checks pass").
    #[prop(into)]
    pull_request: Signal<Option<String>>,
) -> impl IntoView {
    view! {
        <div class="model-banner" data-testid="model-banner">
            <span class="model" title="Model">{model}</span>
            <span class="branch" title="Current branch">
                <span data-testid="current-branch">"⎇ "{branch}</span>
                {move || base.get().map(|b| view! { <span class="muted" data-testid="base-branch">" from "{b}</span> })}
                {move || pull_request.get().map(|line| view! { <span class="muted" data-testid="banner-pull-request">" · "{line}</span> })}
            </span>
        </div>
    }
}

fn tool_summary(name: &str, input: &serde_json::Value) -> String {
    if let Some(command) = input.get("command").and_then(|c| c.as_str()) {
        return format!("$ {command}");
    }
    match input.get("path").and_then(|p| p.as_str()) {
        Some(path) => format!("{name} {path}"),
        None => match input.get("pattern").and_then(|p| p.as_str()) {
            Some(pattern) => format!("{name} /{pattern}/"),
            None => name.to_owned(),
        },
    }
}

/// How much of a message's blocks there is to show: grows with every streamed piece, so the
/// message list re-renders a message whose blocks changed.
fn shown_size(blocks: &[ContentBlock]) -> usize {
    blocks
        .iter()
        .map(|block| match block {
            ContentBlock::Text { text } => text.len(),
            ContentBlock::ToolUse { output, live, .. } => {
                1 + output.as_ref().map_or(0, |o| o.len() + 1) + live.as_ref().map_or(0, String::len)
            }
            ContentBlock::Error { message } => message.len(),
            ContentBlock::Retry { message, discarded } => message.len() + discarded.len(),
            ContentBlock::Review { comments } => comments.len(),
        })
        .sum::<usize>()
        + blocks.len()
}

fn block_view(block: ContentBlock, addressing: Signal<bool>) -> AnyView {
    match block {
        ContentBlock::Review { comments } => sent_comments(comments, addressing).into_any(),
        ContentBlock::Text { text } => view! { <Markdown text=text /> }.into_any(),
        ContentBlock::ToolUse { name, input, output, is_error, live, .. } => {
            // A command's output shows as it comes, open while it runs.
            let running = output.is_none();
            let open = running && live.is_some();
            let shown = output.or(live).unwrap_or_else(|| "running…".to_owned());
            view! {
                <details class="tool" class:failed=is_error open=open>
                    <summary>{if running { "⏳ " } else if is_error { "✗ " } else { "✓ " }}{tool_summary(&name, &input)}</summary>
                    <pre>{shown}</pre>
                </details>
            }
            .into_any()
        }
        ContentBlock::Error { message } => view! { <p class="error" role="alert">{message}</p> }.into_any(),
        ContentBlock::Retry { message, discarded } => view! {
            <div class="retry" role="status">
                <p class="muted">"↻ "{message}</p>
                {(!discarded.is_empty()).then(|| view! {
                    <del class="discarded" title="Discarded: the provider failed before this answer was finished">{discarded}</del>
                })}
            </div>
        }
        .into_any(),
    }
}

fn message_view(
    message: ChatMessage,
    commit_url_base: Option<String>,
    running: Signal<bool>,
    messages: Signal<Vec<ChatMessage>>,
    on_checkpoint: Callback<SessionAction>,
) -> impl IntoView {
    // A message's review comments are being addressed while its turn is the one that runs.
    let id = message.id;
    let addressing = Signal::derive(move || {
        running.get()
            && messages.with(|all| all.iter().rev().find(|m| m.role == MessageRole::User).map(|m| m.id) == Some(id))
    });
    let blocks = message.blocks.clone().unwrap_or_default();
    let is_user = message.role == MessageRole::User;
    let reverted = message.reverted_at.is_some();
    // A turn that made a commit is a checkpoint: the chat can go back to it or fork from it.
    let checkpoint = (!is_user && !reverted && message.commit_sha.is_some()).then_some(message.id);
    let body = if blocks.is_empty() {
        if message.content.is_empty() && !is_user {
            view! { <p class="muted">"…"</p> }.into_any()
        } else {
            view! { <Markdown text=message.content.clone() /> }.into_any()
        }
    } else {
        blocks.into_iter().map(|block| block_view(block, addressing)).collect_view().into_any()
    };
    view! {
        <article class=if is_user { "message user" } else { "message assistant" } class:reverted=reverted data-testid="message">
            <div class="who">{if is_user { "You" } else { "Agent" }}
                {reverted.then(|| view! { <span class="reverted-tag" title="A revert to an earlier turn undid this">" · reverted"</span> })}
            </div>
            {body}
            {message.commit_sha.map(|sha| {
                let short = sha[..sha.len().min(7)].to_owned();
                let code = match commit_url_base {
                    Some(base) => view! { <a href=format!("{base}{sha}") target="_blank" rel="noopener"><code>{short}</code></a> }.into_any(),
                    None => view! { <code>{short}</code> }.into_any(),
                };
                view! { <p class="commit">"Committed " {code}</p> }
            })}
            {message.input_tokens.zip(message.output_tokens).map(|(input, output)| view! {
                <p class="tokens" title="Tokens the model read and wrote in this turn">{format!("{input} tokens in · {output} out")}</p>
            })}
            {checkpoint.map(|id| view! {
                <Show when=move || !running.get()>
                    <div class="checkpoint row">
                        <button class="ghost small" title="Move this chat's branch back to this turn (Undo brings the later turns back)"
                            on:click=move |_| on_checkpoint.run(SessionAction::RevertTo(id))>"Revert to here"</button>
                        <button class="ghost small" title="A new chat starting from this turn, with the conversation up to it"
                            on:click=move |_| on_checkpoint.run(SessionAction::ForkFrom(id))>"Fork from here"</button>
                    </div>
                </Show>
            })}
        </article>
    }
}

/// A message waiting for its turn: greyed, with Edit and Cancel.
fn waiting_view(queued: QueuedPrompt, on_edit: Callback<(QueuedPromptId, Option<String>)>) -> impl IntoView {
    let id = queued.id;
    let editing = RwSignal::new(None::<String>);
    let text = queued.prompt.clone();
    view! {
        <article class="message user waiting" data-testid="queued-message">
            <div class="who">"You · waiting ("{queued.position}")"
                {match queued.comments.len() {
                    0 => None,
                    1 => Some(" · with 1 review comment".to_owned()),
                    n => Some(format!(" · with {n} review comments")),
                }}
            </div>
            {move || match editing.get() {
                Some(draft) => view! {
                    <textarea class="edit-queued" aria-label="Edit the waiting message" prop:value=draft
                        on:input=move |ev| editing.set(Some(event_target_value(&ev)))></textarea>
                    <div class="row">
                        <button class="small primary" on:click=move |_| {
                            if let Some(changed) = editing.get_untracked() {
                                on_edit.run((id, Some(changed)));
                            }
                            editing.set(None);
                        }>"Save"</button>
                        <button class="small" on:click=move |_| editing.set(None)>"Keep as it was"</button>
                    </div>
                }.into_any(),
                None => {
                    let original = text.clone();
                    view! {
                        <p>{text.clone()}</p>
                        <div class="row">
                            <button class="ghost small" on:click=move |_| editing.set(Some(original.clone()))>"Edit"</button>
                            <button class="ghost small" on:click=move |_| on_edit.run((id, None))>"Cancel"</button>
                        </div>
                    }.into_any()
                }
            }}
        </article>
    }
}

#[component]
pub fn ChatPane(
    #[prop(into)] messages: Signal<Vec<ChatMessage>>,
    #[prop(into)] running: Signal<bool>,
    /// The live run waits for a free run slot (the server's limit of concurrent runs).
    #[prop(into)]
    queued: Signal<bool>,
    #[prop(into)] disabled_reason: Signal<Option<String>>,
    #[prop(into)] has_older: Signal<bool>,
    /// `https://github.com/owner/repo/commit/` for GitHub projects.
    #[prop(into)]
    commit_url_base: Signal<Option<String>>,
    draft: RwSignal<String>,
    /// Review comments that go with the next message (from the Code tab).
    #[prop(into)]
    comments: Signal<Vec<ReviewComment>>,
    on_remove_comment: Callback<usize>,
    /// Messages sent during the run, waiting to start.
    #[prop(into)]
    waiting: Signal<Vec<QueuedPrompt>>,
    /// Change a waiting message (`Some`) or cancel it (`None`).
    on_edit_waiting: Callback<(QueuedPromptId, Option<String>)>,
    /// The chat's last revert can be undone.
    #[prop(into)]
    undo_revert: Signal<bool>,
    /// Revert to a turn, fork from one, undo the revert.
    on_checkpoint: Callback<SessionAction>,
    on_send: Callback<String>,
    on_stop: Callback<()>,
    on_load_older: Callback<()>,
) -> impl IntoView {
    let send = move || {
        let text = draft.get();
        if (!text.trim().is_empty() || !comments.get_untracked().is_empty()) && disabled_reason.get().is_none() {
            on_send.run(text);
            draft.set(String::new());
        }
    };
    view! {
        <section class="chat" aria-label="Chat">
            <div class="messages" aria-live="polite" on:scroll=move |ev| {
                // Reaching the top loads the earlier messages.
                let top = event_target::<web_sys::HtmlElement>(&ev).scroll_top();
                if top < 40 && has_older.get_untracked() {
                    on_load_older.run(());
                }
            }>
                <Show when=move || has_older.get()>
                    <button class="ghost older" on:click=move |_| on_load_older.run(())>"Load earlier messages"</button>
                </Show>
                <Show when=move || messages.get().is_empty()>
                    <p class="empty">"Say what you want built; the agent works on this chat's own branch."</p>
                </Show>
                <For
                    each=move || messages.get()
                    key=|m| (m.id, m.content.len(), m.blocks.as_deref().map(shown_size), m.commit_sha.clone(), m.output_tokens, m.reverted_at)
                    children=move |m| message_view(m, commit_url_base.get_untracked(), running, messages, on_checkpoint)
                />
                <Show when=move || undo_revert.get() && !running.get()>
                    <p class="undo-revert row" role="status">
                        "This chat was moved back to an earlier turn. "
                        <button class="small" on:click=move |_| on_checkpoint.run(SessionAction::UndoRevert)>"Undo revert"</button>
                    </p>
                </Show>
                <For
                    each=move || waiting.get()
                    key=|q| (q.id, q.prompt.clone(), q.position)
                    children=move |q| waiting_view(q, on_edit_waiting)
                />
                <Show when=move || queued.get()>
                    <p class="queued" role="status">"Queued: the server runs as many turns as it can at once; this one starts when a slot is free."</p>
                </Show>
            </div>
            <PendingComments comments=comments on_remove=on_remove_comment />
            <form class="composer" on:submit=move |ev| { ev.prevent_default(); send(); }>
                <textarea
                    name="prompt"
                    aria-label="Message"
                    placeholder=move || disabled_reason.get().unwrap_or_else(|| if running.get() {
                        "The agent is working; what you send now waits for its turn.".to_owned()
                    } else {
                        "Describe a change… (Enter sends, Shift+Enter for a new line)".to_owned()
                    })
                    disabled=move || disabled_reason.get().is_some()
                    prop:value=move || draft.get()
                    on:input=move |ev| draft.set(event_target_value(&ev))
                    on:keydown=move |ev| {
                        if ev.key() == "Enter" && !ev.shift_key() {
                            ev.prevent_default();
                            send();
                        }
                    }
                ></textarea>
                <button type="submit" class="primary" disabled=move || disabled_reason.get().is_some()
                    title=move || if running.get() { "Sent after the turn that runs" } else { "Send" }>
                    {move || if running.get() { "Queue" } else { "Send" }}
                </button>
                <Show when=move || running.get()>
                    <button type="button" class="danger" on:click=move |_| on_stop.run(())>"Stop"</button>
                </Show>
            </form>
        </section>
    }
}
