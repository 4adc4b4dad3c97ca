//! The Code tab: the session's files, one file's content, and its diff against the base.

use api_types::{FileContent, FileTree, SessionDiff};
use leptos::prelude::*;

#[component]
pub fn CodeView(
    #[prop(into)] tree: Signal<Option<Result<FileTree, String>>>,
    #[prop(into)] file: Signal<Option<Result<FileContent, String>>>,
    #[prop(into)] diff: Signal<Option<Result<SessionDiff, String>>>,
    show_diff: RwSignal<bool>,
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
                {move || match diff.get() {
                    None => view! { <p class="muted">"Loading changes…"</p> }.into_any(),
                    Some(Err(e)) => view! { <p class="error">{e}</p> }.into_any(),
                    Some(Ok(d)) if d.patch.is_empty() => view! { <p class="muted">{format!("No changes against {}.", d.base_branch)}</p> }.into_any(),
                    Some(Ok(d)) => view! {
                        <p class="muted">{format!("{} files changed, +{} −{} against {}", d.files_changed, d.insertions, d.deletions, d.base_branch)}
                            {d.truncated.then_some(" (cut at 2 MiB)")}</p>
                        <pre class="diff">{d.patch.lines().map(|line| {
                            let class = if line.starts_with('+') { "add" } else if line.starts_with('-') { "del" } else { "" };
                            view! { <span class=class>{line.to_owned()}"\n"</span> }
                        }).collect_view()}</pre>
                    }.into_any(),
                }}
            </Show>
        </div>
    }
}
