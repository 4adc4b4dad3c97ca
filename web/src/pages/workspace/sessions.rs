//! The sidebar's chats: 100 at a time, newest activity first, with "Show more"; the search box,
//! asked of the server 250 ms after the last keystroke; and every listed chat's branch status
//! and running preview.

use crate::state::{ToastList, client, say};
use api_types::*;
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::collections::HashMap;

#[derive(Clone, Copy)]
pub struct SessionList {
    pub active: RwSignal<Vec<ChatSession>>,
    pub archived: RwSignal<Vec<ChatSession>>,
    pub loading: RwSignal<bool>,
    /// The cursor of the next page, when there is one.
    pub more: RwSignal<Option<String>>,
    /// Branch statuses of the listed chats, by chat id.
    pub statuses: RwSignal<HashMap<i32, SessionBranchStatus>>,
    /// The conflict radar of the project's active chats.
    pub conflicts: RwSignal<ConflictMatrix>,
    /// The user's dev servers in the project that are not stopped, by chat id.
    pub previews: RwSignal<HashMap<i32, PreviewState>>,
    /// What the search box holds.
    pub search: RwSignal<String>,
    /// The search the list was last asked for.
    query: RwSignal<String>,
    project_id: Memo<Option<ProjectId>>,
    toasts: ToastList,
}

impl SessionList {
    /// The project's chats, loaded now and again whenever the project or the search changes.
    pub fn new(project_id: Memo<Option<ProjectId>>, toasts: ToastList) -> Self {
        let list = SessionList {
            active: RwSignal::new(Vec::new()),
            archived: RwSignal::new(Vec::new()),
            loading: RwSignal::new(true),
            more: RwSignal::new(None),
            statuses: RwSignal::new(HashMap::new()),
            conflicts: RwSignal::new(ConflictMatrix::default()),
            previews: RwSignal::new(HashMap::new()),
            search: RwSignal::new(String::new()),
            query: RwSignal::new(String::new()),
            project_id,
            toasts,
        };
        let typed = StoredValue::new(0u64);
        Effect::new(move |_| {
            let text = list.search.get();
            let stamp = typed.get_value() + 1;
            typed.set_value(stamp);
            set_timeout(
                move || {
                    if typed.try_get_value() == Some(stamp) {
                        list.query.set(text.trim().to_owned())
                    }
                },
                std::time::Duration::from_millis(250),
            );
        });
        Effect::new(move |_| {
            project_id.track();
            list.query.track();
            list.reload();
        });
        list
    }

    /// The first page again.
    pub fn reload(self) {
        self.fetch(None);
    }

    /// The first page asked again (every few seconds): the chats shown take their new state
    /// (activity, unread, counts) in place, and a turn that ended in the background is told.
    pub fn refresh(self) {
        let (Some(Some(id)), Some(q)) = (self.project_id.try_get_untracked(), self.query.try_get_untracked()) else {
            return;
        };
        let q = Some(q).filter(|q| !q.is_empty());
        spawn_local(async move {
            let query = ChatSessionQuery { q, limit: Some(100), ..Default::default() };
            let Ok(page) = client().list_chat_sessions(id, &query).await else { return };
            let fresh: HashMap<i32, ChatSession> = page.sessions.into_iter().map(|s| (s.id.0, s)).collect();
            for list in [self.active, self.archived] {
                list.try_update(|shown| {
                    for session in shown.iter_mut() {
                        if let Some(now) = fresh.get(&session.id.0) {
                            crate::attention::notify_ended(session.activity, now);
                            *session = now.clone();
                        }
                    }
                });
            }
            self.previews_and_title(id).await;
        });
    }

    async fn previews_and_title(self, id: ProjectId) {
        self.load_previews(id).await;
        if let Some(active) = self.active.try_get_untracked() {
            crate::attention::show_in_title(&active);
        }
    }

    /// The chat `id` as its user has read it.
    pub fn mark_read(self, id: ChatSessionPk) {
        for list in [self.active, self.archived] {
            list.try_update(|shown| {
                if let Some(session) = shown.iter_mut().find(|s| s.id == id) {
                    session.unread = 0;
                    if session.activity.needs_you() {
                        session.activity = SessionActivity::Idle;
                    }
                }
            });
        }
        if let Some(active) = self.active.try_get_untracked() {
            crate::attention::show_in_title(&active);
        }
    }

    /// The next page, after the ones shown.
    pub fn show_more(self) {
        self.fetch(self.more.get_untracked());
    }

    /// The listed chat `id`.
    pub fn find(self, id: ChatSessionPk) -> Option<ChatSession> {
        self.active.get().into_iter().chain(self.archived.get()).find(|s| s.id == id)
    }

    fn fetch(self, cursor: Option<String>) {
        // Also called after an action's answer: the page may have gone since.
        let (Some(Some(id)), Some(q)) = (self.project_id.try_get_untracked(), self.query.try_get_untracked()) else {
            return;
        };
        let q = Some(q).filter(|q| !q.is_empty());
        let appending = cursor.is_some();
        spawn_local(async move {
            let query = ChatSessionQuery { q, limit: Some(100), cursor, ..Default::default() };
            let list = client().list_chat_sessions(id, &query).await;
            // The page may have gone meanwhile (its signals with it).
            if self.loading.try_set(false).is_some() {
                return;
            }
            match list {
                Ok(list) => {
                    let (archived, active): (Vec<_>, Vec<_>) =
                        list.sessions.into_iter().partition(|s| s.status == ChatSessionStatus::Archived);
                    if appending {
                        self.active.update(|l| l.extend(active));
                        self.archived.update(|l| l.extend(archived));
                    } else {
                        self.active.set(active);
                        self.archived.set(archived);
                        crate::perf::mark_after_paint(crate::perf::SIDEBAR_PAINTED);
                    }
                    self.more.set(list.next_cursor);
                    self.load_statuses(id).await;
                    self.previews_and_title(id).await;
                }
                Err(err) => self.toasts.error(say(&err)),
            }
        });
    }

    /// The project's running previews, in one request.
    async fn load_previews(self, id: ProjectId) {
        if let Ok(found) = client().list_previews(id).await {
            let map = found.previews.into_iter().map(|p| (p.chat_session_id.0, p.state)).collect();
            self.previews.try_set(map);
        }
    }

    /// What the radar says of each chat: its base first, then the chats it overlaps with.
    pub fn radar_lines(self) -> Signal<HashMap<i32, String>> {
        Signal::derive(move || {
            let (matrix, active) = (self.conflicts.get(), self.active.get());
            let title = |id: ChatSessionPk| active.iter().find(|s| s.id == id).map(|s| s.title.clone());
            let mut lines: HashMap<i32, Vec<String>> = HashMap::new();
            for entry in &matrix.base {
                let base = active.iter().find(|s| s.id == entry.chat_session_id).and_then(|s| s.base_branch.clone());
                let n = entry.paths.len();
                let said = format!(
                    "conflicts with {} ({n} file{})",
                    base.unwrap_or_else(|| "its base".into()),
                    if n == 1 { "" } else { "s" }
                );
                lines.entry(entry.chat_session_id.0).or_default().push(said);
            }
            for pair in &matrix.pairs {
                for (me, other) in [(pair.a, pair.b), (pair.b, pair.a)] {
                    if let Some(other) = title(other) {
                        lines.entry(me.0).or_default().push(format!("overlaps with ‹{other}›"));
                    }
                }
            }
            lines.into_iter().map(|(id, said)| (id, said.join(" · "))).collect()
        })
    }

    /// Every listed chat's branch status, in one request; and the conflict radar.
    async fn load_statuses(self, id: ProjectId) {
        if let Ok(matrix) = client().get_conflicts(id).await {
            self.conflicts.try_set(matrix);
        }
        let (Some(active), Some(archived)) = (self.active.try_get_untracked(), self.archived.try_get_untracked())
        else {
            return;
        };
        let ids: Vec<ChatSessionPk> = active.iter().chain(archived.iter()).map(|s| s.id).take(100).collect();
        if !ids.is_empty()
            && let Ok(found) = client().branch_statuses(id, &ids).await
        {
            self.statuses.try_update(|map| {
                for status in found.statuses {
                    map.insert(status.chat_session_id.0, status);
                }
            });
        }
    }
}
