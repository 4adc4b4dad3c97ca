//! The file tree: one directory's entries at a time (a directory's are loaded when it is first
//! opened), collapsible, with a filter box that lists the matching files of the whole checkout.

use api_types::{FileEntry, FileTree};
use leptos::prelude::*;
use std::collections::{BTreeSet, HashMap};

/// What the tree shows: the directories loaded so far (`""` is the root) and which are open.
#[derive(Clone, Copy)]
pub struct TreeState {
    pub dirs: RwSignal<HashMap<String, Result<FileTree, String>>>,
    pub open: RwSignal<BTreeSet<String>>,
    pub filter: RwSignal<String>,
    /// The filter's matches, for the filter it was asked with.
    pub matches: RwSignal<Option<(String, Result<FileTree, String>)>>,
}

impl TreeState {
    pub fn new() -> Self {
        TreeState {
            dirs: RwSignal::new(HashMap::new()),
            open: RwSignal::new(BTreeSet::new()),
            filter: RwSignal::new(String::new()),
            matches: RwSignal::new(None),
        }
    }
}

#[component]
pub fn FileTreeView(
    state: TreeState,
    /// The open file.
    #[prop(into)]
    current: Signal<Option<String>>,
    /// A directory opened or closed (the page loads it).
    on_toggle: Callback<String>,
    on_open: Callback<String>,
) -> impl IntoView {
    view! {
        <nav class="tree" aria-label="Files">
            <input type="search" class="tree-filter" placeholder="Filter files" aria-label="Filter files"
                prop:value=move || state.filter.get() on:input=move |ev| state.filter.set(event_target_value(&ev)) />
            {move || {
                let filter = state.filter.get();
                if filter.trim().is_empty() {
                    view! { <ul class="file-tree" data-testid="file-tree">{dir_view(state, String::new(), 0, current, on_toggle, on_open)}</ul> }.into_any()
                } else {
                    matches_view(state, filter, current, on_open).into_any()
                }
            }}
        </nav>
    }
}

fn name_of(path: &str) -> String {
    path.rsplit('/').next().unwrap_or(path).to_owned()
}

/// A directory's entries (directories first), each open directory's below it.
fn dir_view(
    state: TreeState,
    dir: String,
    depth: usize,
    current: Signal<Option<String>>,
    on_toggle: Callback<String>,
    on_open: Callback<String>,
) -> AnyView {
    // Each directory follows its own listing: loading one re-renders only it.
    let listing = Memo::new(move |_| state.dirs.with(|dirs| dirs.get(&dir).cloned()));
    (move || {
        let indent = format!("padding-left:{}rem", depth as f32 * 0.9);
        match listing.get() {
            None => view! { <li class="muted" style=indent>"Loading…"</li> }.into_any(),
            Some(Err(e)) => view! { <li class="error" style=indent>{e}</li> }.into_any(),
            Some(Ok(tree)) if tree.files.is_empty() && depth == 0 => {
                view! { <li class="muted">"No files yet."</li> }.into_any()
            }
            Some(Ok(tree)) => {
                let mut entries: Vec<FileEntry> = tree.files;
                entries.sort_by(|a, b| b.is_dir.cmp(&a.is_dir).then_with(|| a.path.cmp(&b.path)));
                let truncated = tree.truncated;
                view! {
                    {entries.into_iter().map(|entry| entry_view(state, entry, depth, current, on_toggle, on_open)).collect_view()}
                    {truncated.then(|| view! { <li class="muted" style=indent.clone()>"… more entries than can be listed"</li> })}
                }
                .into_any()
            }
        }
    })
    .into_any()
}

fn entry_view(
    state: TreeState,
    entry: FileEntry,
    depth: usize,
    current: Signal<Option<String>>,
    on_toggle: Callback<String>,
    on_open: Callback<String>,
) -> AnyView {
    let indent = format!("padding-left:{}rem", depth as f32 * 0.9);
    let name = name_of(&entry.path);
    let path = entry.path.clone();
    if entry.is_symlink {
        // Listed as what it is; kosuke never follows it.
        return view! { <li style=indent><span class="symlink" title="A symlink: kosuke does not follow it">{name}" ↪"</span></li> }
            .into_any();
    }
    if entry.is_dir {
        let is_open = {
            let path = path.clone();
            Memo::new(move |_| state.open.with(|open| open.contains(&path)))
        };
        let toggle_path = path.clone();
        return view! {
            <li>
                <button class="ghost dir" style=indent aria-expanded=move || is_open.get().to_string()
                    on:click=move |_| on_toggle.run(toggle_path.clone())>
                    {name}
                </button>
                {move || is_open.get().then(|| view! {
                    <ul class="file-tree">{dir_view(state, path.clone(), depth + 1, current, on_toggle, on_open)}</ul>
                })}
            </li>
        }
        .into_any();
    }
    let shown = path.clone();
    view! {
        <li>
            <button class="ghost file" style=indent aria-current=move || (current.get().as_deref() == Some(shown.as_str())).then_some("true")
                on:click=move |_| on_open.run(path.clone())>{name}</button>
        </li>
    }
    .into_any()
}

fn matches_view(
    state: TreeState,
    filter: String,
    current: Signal<Option<String>>,
    on_open: Callback<String>,
) -> impl IntoView {
    move || match state.matches.get() {
        Some((asked, Ok(found))) if asked == filter => {
            if found.files.is_empty() {
                return view! { <p class="muted">"No file matches."</p> }.into_any();
            }
            let truncated = found.truncated;
            view! {
                <ul class="file-tree" data-testid="file-matches">
                    {found.files.into_iter().map(|entry| {
                        let (path, shown) = (entry.path.clone(), entry.path.clone());
                        view! { <li><button class="ghost file"
                            aria-current=move || (current.get().as_deref() == Some(shown.as_str())).then_some("true")
                            on:click=move |_| on_open.run(path.clone())>{entry.path.clone()}</button></li> }
                    }).collect_view()}
                    {truncated.then(|| view! { <li class="muted">"… more files match; type more to narrow it"</li> })}
                </ul>
            }
            .into_any()
        }
        Some((asked, Err(e))) if asked == filter => view! { <p class="error">{e}</p> }.into_any(),
        _ => view! { <p class="muted">"Searching…"</p> }.into_any(),
    }
}
