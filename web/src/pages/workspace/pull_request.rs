//! The navbar's Create Pull Request button (why it is disabled) and its dialog: the title and
//! description (or "Describe it for me": the agent writes them from the chat's changes, to
//! edit), draft or not, then the pull request opened in a tab opened within the click (so
//! pop-up blockers allow it).

use crate::components::focus::{modal, modal_keys};
use crate::state::{ToastKind, ToastList, client, say};
use api_types::*;
use leptos::prelude::*;
use leptos::task::spawn_local;

/// The button's disabled reason and its action (opening the dialog).
pub fn button(
    project: RwSignal<Option<Project>>,
    selected: Memo<Option<ChatSessionPk>>,
    dialog_open: RwSignal<bool>,
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
    (pull_request_disabled, Callback::new(move |()| dialog_open.set(true)))
}

/// The pull request's title, description and draft flag; `refresh_branch` reloads the chat's
/// branch status once the pull request exists.
#[component]
pub fn PullRequestDialog(
    open: RwSignal<bool>,
    project_id: Memo<Option<ProjectId>>,
    selected: Memo<Option<ChatSessionPk>>,
    /// The chat's title, the default title.
    #[prop(into)]
    chat_title: Signal<String>,
    pending: RwSignal<bool>,
    toasts: ToastList,
    on_opened: Callback<()>,
) -> impl IntoView {
    let title = RwSignal::new(String::new());
    let body = RwSignal::new(String::new());
    let draft = RwSignal::new(false);
    let describing = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let describe = move |_| {
        let (Some(p), Some(s)) = (project_id.get_untracked(), selected.get_untracked()) else { return };
        describing.set(true);
        error.set(None);
        spawn_local(async move {
            match client().describe_pull_request(p, s).await {
                Ok(written) => {
                    title.set(written.title);
                    body.set(written.body);
                }
                Err(err) => error.set(Some(say(&err))),
            }
            describing.set(false);
        });
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (Some(p), Some(s)) = (project_id.get_untracked(), selected.get_untracked()) else { return };
        // Open the tab now, within the click, so it is not blocked as a pop-up.
        let tab = window().open_with_url_and_target("about:blank", "_blank").ok().flatten();
        let request = CreatePullRequestRequest {
            title: Some(title.get_untracked()).filter(|t| !t.trim().is_empty()),
            description: Some(body.get_untracked()).filter(|b| !b.trim().is_empty()),
            draft: draft.get_untracked(),
            ..Default::default()
        };
        pending.set(true);
        error.set(None);
        spawn_local(async move {
            match client().create_pull_request(p, s, &request).await {
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
                    open.set(false);
                    on_opened.run(());
                }
                Err(err) => {
                    if let Some(tab) = &tab {
                        let _ = tab.close();
                    }
                    error.set(Some(say(&err)));
                }
            }
            pending.set(false);
        });
    };
    view! {
        <Show when=move || open.get()>
            {
            modal(".dialog");
            title.set(chat_title.get_untracked());
            body.set(String::new());
            draft.set(false);
            error.set(None);
            view! {
            <div class="dialog-backdrop">
                <form class="dialog" role="dialog" aria-modal="true" aria-labelledby="pr-dialog-title" data-testid="pr-dialog"
                    on:keydown=move |ev| modal_keys(&ev, || open.set(false)) on:submit=submit>
                    <h2 id="pr-dialog-title">"Open a pull request"</h2>
                    <label>"Title" <input name="pr_title" maxlength="100" prop:value=move || title.get()
                        on:input=move |ev| title.set(event_target_value(&ev)) /></label>
                    <label>"Description (empty: the chat's description and its commits)"
                        <textarea name="pr_body" rows="8" prop:value=move || body.get()
                            on:input=move |ev| body.set(event_target_value(&ev))></textarea></label>
                    <button type="button" on:click=describe disabled=move || describing.get()>
                        {move || if describing.get() { "Describing…" } else { "Describe it for me" }}
                    </button>
                    <label class="inline"><input type="checkbox" name="pr_draft" prop:checked=move || draft.get()
                        on:change=move |ev| draft.set(event_target_checked(&ev)) />" Open as a draft"</label>
                    {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                    <div class="row end">
                        <button type="button" on:click=move |_| open.set(false)>"Cancel"</button>
                        <button type="submit" class="primary" disabled=move || pending.get()>
                            {move || if pending.get() { "Opening…" } else { "Open pull request" }}
                        </button>
                    </div>
                </form>
            </div>
            }
            }
        </Show>
    }
}
