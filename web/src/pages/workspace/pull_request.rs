//! The navbar's Create Pull Request button: why it is disabled, and opening the pull request
//! (in a tab opened within the click, so pop-up blockers allow it).

use crate::state::{ToastKind, ToastList, client, say};
use api_types::*;
use leptos::prelude::*;
use leptos::task::spawn_local;

/// The button's disabled reason and its action; `refresh_branch` reloads the chat's branch
/// status once the pull request exists.
pub fn button(
    project: RwSignal<Option<Project>>,
    project_id: Memo<Option<ProjectId>>,
    selected: Memo<Option<ChatSessionPk>>,
    pull_request_pending: RwSignal<bool>,
    toasts: ToastList,
    refresh_branch: impl Fn() + Copy + Send + Sync + 'static,
) -> (Signal<Option<String>>, Callback<()>) {
    let pull_request_disabled = Signal::derive(move || {
        if selected.get().is_none() {
            return Some("Open a chat first: pull requests are made from a chat's branch.".to_owned());
        }
        match project.get().map(|p| p.repository) {
            Some(RepositorySource::Github { .. }) => None,
            Some(_) => Some("Pull requests need a project on GitHub; this one's repository is elsewhere.".to_owned()),
            None => Some("Loading…".to_owned()),
        }
    });
    let open_pull_request = Callback::new(move |()| {
        let (Some(p), Some(s)) = (project_id.get_untracked(), selected.get_untracked()) else { return };
        // Open the tab now, within the click, so it is not blocked as a pop-up.
        let tab = window().open_with_url_and_target("about:blank", "_blank").ok().flatten();
        pull_request_pending.set(true);
        spawn_local(async move {
            match client().create_pull_request(p, s, &CreatePullRequestRequest::default()).await {
                Ok(pr) => {
                    match &tab {
                        Some(tab) => {
                            let _ = tab.location().set_href(&pr.pull_request_url);
                        }
                        None => {
                            let _ = window().open_with_url_and_target(&pr.pull_request_url, "_blank");
                        }
                    }
                    toasts.show(ToastKind::Info, format!("Pull request #{} is open.", pr.pull_request_number));
                    refresh_branch();
                }
                Err(err) => {
                    if let Some(tab) = &tab {
                        let _ = tab.close();
                    }
                    toasts.error(say(&err));
                }
            }
            pull_request_pending.set(false);
        });
    });
    (pull_request_disabled, open_pull_request)
}
