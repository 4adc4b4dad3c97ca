//! The open chat's setup, above its messages: while the checkout is made and set up, what
//! runs and its log (asked again every second); when the setup failed, why, with Retry and
//! Skip. Nothing once the checkout is ready.

use crate::state::{client, say, use_toasts};
use api_types::*;
use leptos::prelude::*;
use leptos::task::spawn_local;

#[component]
pub fn SetupBanner(
    project_id: Memo<Option<ProjectId>>,
    current: Memo<Option<ChatSession>>,
    /// Called when the setup ended (the chat list shows the new state).
    on_changed: Callback<()>,
) -> impl IntoView {
    let toasts = use_toasts();
    let setup = RwSignal::new(None::<SessionSetup>);
    // Follows the chat shown: its setup now, and every second while it runs.
    Effect::new(move |_| {
        let (Some(p), Some(session)) = (project_id.get(), current.get()) else { return setup.set(None) };
        if !busy(session.workspace_state) && session.workspace_state != WorkspaceState::SetupFailed {
            return setup.set(None);
        }
        poll(p, session.id, current, setup, on_changed);
    });
    let act = move |action: SetupAction| {
        let (Some(p), Some(session)) = (project_id.get_untracked(), current.get_untracked()) else { return };
        spawn_local(async move {
            match client().setup_action(p, session.id, action).await {
                Ok(now) => {
                    setup.set(Some(now));
                    on_changed.run(());
                }
                Err(err) => toasts.error(say(&err)),
            }
        });
    };
    view! {
        {move || setup.get().filter(|s| s.state != WorkspaceState::Ready).map(|s| {
            let failed = s.state == WorkspaceState::SetupFailed;
            let title = match s.state {
                WorkspaceState::SetupFailed => "The setup failed".to_owned(),
                WorkspaceState::Provisioning => "Making this chat's checkout…".to_owned(),
                _ => "Setting up the checkout…".to_owned(),
            };
            view! {
                <div class=if failed { "setup-banner error" } else { "setup-banner" } role="status" data-testid="setup-banner">
                    <strong>{title}</strong>
                    {s.command.clone().map(|c| view! { <code class="command">{format!("$ {c}")}</code> })}
                    {s.error.clone().filter(|_| failed).map(|e| view! { <p>{e.lines().next().unwrap_or_default().to_owned()}</p> })}
                    {(!s.log.is_empty()).then(|| view! { <pre class="setup-log" data-testid="setup-log">{s.log.clone()}</pre> })}
                    {failed.then(|| view! {
                        <div class="row">
                            <button class="primary" on:click=move |_| act(SetupAction::Retry)>"Retry setup"</button>
                            <button on:click=move |_| act(SetupAction::Skip)>"Skip it"</button>
                        </div>
                    })}
                </div>
            }
        })}
    }
}

fn busy(state: WorkspaceState) -> bool {
    matches!(state, WorkspaceState::Provisioning | WorkspaceState::SettingUp)
}

/// Asks for the chat's setup, and again a second later while it runs (while the chat is shown).
fn poll(
    p: ProjectId,
    id: ChatSessionPk,
    current: Memo<Option<ChatSession>>,
    setup: RwSignal<Option<SessionSetup>>,
    on_changed: Callback<()>,
) {
    spawn_local(async move {
        let Ok(now) = client().get_setup(p, id).await else { return };
        if current.try_get_untracked().flatten().map(|s| s.id) != Some(id) {
            return;
        }
        let running = busy(now.state);
        setup.set(Some(now));
        if running {
            set_timeout(move || poll(p, id, current, setup, on_changed), std::time::Duration::from_secs(1));
        } else {
            on_changed.run(());
        }
    });
}
