//! The Code tab: the session's files (a tree loaded a directory at a time, and the viewer) and
//! its changes, with the box that comments on picked lines.

use crate::components::diff::DiffView;
use crate::components::review::{CommentBox, LinePick};
use crate::components::tree::{FileTreeView, TreeState};
use crate::components::viewer::FileViewer;
use api_types::{FileContent, MessageId, ReviewComment, SessionDiff};
use leptos::prelude::*;

#[component]
pub fn CodeView(
    tree: TreeState,
    #[prop(into)] current: Signal<Option<String>>,
    #[prop(into)] file: Signal<Option<Result<FileContent, String>>>,
    #[prop(into)] diff: Signal<Option<Result<SessionDiff, String>>>,
    show_diff: RwSignal<bool>,
    /// The chat's turns with a commit, and the one whose changes are shown (none: all).
    #[prop(into)]
    turns: Signal<Vec<(MessageId, String)>>,
    turn: RwSignal<Option<MessageId>>,
    pick: RwSignal<Option<LinePick>>,
    on_toggle: Callback<String>,
    on_open: Callback<String>,
    /// A review comment written on picked lines.
    on_comment: Callback<ReviewComment>,
    /// A changed file shown whole (its collapsed context expanded).
    on_expand: Callback<String>,
    /// Files on which the chat's branch conflicts with its base or another chat's.
    #[prop(into)]
    conflicting: Signal<Vec<String>>,
) -> impl IntoView {
    view! {
        <div class="code">
            <div class="row">
                <button class="tab" aria-pressed=move || (!show_diff.get()).to_string() on:click=move |_| show_diff.set(false)>"Files"</button>
                <button class="tab" aria-pressed=move || show_diff.get().to_string() on:click=move |_| show_diff.set(true)>"Changes"</button>
            </div>
            <CommentBox pick=pick on_add=on_comment />
            <Show
                when=move || show_diff.get()
                fallback=move || view! {
                    <div class="files">
                        <FileTreeView state=tree current=current on_toggle=on_toggle on_open=on_open />
                        <FileViewer file=file pick=pick />
                    </div>
                }
            >
                <DiffView diff=diff turns=turns turn=turn pick=pick on_expand=on_expand conflicting=conflicting />
            </Show>
        </div>
    }
}
