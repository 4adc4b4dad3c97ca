//! The Code tab: the session's files, one file's content, and its diff against the base.

use crate::components::diff::DiffView;
use api_types::{FileContent, FileTree, MessageId, SessionDiff};
use leptos::prelude::*;

#[component]
pub fn CodeView(
    #[prop(into)] tree: Signal<Option<Result<FileTree, String>>>,
    #[prop(into)] file: Signal<Option<Result<FileContent, String>>>,
    #[prop(into)] diff: Signal<Option<Result<SessionDiff, String>>>,
    show_diff: RwSignal<bool>,
    /// The chat's turns with a commit, and the one whose changes are shown (none: all).
    #[prop(into)]
    turns: Signal<Vec<(MessageId, String)>>,
    turn: RwSignal<Option<MessageId>>,
    on_open: Callback<String>,
) -> impl IntoView {
    view! {
        <div class="code">
            <div class="row">
                <button class="tab" aria-pressed=move || (!show_diff.get()).to_string() on:click=move |_| show_diff.set(false)>"Files"</button>
                <button class="tab" aria-pressed=move || show_diff.get().to_string() on:click=move |_| show_diff.set(true)>"Changes"</button>
            </div>
            <Show
                when=move || show_diff.get()
                fallback=move || view! {
                    <div class="files">
                        <ul class="file-tree" aria-label="Files" data-testid="file-tree">
                            {move || match tree.get() {
                                None => view! { <li class="muted">"Loading files…"</li> }.into_any(),
                                Some(Err(e)) => view! { <li class="error">{e}</li> }.into_any(),
                                Some(Ok(tree)) => tree.files.into_iter().map(|entry| {
                                    let depth = entry.path.matches('/').count();
                                    let name = entry.path.rsplit('/').next().unwrap_or_default().to_owned();
                                    let path = entry.path.clone();
                                    if entry.is_dir {
                                        view! { <li class="dir" style=format!("padding-left:{}rem", depth)>{name}"/"</li> }.into_any()
                                    } else if entry.is_symlink {
                                        // Listed as what it is; kosuke never follows it.
                                        view! { <li style=format!("padding-left:{}rem", depth)>
                                            <span class="symlink" title="A symlink: kosuke does not follow it">{name}" ↪"</span>
                                        </li> }.into_any()
                                    } else {
                                        view! { <li style=format!("padding-left:{}rem", depth)>
                                            <button class="ghost file" on:click=move |_| on_open.run(path.clone())>{name}</button>
                                        </li> }.into_any()
                                    }
                                }).collect_view().into_any(),
                            }}
                        </ul>
                        <div class="viewer">
                            {move || match file.get() {
                                None => view! { <p class="muted">"Pick a file."</p> }.into_any(),
                                Some(Err(e)) => view! { <p class="error">{e}</p> }.into_any(),
                                Some(Ok(f)) if f.is_binary => view! { <p class="muted">{format!("{} is binary ({} bytes).", f.path, f.size)}</p> }.into_any(),
                                Some(Ok(f)) if f.too_large => view! { <p class="muted">{format!("{} is too large to show ({} bytes).", f.path, f.size)}</p> }.into_any(),
                                Some(Ok(f)) => view! { <h3>{f.path.clone()}</h3><pre><code>{f.content.unwrap_or_default()}</code></pre> }.into_any(),
                            }}
                        </div>
                    </div>
                }
            >
                <DiffView diff=diff turns=turns turn=turn />
            </Show>
        </div>
    }
}
