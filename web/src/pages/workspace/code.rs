//! The Code tab's data: the tree's directories (the root and each open one, loaded again after
//! every turn so the tree stays open across turns), the open file, the changes, and the
//! review comments written on them.

use crate::components::code::CodeView;
use crate::components::review::LinePick;
use crate::components::tree::TreeState;
use crate::state::{client, say, use_toasts};
use api_types::*;
use leptos::prelude::*;
use leptos::task::spawn_local;

/// The Code tab's state that outlives the tab (switching to another tab and back keeps the
/// tree open and the comments pending).
#[derive(Clone, Copy)]
pub struct CodeState {
    pub tree: TreeState,
    /// Comments written and not yet sent, per chat.
    pub comments: RwSignal<Vec<(ChatSessionPk, ReviewComment)>>,
}

impl CodeState {
    pub fn new() -> Self {
        CodeState { tree: TreeState::new(), comments: RwSignal::new(Vec::new()) }
    }

    pub fn comments_of(&self, session: ChatSessionPk) -> Vec<ReviewComment> {
        self.comments.with(|all| all.iter().filter(|(s, _)| *s == session).map(|(_, c)| c.clone()).collect())
    }

    /// Removes the chat's `n`th pending comment.
    pub fn remove(&self, session: ChatSessionPk, n: usize) {
        self.comments.update(|all| {
            if let Some(at) = all.iter().enumerate().filter(|(_, (s, _))| *s == session).map(|(at, _)| at).nth(n) {
                all.remove(at);
            }
        });
    }

    /// The chat's pending comments were sent.
    pub fn sent(&self, session: ChatSessionPk, sent: &[ReviewComment]) {
        self.comments.update(|all| all.retain(|(s, c)| *s != session || !sent.contains(c)));
    }
}

#[component]
pub fn CodeTab(
    project_id: Memo<Option<ProjectId>>,
    selected: Memo<Option<ChatSessionPk>>,
    running: RwSignal<bool>,
    /// Bumped when the chat's files change outside a run (a revert).
    revision: RwSignal<u32>,
    /// The chat's turns with a commit (for the changes of one).
    #[prop(into)]
    turns: Signal<Vec<(MessageId, String)>>,
    state: CodeState,
    /// The conflict radar of the project's chats (this chat's conflicting files are marked).
    #[prop(into)]
    radar: Signal<ConflictMatrix>,
) -> impl IntoView {
    let tree = state.tree;
    let conflicting = Signal::derive(move || {
        let Some(s) = selected.get() else { return Vec::new() };
        let matrix = radar.get();
        let mut paths: Vec<String> =
            matrix.base.iter().filter(|c| c.chat_session_id == s).flat_map(|c| c.paths.clone()).collect();
        paths.extend(matrix.pairs.iter().filter(|p| p.a == s || p.b == s).flat_map(|p| p.paths.clone()));
        paths.sort();
        paths.dedup();
        paths
    });
    let turn = RwSignal::new(None::<MessageId>);
    let current = RwSignal::new(None::<String>);
    let file = RwSignal::new(None::<Result<FileContent, String>>);
    let diff = RwSignal::new(None::<Result<SessionDiff, String>>);
    let show_diff = RwSignal::new(false);
    let pick = RwSignal::new(None::<LinePick>);
    let load_dir = move |p: ProjectId, s: ChatSessionPk, dir: String| {
        spawn_local(async move {
            let listing = client().list_dir(p, s, &dir).await.map_err(|e| say(&e));
            // A chat changed meanwhile: its answer is not this chat's.
            if selected.get_untracked() == Some(s) {
                tree.dirs.update(|dirs| {
                    dirs.insert(dir, listing);
                });
            }
        });
    };
    let load_file = move |p: ProjectId, s: ChatSessionPk, path: String| {
        spawn_local(async move {
            let content = client().get_file(p, s, &path).await.map_err(|e| say(&e));
            if selected.get_untracked() == Some(s) && current.get_untracked().as_deref() == Some(path.as_str()) {
                file.set(Some(content));
            }
        });
    };
    // Another chat: its own tree, from the root.
    Effect::new(move |previous: Option<Option<ChatSessionPk>>| {
        let now = selected.get();
        if previous.is_some_and(|before| before != now) {
            tree.dirs.set(Default::default());
            tree.open.set(Default::default());
            tree.filter.set(String::new());
            current.set(None);
            file.set(None);
            turn.set(None);
            pick.set(None);
        }
        now
    });
    // After each turn (and a revert), what is shown is read again.
    Effect::new(move |_| {
        let (Some(p), Some(s)) = (project_id.get(), selected.get()) else { return };
        revision.track();
        if running.get() {
            return;
        }
        if show_diff.get() {
            let shown_turn = turn.get();
            spawn_local(async move {
                let query = DiffQuery { message_id: shown_turn.map(|m| m.0), ..DiffQuery::default() };
                let changes = client().get_diff_of(p, s, &query).await.map_err(|e| say(&e));
                if selected.get_untracked() == Some(s) {
                    diff.set(Some(changes));
                }
            });
            return;
        }
        for dir in std::iter::once(String::new()).chain(tree.open.get_untracked()) {
            load_dir(p, s, dir);
        }
        if let Some(path) = current.get_untracked() {
            load_file(p, s, path);
        }
    });
    // The filter asks the server for the matching files of the whole checkout.
    Effect::new(move |_| {
        let filter = tree.filter.get();
        let (Some(p), Some(s)) = (project_id.get_untracked(), selected.get_untracked()) else { return };
        if filter.trim().is_empty() {
            return;
        }
        spawn_local(async move {
            let found = client().find_files(p, s, filter.trim()).await.map_err(|e| say(&e));
            // Only the answer to what the box says now is shown.
            if tree.filter.get_untracked() == filter {
                tree.matches.set(Some((filter, found)));
            }
        });
    });
    let toggle = Callback::new(move |dir: String| {
        let (Some(p), Some(s)) = (project_id.get_untracked(), selected.get_untracked()) else { return };
        let opening = !tree.open.with_untracked(|open| open.contains(&dir));
        tree.open.update(|open| {
            if opening {
                open.insert(dir.clone());
            } else {
                open.remove(&dir);
            }
        });
        if opening && tree.dirs.with_untracked(|dirs| !dirs.contains_key(&dir)) {
            load_dir(p, s, dir);
        }
    });
    let open = Callback::new(move |path: String| {
        let (Some(p), Some(s)) = (project_id.get_untracked(), selected.get_untracked()) else { return };
        current.set(Some(path.clone()));
        file.set(None);
        load_file(p, s, path);
    });
    let comment = Callback::new(move |comment: ReviewComment| {
        let Some(s) = selected.get_untracked() else { return };
        state.comments.update(|all| all.push((s, comment)));
    });
    // A changed file whole: its hunks replaced by one with every line.
    let toasts = use_toasts();
    let expand = Callback::new(move |path: String| {
        let (Some(p), Some(s)) = (project_id.get_untracked(), selected.get_untracked()) else { return };
        let shown_turn = turn.get_untracked();
        spawn_local(async move {
            let query = DiffQuery {
                message_id: shown_turn.map(|m| m.0),
                path: Some(path.clone()),
                context: Some(MAX_DIFF_CONTEXT),
            };
            match client().get_diff_of(p, s, &query).await {
                Ok(whole) if selected.get_untracked() == Some(s) && turn.get_untracked() == shown_turn => {
                    let Some(hunks) = whole.files.into_iter().find(|f| f.path == path).map(|f| f.hunks) else { return };
                    diff.update(|shown| {
                        if let Some(Ok(shown)) = shown {
                            if let Some(file) = shown.files.iter_mut().find(|f| f.path == path) {
                                file.hunks = hunks;
                            }
                        }
                    });
                }
                Ok(_) => {}
                Err(e) => toasts.error(say(&e)),
            }
        });
    });
    view! {
        <Show
            when=move || selected.get().is_some()
            fallback=|| view! { <p class="empty">"Pick a chat to see its files."</p> }
        >
            <CodeView tree=tree current=current file=file diff=diff show_diff=show_diff turns=turns turn=turn
                pick=pick on_toggle=toggle on_open=open on_comment=comment on_expand=expand conflicting=conflicting />
        </Show>
    }
}
