//! A project's workspace: the chat sidebar, the open chat with its model banner, and the tabs
//! (Preview, Code, Branding, Settings). The open chat is in the URL; each chat keeps its draft.

mod actions;
mod code;
mod events;
mod preview;
mod pull_request;
mod run_settings;
mod sessions;
mod setup;
mod tabs;
mod update;

use crate::app::session_path;
use crate::components::chat::{ChatPane, ModelBanner};
use crate::components::navbar::{ProjectBar, TAB_PANEL, Tab};
use crate::components::sidebar::{NewChatModal, SessionAction, Sidebar};
use crate::live;
use crate::state::{ToastList, client, say, use_toasts};
use actions::After;
use api_types::*;
use code::{CodeState, CodeTab};
use events::{on_event, placeholder};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::{use_navigate, use_params_map};
use preview::PreviewTab;
use sessions::SessionList;
use std::collections::HashMap;
use tabs::{BrandingTab, SettingsTab};

fn parse_id(raw: Option<String>) -> Option<i32> {
    raw.and_then(|s| s.parse().ok())
}

#[component]
pub fn Workspace() -> impl IntoView {
    let toasts = use_toasts();
    let navigate = use_navigate();
    let params = use_params_map();
    let project_id = Memo::new(move |_| parse_id(params.get().get("id")).map(ProjectId));
    let selected = Memo::new(move |_| parse_id(params.get().get("session")).map(ChatSessionPk));
    // Whether chat `s` is still the open one (and the page still here): answers for another
    // chat, or after the page has gone, are dropped.
    let is_open = move |s: ChatSessionPk| selected.try_get_untracked() == Some(Some(s));

    let project = RwSignal::new(None::<Project>);
    let agent = LocalResource::new(|| async { client().agent_info().await.ok() });
    let branch_choices = RwSignal::new(Vec::<String>::new());
    let show_archived = RwSignal::new(false);
    let sidebar_open = RwSignal::new(false);
    let messages = RwSignal::new(Vec::<ChatMessage>::new());
    let older = RwSignal::new(None::<String>);
    let running = RwSignal::new(false);
    let streaming_message = RwSignal::new(None::<MessageId>);
    let queued = RwSignal::new(false);
    let branch_status = RwSignal::new(None::<BranchStatus>);
    // Messages sent during a run, waiting to start as the next turns.
    let waiting = RwSignal::new(Vec::<QueuedPrompt>::new());
    let revision = RwSignal::new(0u32);
    let code_state = CodeState::new();
    // The open chat's turns with a commit, for the Changes of one turn.
    let turns = Signal::derive(move || {
        messages
            .get()
            .iter()
            .filter(|m| m.role == MessageRole::Assistant && m.reverted_at.is_none())
            .filter_map(|m| m.commit_sha.as_ref().map(|sha| (m.id, sha.clone(), m.content.clone())))
            .enumerate()
            .map(|(n, (id, sha, content))| {
                let gist: String = content.lines().next().unwrap_or_default().chars().take(40).collect();
                (id, format!("Turn {} ({}): {gist}", n + 1, &sha[..sha.len().min(7)]))
            })
            .collect::<Vec<_>>()
    });
    let drafts = StoredValue::new(HashMap::<i32, String>::new());
    let draft = RwSignal::new(String::new());
    let tab = RwSignal::new(Tab::Code);
    let new_chat_open = RwSignal::new(false);
    let pull_request_pending = RwSignal::new(false);

    // The project, polled while its repository is being cloned.
    Effect::new(move |_| {
        project_id.track();
        load_project(project_id, project, toasts);
    });

    let sessions = SessionList::new(project_id, toasts);
    let reload_sessions = move || sessions.reload();
    let current = Memo::new(move |_| sessions.find(selected.get()?));
    // Other chats' states (a turn that ended in the background) every few seconds.
    let refresher = set_interval_with_handle(move || sessions.refresh(), std::time::Duration::from_secs(5)).ok();
    on_cleanup(move || {
        if let Some(handle) = refresher {
            handle.clear();
        }
    });
    // The open chat, in sight, is read.
    Effect::new(move |_| {
        let Some(session) = current.get() else { return };
        if session.activity.needs_you() && !crate::attention::page_hidden() {
            let (p, s) = (session.project_id, session.id);
            sessions.mark_read(s);
            spawn_local(async move {
                let _ = client().mark_read(p, s).await;
            });
        }
    });

    let refresh_branch = move || {
        let (Some(Some(p)), Some(Some(s))) = (project_id.try_get_untracked(), selected.try_get_untracked()) else {
            return;
        };
        spawn_local(async move {
            let status = client().get_branch_status(p, s).await.ok();
            if is_open(s) {
                branch_status.set(status);
            }
        });
    };
    let load_messages = move || {
        let (Some(Some(p)), Some(Some(s))) = (project_id.try_get_untracked(), selected.try_get_untracked()) else {
            return;
        };
        spawn_local(async move {
            let query = MessageQuery { order: Some(MessageOrder::Desc), limit: Some(50), cursor: None };
            let page = client().list_messages(p, s, &query).await;
            if !is_open(s) {
                return;
            }
            match page {
                Ok(mut page) => {
                    page.messages.reverse();
                    // The live run's message is the stream's (its snapshot and events), not the
                    // saved row's.
                    if let Some(live) = streaming_message.get_untracked() {
                        let shown = messages.with_untracked(|list| list.iter().find(|m| m.id == live).cloned());
                        match (shown, page.messages.iter_mut().find(|m| m.id == live)) {
                            (Some(shown), Some(saved)) => *saved = shown,
                            (Some(shown), None) => page.messages.push(shown),
                            _ => {}
                        }
                    }
                    messages.set(page.messages);
                    older.set(page.next_cursor);
                }
                Err(err) => toasts.error(say(&err)),
            }
        });
    };

    let load_queue = move || {
        let (Some(Some(p)), Some(Some(s))) = (project_id.try_get_untracked(), selected.try_get_untracked()) else {
            return;
        };
        spawn_local(async move {
            if let Ok(list) = client().list_queue(p, s).await
                && is_open(s)
            {
                waiting.try_set(list.queued);
            }
        });
    };

    // Switching chats: keep the old draft, load the new chat, follow its live events.
    let previous = StoredValue::new(None::<ChatSessionPk>);
    let following = StoredValue::new(None::<u64>);
    Effect::new(move |_| {
        let now = selected.get();
        if let Some(old) = previous.get_value() {
            let text = draft.get_untracked();
            drafts.update_value(|d| {
                d.insert(old.0, text);
            });
        }
        previous.set_value(now);
        draft.set(now.and_then(|s| drafts.with_value(|d| d.get(&s.0).cloned())).unwrap_or_default());
        messages.set(Vec::new());
        running.set(false);
        queued.set(false);
        streaming_message.set(None);
        branch_status.set(None);
        waiting.set(Vec::new());
        sidebar_open.set(false);
        let (Some(p), Some(s)) = (project_id.get_untracked(), now) else {
            if let Some(generation) = following.get_value() {
                live::stop_if(generation);
            }
            return;
        };
        load_messages();
        load_queue();
        refresh_branch();
        // A live run announces itself first on the stream (`run_snapshot`), with its message
        // as it stands; the events after it are exactly what the snapshot lacks.
        let generation = live::follow(&format!("{}?from=latest", client().events_url(p, s)), move |event| {
            if !is_open(s) {
                return;
            }
            // A turn that started from the queue: its prompt leaves the queue for the chat.
            let unknown_turn = match &event {
                RunEvent::RunStarted { assistant_message_id, .. }
                | RunEvent::RunQueued { assistant_message_id, .. } => {
                    messages.with_untracked(|list| !list.iter().any(|m| m.id == *assistant_message_id))
                }
                _ => false,
            };
            on_event(event, messages, running, queued, streaming_message, s, move || {
                load_messages();
                load_queue();
                refresh_branch();
                reload_sessions();
            });
            if unknown_turn && !waiting.get_untracked().is_empty() {
                load_messages();
                load_queue();
            }
        });
        following.set_value(Some(generation));
    });
    on_cleanup(move || {
        if let Some(generation) = following.try_get_value().flatten() {
            live::stop_if(generation);
        }
    });

    let send = Callback::new(move |prompt: String| {
        let (Some(Some(p)), Some(Some(s))) = (project_id.try_get_untracked(), selected.try_get_untracked()) else {
            return;
        };
        // While a turn runs, what is sent waits for it.
        let behind = running.get_untracked();
        let comments = code_state.comments_of(s);
        // Comments alone are a message too.
        let prompt = if prompt.trim().is_empty() { "Please address my review comments.".to_owned() } else { prompt };
        running.set(true);
        spawn_local(async move {
            let request = ChatRequest {
                project_id: p,
                chat_session_id: s,
                prompt,
                github_token: None,
                queue: false,
                comments: comments.clone(),
            };
            let answer = if behind {
                client().send_chat_or_queue(&request).await
            } else {
                client().send_chat(&request).await.map(ChatAnswer::Accepted)
            };
            if answer.is_ok() {
                code_state.sent(s, &comments);
            }
            if !is_open(s) {
                return;
            }
            match answer {
                Ok(ChatAnswer::Queued(ChatQueued { queued })) => {
                    waiting.update(|list| list.push(queued));
                }
                Ok(ChatAnswer::Accepted(accepted)) => {
                    // The card says the chat is working.
                    sessions.refresh();
                    // A quick run can end before this answer is read: its `run_finished` has
                    // then cleared `running` and loaded the saved messages, and nothing may
                    // mark its message as streaming again (it would never be replaced).
                    let still_running = running.get_untracked();
                    if still_running {
                        streaming_message.set(Some(accepted.assistant_message_id));
                    }
                    messages.update(|list| {
                        if !list.iter().any(|m| m.id == accepted.user_message.id) {
                            list.push(accepted.user_message.clone());
                        }
                        if still_running && !list.iter().any(|m| m.id == accepted.assistant_message_id) {
                            list.push(placeholder(accepted.assistant_message_id, s));
                        }
                    });
                }
                Err(err) => {
                    if !behind {
                        running.set(false);
                    }
                    toasts.error(say(&err));
                }
            }
        });
    });
    let edit_waiting = Callback::new(move |(id, prompt): (QueuedPromptId, Option<String>)| {
        let (Some(p), Some(s)) = (project_id.get_untracked(), selected.get_untracked()) else { return };
        spawn_local(async move {
            let done = match prompt {
                Some(prompt) => client().edit_queued(p, s, id, &prompt).await.map(drop),
                None => client().cancel_queued(p, s, id).await,
            };
            if let Err(err) = done {
                toasts.error(say(&err));
            }
            load_queue();
        });
    });
    let stop = Callback::new(move |()| {
        let (Some(Some(p)), Some(Some(s))) = (project_id.try_get_untracked(), selected.try_get_untracked()) else {
            return;
        };
        spawn_local(async move {
            if let Err(err) = client().cancel_run(p, s).await {
                toasts.error(say(&err));
            }
        });
    });
    let loading_older = StoredValue::new(false);
    let load_older = Callback::new(move |()| {
        let (Some(p), Some(s), Some(cursor)) =
            (project_id.get_untracked(), selected.get_untracked(), older.get_untracked())
        else {
            return;
        };
        if loading_older.get_value() {
            return;
        }
        loading_older.set_value(true);
        spawn_local(async move {
            let query = MessageQuery { order: Some(MessageOrder::Desc), limit: Some(50), cursor: Some(cursor) };
            if let Ok(mut page) = client().list_messages(p, s, &query).await
                && is_open(s)
            {
                page.messages.reverse();
                messages.update(|list| {
                    let mut earlier = page.messages;
                    earlier.append(list);
                    *list = earlier;
                });
                older.set(page.next_cursor);
            }
            loading_older.set_value(false);
        });
    });

    let navigate_to = navigate.clone();
    let select = Callback::new(move |s: ChatSessionPk| {
        if let Some(p) = project_id.get_untracked() {
            navigate_to(&session_path(p, s), Default::default());
        }
    });
    let create_chat = Action::new_local(move |request: &CreateChatSessionRequest| {
        let request = request.clone();
        let id = project_id.get_untracked();
        async move {
            let Some(id) = id else { return Err("No project.".to_owned()) };
            client().create_chat_session(id, &request).await.map_err(|e| say(&e))
        }
    });
    let navigate_new = navigate.clone();
    Effect::new(move |_| {
        if let Some(Ok(session)) = create_chat.value().get() {
            new_chat_open.set(false);
            if let Some(notice) = &session.notice {
                toasts.show(crate::state::ToastKind::Info, notice.clone());
            }
            reload_sessions();
            navigate_new(&session_path(session.project_id, session.id), Default::default());
        }
    });
    let navigate_action = navigate.clone();
    let act = Callback::new(move |(s, action): (ChatSessionPk, SessionAction)| {
        let Some(p) = project_id.get_untracked() else { return };
        let navigate = navigate_action.clone();
        spawn_local(async move {
            match actions::perform(p, s, action).await {
                Ok(After::Stay(notice)) => {
                    if let Some(notice) = notice {
                        toasts.show(crate::state::ToastKind::Info, notice);
                    }
                }
                Ok(After::Open(copy)) => navigate(&session_path(p, copy), Default::default()),
                Ok(After::Changed(said)) => {
                    toasts.show(crate::state::ToastKind::Info, said);
                    if is_open(s) {
                        load_messages();
                        refresh_branch();
                        revision.update(|n| *n += 1);
                    }
                }
                Ok(After::Reload) => {
                    if is_open(s) {
                        load_messages();
                        refresh_branch();
                        revision.update(|n| *n += 1);
                    }
                }
                Ok(After::Deleted(notice)) => {
                    if let Some(notice) = notice {
                        toasts.show(crate::state::ToastKind::Info, notice);
                    }
                    if is_open(s) {
                        navigate(&crate::app::project_path(p), Default::default())
                    }
                }
                Err(err) => {
                    toasts.error(say(&err));
                    return;
                }
            }
            reload_sessions();
        });
    });

    // The pull-request button: disabled with a reason; its dialog opens the pull request in a
    // new tab.
    let pull_request_dialog = RwSignal::new(false);
    let (pull_request_disabled, open_pull_request) = pull_request::button(project, selected, pull_request_dialog);

    let model_name =
        Signal::derive(move || agent.get().flatten().map(|a| a.display_name).unwrap_or_else(|| "…".to_owned()));
    let branch_name = Signal::derive(move || match current.get() {
        Some(s) => s.github_branch_name,
        None => project.get().map(|p| p.default_branch).unwrap_or_default(),
    });
    let input_disabled = Signal::derive(move || {
        if let Some(info) = agent.get().flatten()
            && !info.available
        {
            return Some(info.reason.unwrap_or_else(|| "No model is configured.".to_owned()));
        }
        match current.get() {
            None => Some("Start or pick a chat to talk to the agent.".to_owned()),
            Some(s) if s.status == ChatSessionStatus::Archived => {
                Some("This chat is archived; unarchive it to continue.".to_owned())
            }
            _ => None,
        }
    });
    let branch_url_base = Signal::derive(move || match project.get().map(|p| p.repository) {
        Some(RepositorySource::Github { owner, repo }) => Some(format!("https://github.com/{owner}/{repo}/tree/")),
        _ => None,
    });
    let is_owner = Signal::derive(move || project.get().is_some_and(|p| p.role == ProjectRole::Owner));

    view! {
        <div class="workspace">
            <ProjectBar
                name=Signal::derive(move || project.get().map(|p| p.name).unwrap_or_default())
                tab=tab
                pull_request_disabled=pull_request_disabled
                pull_request_pending=Signal::derive(move || pull_request_pending.get())
                on_pull_request=open_pull_request
                on_toggle_sidebar=Callback::new(move |()| sidebar_open.update(|o| *o = !*o))
            />
            {move || project.get().filter(|p| p.repository_state != RepositoryState::Ready).map(|p| view! {
                <p class=if p.repository_state == RepositoryState::Failed { "banner error" } else { "banner" } role="status">
                    {match p.repository_state {
                        RepositoryState::Failed => format!("The repository could not be cloned: {}", p.repository_error.unwrap_or_default()),
                        _ => match p.repository_progress {
                            Some(progress) if progress.total_objects > 0 => format!("Cloning the repository… {} of {} objects", progress.received_objects, progress.total_objects),
                            _ => "Cloning the repository…".to_owned(),
                        },
                    }}
                </p>
            })}
            <div class="columns">
                <Sidebar
                    active_sessions=sessions.active
                    archived_sessions=sessions.archived
                    selected=selected
                    branch_status=branch_status
                    card_statuses=sessions.statuses
                    previews=sessions.previews
                    branch_url_base=branch_url_base
                    radar=sessions.radar_lines()
                    search=sessions.search
                    show_archived=show_archived
                    loading=sessions.loading
                    open=sidebar_open
                    has_more=Signal::derive(move || sessions.more.get().is_some())
                    on_more=Callback::new(move |()| sessions.show_more())
                    on_select=select
                    on_new=Callback::new(move |()| {
                        new_chat_open.set(true);
                        if let Some(p) = project_id.get_untracked() {
                            spawn_local(async move {
                                if let Ok(list) = client().list_branches(p).await {
                                    branch_choices.set(list.branches.into_iter().map(|b| b.name).collect());
                                }
                            });
                        }
                    })
                    on_action=act
                />
                <div class="chat-column">
                    <ModelBanner model=model_name branch=branch_name
                        base=Signal::derive(move || current.get().and_then(|s| s.base_branch))
                        pull_request=Signal::derive(move || current.get().and_then(|s| {
                            crate::components::sidebar::pull_life_line(s.pull_request_number, s.pull_request_life.as_ref())
                        })) />
                    <update::ConflictBanner current=current
                        on_resolve=Callback::new(move |prompt: String| send.run(prompt))
                        on_abort=Callback::new(move |()| if let Some(s) = selected.get_untracked() { act.run((s, SessionAction::AbortUpdate)) }) />
                    <update::LostWorkBanner current=current />
                    <update::PullRequestEndedBanner current=current
                        on_archive=Callback::new(move |()| if let Some(s) = selected.get_untracked() { act.run((s, SessionAction::Archive)) }) />
                    <setup::SetupBanner project_id=project_id current=current
                        on_changed=Callback::new(move |()| reload_sessions()) />
                    <ChatPane
                        messages=messages
                        running=running
                        queued=queued
                        disabled_reason=input_disabled
                        has_older=Signal::derive(move || older.get().is_some())
                        commit_url_base=Signal::derive(move || match project.get().map(|p| p.repository) {
                            Some(RepositorySource::Github { owner, repo }) => Some(format!("https://github.com/{owner}/{repo}/commit/")),
                            _ => None,
                        })
                        draft=draft
                        comments=Signal::derive(move || selected.get().map(|s| code_state.comments_of(s)).unwrap_or_default())
                        on_remove_comment=Callback::new(move |n: usize| if let Some(s) = selected.get_untracked() { code_state.remove(s, n) })
                        waiting=waiting
                        on_edit_waiting=edit_waiting
                        undo_revert=Signal::derive(move || current.get().is_some_and(|s| s.undo_revert))
                        on_checkpoint=Callback::new(move |action| if let Some(s) = selected.get_untracked() { act.run((s, action)) })
                        on_send=send
                        on_stop=stop
                        on_load_older=load_older
                    />
                </div>
                <section class="details" role="tabpanel" id=TAB_PANEL aria-labelledby=move || tab.get().id()>
                    {move || match tab.get() {
                        Tab::Code => view! { <CodeTab project_id=project_id selected=selected running=running revision=revision turns=turns state=code_state radar=sessions.conflicts /> }.into_any(),
                        Tab::Settings => view! { <SettingsTab project_id=project_id is_owner=is_owner /> }.into_any(),
                        Tab::Preview => view! { <PreviewTab project_id=project_id selected=selected running=running previews=sessions.previews /> }.into_any(),
                        Tab::Branding => view! { <BrandingTab project_id=project_id is_owner=is_owner /> }.into_any(),
                    }}
                </section>
            </div>
            <pull_request::PullRequestDialog open=pull_request_dialog project_id=project_id selected=selected
                chat_title=Signal::derive(move || current.get().map(|s| s.title).unwrap_or_default())
                pending=pull_request_pending toasts=toasts
                on_opened=Callback::new(move |()| { refresh_branch(); reload_sessions(); }) />
            <NewChatModal
                open=new_chat_open
                branches=Signal::derive(move || {
                    let choices = branch_choices.get();
                    if choices.is_empty() { project.get().map(|p| vec![p.default_branch]).unwrap_or_default() } else { choices }
                })
                default_branch=Signal::derive(move || project.get().map(|p| p.default_branch).unwrap_or_default())
                pending=Signal::derive(move || create_chat.pending().get())
                error=Signal::derive(move || create_chat.value().get().and_then(Result::err))
                on_create=Callback::new(move |request| { create_chat.dispatch(request); })
            />
        </div>
    }
}

/// Loads the project, and again every second while its repository is being cloned.
fn load_project(project_id: Memo<Option<ProjectId>>, project: RwSignal<Option<Project>>, toasts: ToastList) {
    // Called again from a timer: the page may have gone since.
    let Some(Some(id)) = project_id.try_get_untracked() else { return };
    spawn_local(async move {
        match client().get_project(id).await {
            Ok(p) => {
                let cloning = p.repository_state == RepositoryState::Cloning;
                project.set(Some(p));
                if cloning {
                    set_timeout(move || load_project(project_id, project, toasts), std::time::Duration::from_secs(1));
                }
            }
            Err(err) => toasts.error(say(&err)),
        }
    });
}
