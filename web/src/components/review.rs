//! Review comments: the lines picked in the file viewer or the changes (`LinePick`), the box
//! that writes a comment on them, and the pending comments listed above the chat input until
//! they go with the next message.

use api_types::{CommentSide, ReviewComment};
use leptos::prelude::*;
use std::sync::Arc;

/// Lines picked for a comment: a range of one file's lines on one side, with the lines it
/// was picked among (to quote them).
#[derive(Debug, Clone)]
pub struct LinePick {
    pub path: String,
    pub side: CommentSide,
    pub start: u32,
    pub end: u32,
    /// The numbered lines of the view the pick was made in (a file, or a diff hunk's side).
    pub lines: Arc<Vec<(u32, String)>>,
}

impl LinePick {
    /// A click on line `number`; with Shift, the pick grows to it when it is in the same view.
    pub fn click(
        current: Option<LinePick>,
        path: &str,
        side: CommentSide,
        number: u32,
        lines: &Arc<Vec<(u32, String)>>,
        extend: bool,
    ) -> LinePick {
        match current {
            Some(pick) if extend && pick.path == path && pick.side == side && Arc::ptr_eq(&pick.lines, lines) => {
                LinePick { start: pick.start.min(number), end: pick.end.max(number), ..pick }
            }
            _ => LinePick { path: path.to_owned(), side, start: number, end: number, lines: lines.clone() },
        }
    }

    pub fn contains(&self, path: &str, side: CommentSide, number: u32) -> bool {
        self.path == path && self.side == side && (self.start..=self.end).contains(&number)
    }

    /// The picked lines' text.
    pub fn quote(&self) -> String {
        let picked: Vec<&str> = self
            .lines
            .iter()
            .filter(|(n, _)| (self.start..=self.end).contains(n))
            .map(|(_, text)| text.as_str())
            .collect();
        picked.join("\n")
    }

    pub fn comment(&self, body: String) -> ReviewComment {
        ReviewComment {
            path: self.path.clone(),
            start_line: self.start,
            end_line: self.end,
            side: self.side,
            quote: self.quote(),
            body,
        }
    }
}

/// The box under the code that writes a comment on the picked lines.
#[component]
pub fn CommentBox(pick: RwSignal<Option<LinePick>>, on_add: Callback<ReviewComment>) -> impl IntoView {
    let body = RwSignal::new(String::new());
    let add = move || {
        let text = body.get_untracked();
        let Some(picked) = pick.get_untracked() else { return };
        if text.trim().is_empty() {
            return;
        }
        on_add.run(picked.comment(text.trim().to_owned()));
        body.set(String::new());
        pick.set(None);
    };
    view! {
        {move || pick.get().map(|picked| {
            let location = picked.comment(String::new()).location();
            let quote = picked.quote();
            view! {
                <form class="comment-box" data-testid="comment-box" on:submit=move |ev| { ev.prevent_default(); add(); }>
                    <div class="row">
                        <strong>{format!("Comment on {location}")}</strong>
                        <span class="muted">" · Shift+click another line for a range"</span>
                    </div>
                    <pre class="quote">{quote}</pre>
                    <textarea aria-label="Comment" placeholder="What should the agent change here?"
                        prop:value=move || body.get() on:input=move |ev| body.set(event_target_value(&ev))
                        on:keydown=move |ev| {
                            if ev.key() == "Enter" && (ev.ctrl_key() || ev.meta_key()) {
                                ev.prevent_default();
                                add();
                            }
                        }></textarea>
                    <div class="row">
                        <button type="submit" class="primary small" disabled=move || body.get().trim().is_empty()>"Add comment"</button>
                        <button type="button" class="ghost small" on:click=move |_| { body.set(String::new()); pick.set(None); }>"Cancel"</button>
                    </div>
                </form>
            }
        })}
    }
}

/// The comments waiting for the next message, above the chat input.
#[component]
pub fn PendingComments(
    #[prop(into)] comments: Signal<Vec<ReviewComment>>,
    on_remove: Callback<usize>,
) -> impl IntoView {
    view! {
        <Show when=move || !comments.get().is_empty()>
            <div class="pending-comments" data-testid="pending-comments">
                <p class="muted">{move || match comments.get().len() {
                    1 => "1 review comment goes with your next message:".to_owned(),
                    n => format!("{n} review comments go with your next message:"),
                }}</p>
                <ul>
                    {move || comments.get().into_iter().enumerate().map(|(n, c)| view! {
                        <li>
                            <code>{c.location()}</code>" "{c.body.clone()}
                            <button type="button" class="ghost small" aria-label=format!("Remove the comment on {}", c.location())
                                on:click=move |_| on_remove.run(n)>"×"</button>
                        </li>
                    }).collect_view()}
                </ul>
            </div>
        </Show>
    }
}

/// A sent message's review comments in the transcript: resolved once its turn ended.
pub fn sent_comments(comments: Vec<ReviewComment>, addressing: Signal<bool>) -> impl IntoView {
    view! {
        <div class="review-comments" data-testid="sent-comments">
            <p class="muted">{move || if addressing.get() { "Review comments (the agent is on them):" } else { "Review comments (resolved):" }}</p>
            {comments.into_iter().map(|c| view! {
                <div class="review-comment">
                    <code>{c.location()}</code>
                    {(!c.quote.is_empty()).then(|| view! { <pre class="quote">{c.quote.clone()}</pre> })}
                    <p>{c.body.clone()}</p>
                </div>
            }).collect_view()}
        </div>
    }
}
