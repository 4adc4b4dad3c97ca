//! The workspace's Settings and Branding tabs (Code is `code.rs`, Preview `preview.rs`). Each loads
//! its own data for the open project and chat.

use crate::components::settings::SettingsView;
use crate::state::{client, say, use_toasts};
use api_types::*;
use leptos::prelude::*;
use leptos::task::spawn_local;

/// The Settings tab's data: branches and environment variables (owners only).
#[component]
pub fn SettingsTab(project_id: Memo<Option<ProjectId>>, #[prop(into)] is_owner: Signal<bool>) -> impl IntoView {
    let toasts = use_toasts();
    let branches = RwSignal::new(None::<Result<DefaultBranchResponse, String>>);
    let env = RwSignal::new(None::<Result<EnvVarList, String>>);
    let saving = RwSignal::new(false);
    let save_error = RwSignal::new(None::<String>);
    let load = move || {
        let Some(p) = project_id.get_untracked() else { return };
        branches.set(None);
        spawn_local(async move {
            branches.set(Some(client().get_default_branch(p).await.map_err(|e| say(&e))));
            env.set(Some(client().list_env_vars(p).await.map_err(|e| say(&e))));
        });
    };
    Effect::new(move |_| {
        if is_owner.get() {
            load();
        }
    });
    let save = Callback::new(move |branch: String| {
        let Some(p) = project_id.get_untracked() else { return };
        saving.set(true);
        save_error.set(None);
        spawn_local(async move {
            match client().set_default_branch(p, &UpdateDefaultBranchRequest { default_branch: branch }).await {
                Ok(updated) => {
                    branches.set(Some(Ok(updated)));
                    toasts.show(crate::state::ToastKind::Info, "Default branch saved.");
                }
                Err(err) => save_error.set(Some(say(&err))),
            }
            saving.set(false);
        });
    });
    let set_env = Callback::new(move |(key, value): (String, String)| {
        let Some(p) = project_id.get_untracked() else { return };
        spawn_local(async move {
            match client().set_env_var(p, &key, &value).await {
                Ok(_) => env.set(Some(client().list_env_vars(p).await.map_err(|e| say(&e)))),
                Err(err) => toasts.error(say(&err)),
            }
        });
    });
    let delete_env = Callback::new(move |key: String| {
        let Some(p) = project_id.get_untracked() else { return };
        spawn_local(async move {
            match client().delete_env_var(p, &key).await {
                Ok(()) => env.set(Some(client().list_env_vars(p).await.map_err(|e| say(&e)))),
                Err(err) => toasts.error(say(&err)),
            }
        });
    });
    view! {
        <SettingsView is_owner=is_owner branches=branches saving=saving save_error=save_error
            on_retry=Callback::new(move |()| load()) on_save=save env=env on_set_env=set_env on_delete_env=delete_env />
        <Show when=move || is_owner.get()>
            <super::run_settings::RunSettingsSection project_id=project_id />
            <super::update::UpdateStrategySection project_id=project_id />
        </Show>
    }
}

/// The project's colors and fonts, which the agent is told to use.
#[component]
pub fn BrandingTab(project_id: Memo<Option<ProjectId>>, #[prop(into)] is_owner: Signal<bool>) -> impl IntoView {
    let toasts = use_toasts();
    let branding = RwSignal::new(None::<Branding>);
    let error = RwSignal::new(None::<String>);
    let saving = RwSignal::new(false);
    Effect::new(move |_| {
        let Some(p) = project_id.get() else { return };
        spawn_local(async move {
            match client().get_branding(p).await {
                Ok(b) => branding.set(Some(b)),
                Err(err) => error.set(Some(say(&err))),
            }
        });
    });
    let field = move |label: &'static str,
                      kind: &'static str,
                      get: fn(&Branding) -> String,
                      set: fn(&mut Branding, String)| {
        view! {
            <label>{label}
                <input type=kind disabled=move || !is_owner.get()
                    prop:value=move || branding.get().map(|b| get(&b)).unwrap_or_default()
                    on:input=move |ev| { let value = event_target_value(&ev); branding.update(|b| if let Some(b) = b { set(b, value) }); } />
            </label>
        }
    };
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (Some(p), Some(b)) = (project_id.get_untracked(), branding.get_untracked()) else { return };
        saving.set(true);
        error.set(None);
        spawn_local(async move {
            match client().set_branding(p, &b).await {
                Ok(saved) => {
                    branding.set(Some(saved));
                    toasts.show(
                        crate::state::ToastKind::Info,
                        "Branding saved; the agent uses it from the next message.",
                    );
                }
                Err(err) => error.set(Some(say(&err))),
            }
            saving.set(false);
        });
    };
    view! {
        <form class="stack branding" on:submit=save>
            <h2>"Branding"</h2>
            <p class="muted">"The agent is told to use these colors and fonts for anything visual it builds."</p>
            {field("Primary color", "color", |b| b.primary_color.clone(), |b, v| b.primary_color = v)}
            {field("Accent color", "color", |b| b.accent_color.clone(), |b, v| b.accent_color = v)}
            {field("Body font", "text", |b| b.body_font.clone(), |b, v| b.body_font = v)}
            {field("Heading font", "text", |b| b.heading_font.clone(), |b, v| b.heading_font = v)}
            {move || branding.get().map(|b| view! {
                <div class="swatch" style=format!("border-color:{};font-family:{}", b.primary_color, b.body_font)>
                    <strong style=format!("color:{};font-family:{}", b.primary_color, b.heading_font)>"Heading"</strong>
                    <span style=format!("color:{}", b.accent_color)>" accent text"</span>
                </div>
            })}
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <Show when=move || is_owner.get() fallback=|| view! { <p class="muted">"Only owners change the branding."</p> }>
                <button type="submit" class="primary" disabled=move || saving.get()>{move || if saving.get() { "Saving…" } else { "Save branding" }}</button>
            </Show>
        </form>
    }
}
