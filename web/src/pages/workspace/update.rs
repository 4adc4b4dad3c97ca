//! A chat whose update from its base branch stopped on conflicts: which files, and the two
//! ways on (the agent resolves them in its next turn, or the update is abandoned).

use api_types::ChatSession;
use leptos::prelude::*;

#[component]
pub fn ConflictBanner(
    #[prop(into)] current: Signal<Option<ChatSession>>,
    /// Sends the agent a turn to resolve them (its instructions carry the conflicts).
    on_resolve: Callback<String>,
    on_abort: Callback<()>,
) -> impl IntoView {
    move || {
        let session = current.get()?;
        let conflict = session.update_conflict?;
        let base = conflict.base_branch.clone();
        let files = conflict.paths.join(", ");
        let prompt = format!("Resolve the conflicts from updating this chat with {base}.");
        Some(view! {
            <div class="banner warning" role="status" data-testid="conflict-banner">
                <span>{format!("Updating from {base} stopped on conflicts in {} file{}: {files}.",
                    conflict.paths.len(), if conflict.paths.len() == 1 { "" } else { "s" })}</span>
                <button on:click=move |_| on_resolve.run(prompt.clone())>"Hand to the agent"</button>
                <button class="ghost" on:click=move |_| on_abort.run(())>"Abort the update"</button>
            </div>
        })
    }
}

/// A chat another node took over from a dead one: what of its work was lost there.
#[component]
pub fn LostWorkBanner(#[prop(into)] current: Signal<Option<ChatSession>>) -> impl IntoView {
    move || {
        let lost = current.get()?.lost_work?;
        Some(view! { <div class="banner warning" role="status" data-testid="lost-work-banner">{lost}</div> })
    }
}

/// The project's default way of updating chats from their base (owners only).
#[component]
pub fn UpdateStrategySection(project_id: Memo<Option<api_types::ProjectId>>) -> impl IntoView {
    use crate::state::{client, say, use_toasts};
    use api_types::{UpdateProjectRequest, UpdateStrategy};
    use leptos::task::spawn_local;
    let toasts = use_toasts();
    let strategy = RwSignal::new(None::<UpdateStrategy>);
    let archive_merged = RwSignal::new(false);
    Effect::new(move |_| {
        let Some(p) = project_id.get() else { return };
        spawn_local(async move {
            match client().get_project(p).await {
                Ok(project) => {
                    archive_merged.set(project.archive_merged);
                    strategy.set(Some(project.update_strategy));
                }
                Err(err) => toasts.error(say(&err)),
            }
        });
    });
    let save = move |request: UpdateProjectRequest| {
        let Some(p) = project_id.get_untracked() else { return };
        spawn_local(async move {
            match client().update_project(p, &request).await {
                Ok(project) => {
                    strategy.set(Some(project.update_strategy));
                    archive_merged.set(project.archive_merged);
                    toasts.show(crate::state::ToastKind::Info, "Saved.");
                }
                Err(err) => toasts.error(say(&err)),
            }
        });
    };
    view! {
        <section class="settings">
            <h2>"Updating chats and their pull requests"</h2>
            <p class="muted">"What “Update from base” in a chat's menu does, and what a merged pull request does to its chat."</p>
            {move || strategy.get().map(|current| view! {
                <select aria-label="Update strategy" data-testid="update-strategy" on:change=move |ev| {
                    let chosen = if event_target_value(&ev) == "rebase" { UpdateStrategy::Rebase } else { UpdateStrategy::Merge };
                    save(UpdateProjectRequest { update_strategy: Some(chosen), ..Default::default() });
                }>
                    <option value="merge" selected=current == UpdateStrategy::Merge>"Merge (one merge commit)"</option>
                    <option value="rebase" selected=current == UpdateStrategy::Rebase>"Rebase (the chat's commits on the base's tip)"</option>
                </select>
                <label class="inline"><input type="checkbox" data-testid="archive-merged" prop:checked=move || archive_merged.get()
                    on:change=move |ev| save(UpdateProjectRequest { archive_merged: Some(event_target_checked(&ev)), ..Default::default() }) />
                    " Archive a chat once its pull request is merged or closed"</label>
            })}
        </section>
    }
}

/// A chat whose pull request was merged or closed on GitHub: offer to archive it.
#[component]
pub fn PullRequestEndedBanner(
    #[prop(into)] current: Signal<Option<ChatSession>>,
    on_archive: Callback<()>,
) -> impl IntoView {
    use api_types::{ChatSessionStatus, PullRequestState};
    move || {
        let session = current.get().filter(|s| s.status == ChatSessionStatus::Active)?;
        let life = session.pull_request_life?;
        let said = match life.state {
            PullRequestState::Merged => "was merged",
            PullRequestState::Closed => "was closed without merging",
            _ => return None,
        };
        let number = session.pull_request_number.unwrap_or_default();
        Some(view! {
            <div class="banner" role="status" data-testid="pr-ended-banner">
                <span>{format!("Pull request #{number} {said}. ")}</span>
                <button on:click=move |_| on_archive.run(())>"Archive this chat"</button>
            </div>
        })
    }
}
