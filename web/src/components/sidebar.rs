//! The chat sidebar: new chat, search, active chats by last activity, a collapsible Archived
//! section, and each chat's context menu (rename, duplicate, archive, view branch, delete).

use crate::components::focus::{focus_left, focus_soon, modal, modal_keys, move_among};
use crate::components::time::relative;
use api_types::{
    BranchStatus, ChatSession, ChatSessionPk, ChatSessionStatus, CreateChatSessionRequest, PreviewState,
    SessionActivity, SessionBranchStatus,
};
use leptos::html;
use leptos::prelude::*;

/// What the user asked of a chat from its menu.
#[derive(Clone, Debug, PartialEq)]
pub enum SessionAction {
    Rename(String),
    Duplicate,
    Archive,
    Unarchive,
    Delete,
    /// From the chat's messages: move it back to this turn.
    RevertTo(api_types::MessageId),
    UndoRevert,
    /// From the chat's messages: a new chat from this turn.
    ForkFrom(api_types::MessageId),
    /// Bring the base branch's new commits in (the project's strategy).
    Update,
    /// Abandon an update stopped on conflicts.
    AbortUpdate,
}

#[component]
pub fn Sidebar(
    #[prop(into)] active_sessions: Signal<Vec<ChatSession>>,
    #[prop(into)] archived_sessions: Signal<Vec<ChatSession>>,
    #[prop(into)] selected: Signal<Option<ChatSessionPk>>,
    #[prop(into)] branch_status: Signal<Option<BranchStatus>>,
    /// Every listed chat's branch status, by session id.
    #[prop(into)]
    card_statuses: Signal<std::collections::HashMap<i32, SessionBranchStatus>>,
    /// Chats whose dev server is not stopped, by session id.
    #[prop(into)]
    previews: Signal<std::collections::HashMap<i32, PreviewState>>,
    /// `https://github.com/owner/repo/tree/` for GitHub projects.
    #[prop(into)]
    branch_url_base: Signal<Option<String>>,
    /// What the conflict radar says of each chat ("conflicts with main (2 files)"), by id.
    #[prop(into)]
    radar: Signal<std::collections::HashMap<i32, String>>,
    search: RwSignal<String>,
    show_archived: RwSignal<bool>,
    #[prop(into)] loading: Signal<bool>,
    #[prop(into)] open: Signal<bool>,
    /// More chats than shown: offer the next page.
    #[prop(into)]
    has_more: Signal<bool>,
    on_more: Callback<()>,
    on_select: Callback<ChatSessionPk>,
    on_new: Callback<()>,
    on_action: Callback<(ChatSessionPk, SessionAction)>,
) -> impl IntoView {
    let menu_open = RwSignal::new(None::<ChatSessionPk>);
    let renaming = RwSignal::new(None::<ChatSessionPk>);
    let confirm_delete = RwSignal::new(None::<ChatSession>);
    let card = move |session: ChatSession| {
        let id = session.id;
        let archived = session.status == ChatSessionStatus::Archived;
        let title = session.title.clone();
        let branch = session.github_branch_name.clone();
        let pr = session.pull_request_number;
        // Its pull request's own line says it; the branch line does not repeat it.
        let has_life = session.pull_request_life.is_some();
        let session_for_delete = session.clone();
        let menu_button = NodeRef::<html::Button>::new();
        let status_line = move || {
            let describe = |ahead: u64, behind: u64, pushed: bool, pr: Option<i32>| {
                let mut parts = vec![];
                if ahead > 0 {
                    parts.push(format!("↑{ahead}"));
                }
                if behind > 0 {
                    parts.push(format!("↓{behind}"));
                }
                parts.push(if pushed { "pushed".to_owned() } else { "not pushed".to_owned() });
                if let Some(number) = pr.filter(|_| !has_life) {
                    parts.push(format!("PR #{number}"));
                }
                parts.join(" · ")
            };
            if selected.get() == Some(id)
                && let Some(s) = branch_status.get()
            {
                return describe(s.ahead, s.behind, s.pushed, s.pull_request.map(|p| p.number));
            }
            match card_statuses.get().get(&id.0) {
                Some(s) => describe(s.ahead, s.behind, s.pushed, s.pull_request.as_ref().map(|p| p.number)),
                None => pr.filter(|_| !has_life).map(|n| format!("PR #{n}")).unwrap_or_default(),
            }
        };
        view! {
            // A click or Tab elsewhere closes the chat's menu.
            <li class="session-card" class:active=move || selected.get() == Some(id) data-testid="session-card"
                on:focusout=move |ev| if menu_open.get_untracked() == Some(id) && focus_left(&ev) { menu_open.set(None) }>
                <Show
                    when=move || renaming.get() == Some(id)
                    fallback={
                        let title = title.clone();
                        move || view! {
                            <button class="session-main" on:click=move |_| on_select.run(id)
                                aria-current=move || (selected.get() == Some(id)).then_some("page")>
                                <span class="session-title">{title.clone()}</span>
                                <span class="session-meta">
                                    <span class="badge" title="Messages">{session.message_count}</span>
                                    {attention_tag(session.activity, session.unread)}
                                    <span>{relative(session.last_activity_at)}</span>
                                    {session.disk_bytes.filter(|b| *b > 0).map(|b| view! {
                                        <span class="disk" title="Its checkout on disk, dependencies included">{size(b)}</span>
                                    })}
                                    {move || match previews.get().get(&id.0) {
                                        Some(PreviewState::Running) => Some(view! {
                                            <span class="preview-dot running" title="Its preview is running" data-testid="preview-dot">"● preview"</span>
                                        }.into_any()),
                                        Some(PreviewState::Starting) => Some(view! {
                                            <span class="preview-dot starting" title="Its preview is starting">"◌ preview"</span>
                                        }.into_any()),
                                        Some(PreviewState::Crashed | PreviewState::Failed) => Some(view! {
                                            <span class="preview-dot failed" title="Its preview stopped with an error">"✕ preview"</span>
                                        }.into_any()),
                                        _ => None,
                                    }}
                                    {pull_life_line(session.pull_request_number, session.pull_request_life.as_ref()).map(|said| view! {
                                        <span class="pull-life" title="The pull request on GitHub" data-testid="pull-life">{said}</span>
                                    })}
                                    {move || {
                                        // Turns committed since the last push: GitHub's pull request does not have them yet.
                                        let unpushed = match (selected.get() == Some(id), branch_status.get()) {
                                            (true, Some(s)) => s.pull_request.is_some() && !s.pushed,
                                            _ => card_statuses.get().get(&id.0).is_some_and(|s| s.pull_request.is_some() && !s.pushed),
                                        };
                                        unpushed.then(|| view! { <span class="pull-life behind" data-testid="pr-behind">"PR behind session"</span> })
                                    }}
                                    {move || radar.get().get(&id.0).cloned().map(|said| view! {
                                        <span class="radar" title="Merging this chat's branch would conflict" data-testid="radar">"⚠ "{said}</span>
                                    })}
                                    {move || {
                                        let status = status_line();
                                        (!status.is_empty()).then(|| view! {
                                            <span class="branch-status" title="Branch status">"⎇ "{status}</span>
                                        })
                                    }}
                                </span>
                            </button>
                        }
                    }
                >
                    {
                        focus_soon("input.rename");
                        view! {
                            <input class="rename" aria-label="New title" prop:value=title.clone()
                                on:keydown=move |ev| match ev.key().as_str() {
                                    "Enter" => {
                                        on_action.run((id, SessionAction::Rename(event_target_value(&ev))));
                                        renaming.set(None);
                                    }
                                    "Escape" => renaming.set(None),
                                    _ => {}
                                }
                                on:blur=move |_| renaming.set(None) />
                        }
                    }
                </Show>
                <button class="ghost menu-button" aria-label="Chat actions" aria-haspopup="menu" node_ref=menu_button
                    on:keydown=move |ev| if ev.key() == "Escape" { menu_open.set(None) }
                    aria-expanded=move || (menu_open.get() == Some(id)).to_string()
                    on:click=move |_| menu_open.update(|m| *m = if *m == Some(id) { None } else { Some(id) })>"⋯"</button>
                <Show when=move || menu_open.get() == Some(id)>
                    {
                        // The menu takes the focus when it opens; the arrows, Home and End move
                        // it among the items; Escape closes the menu and gives the focus back.
                        focus_soon(".menu");
                        let back_to_button = move || {
                            if let Some(button) = menu_button.get_untracked() {
                                let _ = button.focus();
                            }
                        };
                        let session = session_for_delete.clone();
                        let branch = branch.clone();
                        view! {
                            <ul class="menu" role="menu" on:keydown=move |ev| {
                                if ev.key() == "Escape" {
                                    menu_open.set(None);
                                    back_to_button();
                                } else {
                                    move_among(&ev, "[role=menuitem]", false);
                                }
                            }>
                                <li><button role="menuitem" on:click=move |_| { renaming.set(Some(id)); menu_open.set(None); }>"Rename"</button></li>
                                <li><button role="menuitem" on:click=move |_| { on_action.run((id, SessionAction::Duplicate)); menu_open.set(None); }>"Duplicate"</button></li>
                                {(!archived).then(|| view! {
                                    <li><button role="menuitem" on:click=move |_| { on_action.run((id, SessionAction::Update)); menu_open.set(None); }>"Update from base"</button></li>
                                })}
                                <li><button role="menuitem" on:click=move |_| {
                                    on_action.run((id, if archived { SessionAction::Unarchive } else { SessionAction::Archive }));
                                    menu_open.set(None);
                                }>{if archived { "Unarchive" } else { "Archive" }}</button></li>
                                {move || branch_url_base.get().map(|base| view! {
                                    <li><a role="menuitem" target="_blank" rel="noopener" href=format!("{base}{branch}")>"View branch"</a></li>
                                })}
                                <li><button role="menuitem" class="danger" on:click=move |_| {
                                    // Cancelling the confirmation gives the focus back to the menu's button.
                                    back_to_button();
                                    confirm_delete.set(Some(session.clone()));
                                    menu_open.set(None);
                                }>"Delete"</button></li>
                            </ul>
                        }
                    }
                </Show>
            </li>
        }
    };
    view! {
        <aside class="sidebar" class:open=open aria-label="Chats">
            <button class="primary new-chat" on:click=move |_| on_new.run(())>"+ New Chat"</button>
            <input type="search" class="search" placeholder="Search chats" aria-label="Search chats"
                prop:value=move || search.get() on:input=move |ev| search.set(event_target_value(&ev)) />
            <Show when=move || loading.get()>
                <p class="muted" role="status">"Loading chats…"</p>
            </Show>
            <Show when=move || !loading.get() && active_sessions.get().is_empty()>
                <p class="muted">{move || if search.get().is_empty() { "No chats yet." } else { "No chat matches." }}</p>
            </Show>
            <ul class="sessions">
                <For each=move || active_sessions.get() key=|s| (s.id, s.title.clone(), s.message_count, s.last_activity_at, s.status, s.activity, s.unread, s.disk_bytes) children=card />
            </ul>
            <Show when=move || has_more.get()>
                <button class="ghost" on:click=move |_| on_more.run(())>"Show more chats"</button>
            </Show>
            <button class="ghost archived-toggle" aria-expanded=move || show_archived.get().to_string()
                on:click=move |_| show_archived.update(|v| *v = !*v)>
                {move || if show_archived.get() { "▾ Archived" } else { "▸ Archived" }}
            </button>
            <Show when=move || show_archived.get()>
                <ul class="sessions archived">
                    <For each=move || archived_sessions.get() key=|s| (s.id, s.title.clone(), s.status) children=card />
                </ul>
            </Show>
            {move || confirm_delete.get().map(|session| {
                modal(".dialog");
                view! {
                    <div class="dialog-backdrop">
                        <div class="dialog" role="alertdialog" aria-modal="true" aria-labelledby="delete-title"
                            on:keydown=move |ev| modal_keys(&ev, || confirm_delete.set(None))>
                            <h2 id="delete-title">"Delete “"{session.title.clone()}"”?"</h2>
                            <p>"Its messages, checkout and local branch are deleted. The branch on the remote stays."</p>
                            <div class="row end">
                                <button on:click=move |_| confirm_delete.set(None)>"Cancel"</button>
                                <button class="danger" on:click=move |_| {
                                    on_action.run((session.id, SessionAction::Delete));
                                    confirm_delete.set(None);
                                }>"Delete"</button>
                            </div>
                        </div>
                    </div>
                }
            })}
        </aside>
    }
}

/// The New Chat dialog: title, description, base branch.
#[component]
pub fn NewChatModal(
    open: RwSignal<bool>,
    #[prop(into)] branches: Signal<Vec<String>>,
    #[prop(into)] default_branch: Signal<String>,
    #[prop(into)] pending: Signal<bool>,
    #[prop(into)] error: Signal<Option<String>>,
    on_create: Callback<CreateChatSessionRequest>,
) -> impl IntoView {
    let title = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let base = RwSignal::new(String::new());
    view! {
        <Show when=move || open.get()>
            {
            modal(".dialog");
            // Each opening starts blank (a failed create keeps the dialog open, and what was typed).
            title.set(String::new());
            description.set(String::new());
            base.set(String::new());
            view! {
            <div class="dialog-backdrop">
                <form class="dialog" role="dialog" aria-modal="true" aria-labelledby="new-chat-title"
                    on:keydown=move |ev| modal_keys(&ev, || open.set(false))
                    on:submit=move |ev| {
                        ev.prevent_default();
                        let base_branch = Some(base.get()).filter(|b| !b.is_empty() && *b != default_branch.get());
                        let description = Some(description.get()).filter(|d| !d.trim().is_empty());
                        on_create.run(CreateChatSessionRequest { title: title.get(), description, base_branch });
                    }>
                    <h2 id="new-chat-title">"New chat"</h2>
                    <label>"Title" <input name="title" required maxlength="100" prop:value=move || title.get()
                        on:input=move |ev| title.set(event_target_value(&ev)) /></label>
                    <label>"Description (optional)" <textarea name="description" maxlength="2000" prop:value=move || description.get()
                        on:input=move |ev| description.set(event_target_value(&ev))></textarea></label>
                    <label>"Start from branch"
                        <select name="base_branch" on:change=move |ev| base.set(event_target_value(&ev))>
                            {move || branches.get().into_iter().map(|b| {
                                let is_default = b == default_branch.get();
                                let label = if is_default { format!("{b} (default)") } else { b.clone() };
                                view! { <option value=b.clone() selected=is_default>{label}</option> }
                            }).collect_view()}
                        </select>
                    </label>
                    {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                    <div class="row end">
                        <button type="button" on:click=move |_| open.set(false)>"Cancel"</button>
                        <button type="submit" class="primary" disabled=move || pending.get()>
                            {move || if pending.get() { "Creating…" } else { "Create chat" }}
                        </button>
                    </div>
                </form>
            </div>
            }
            }
        </Show>
    }
}

/// "PR #12 open · checks pass · approved", from what kosuke last learnt of it.
pub fn pull_life_line(number: Option<i32>, life: Option<&api_types::PullRequestLife>) -> Option<String> {
    use api_types::{ChecksState, PullRequestState, ReviewState};
    let (number, life) = (number?, life?);
    let mut parts = vec![format!(
        "PR #{number} {}",
        match life.state {
            PullRequestState::Open => "open",
            PullRequestState::Draft => "draft",
            PullRequestState::Merged => "merged",
            PullRequestState::Closed => "closed",
        }
    )];
    if matches!(life.state, PullRequestState::Open | PullRequestState::Draft) {
        match life.checks {
            Some(ChecksState::Success) => parts.push("✓ checks pass".to_owned()),
            Some(ChecksState::Failure) => parts.push("✕ checks fail".to_owned()),
            Some(ChecksState::Pending) => parts.push("◌ checks running".to_owned()),
            _ => {}
        }
        match life.review {
            Some(ReviewState::Approved) => parts.push("approved".to_owned()),
            Some(ReviewState::ChangesRequested) => parts.push("changes requested".to_owned()),
            Some(ReviewState::Commented) => parts.push("reviewed".to_owned()),
            _ => {}
        }
    }
    Some(parts.join(" · "))
}

/// What the chat's activity asks of its user, on its card.
fn attention_tag(activity: SessionActivity, unread: u32) -> Option<AnyView> {
    let (class, text, title) = match activity {
        SessionActivity::Idle => return None,
        SessionActivity::Running => ("attention running", "● working".to_owned(), "The agent is working in this chat"),
        SessionActivity::FinishedUnread => {
            ("attention unread", format!("{unread} unread"), "Turns that ended since you last looked")
        }
        SessionActivity::FailedUnread => ("attention failed", "✕ failed".to_owned(), "The last turn failed"),
        SessionActivity::WaitingForYou => {
            ("attention waiting", "? needs you".to_owned(), "The agent asks you something")
        }
    };
    Some(view! { <span class=class title=title data-testid="attention">{text}</span> }.into_any())
}

/// A size on disk as people read it: 512 B, 3.4 MB, 1.2 GB.
fn size(bytes: i64) -> String {
    let bytes = bytes as f64;
    match bytes {
        b if b >= 1e9 => format!("{:.1} GB", b / 1e9),
        b if b >= 1e6 => format!("{:.1} MB", b / 1e6),
        b if b >= 1e3 => format!("{:.0} KB", b / 1e3),
        b => format!("{b:.0} B"),
    }
}
