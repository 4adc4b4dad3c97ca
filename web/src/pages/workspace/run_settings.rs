//! The Settings tab's "Run" section (owners only): the setup and dev commands and the readiness
//! path, each shown with the repository's `kosuke.json` value and which one is in force, and the
//! files copied into each new checkout (contents never shown).

use crate::state::{ToastKind, client, say, use_toasts};
use api_types::*;
use leptos::prelude::*;
use leptos::task::spawn_local;

#[component]
pub fn RunSettingsSection(project_id: Memo<Option<ProjectId>>) -> impl IntoView {
    let toasts = use_toasts();
    let settings = RwSignal::new(None::<Result<RunSettings, String>>);
    let (setup, dev, readiness) =
        (RwSignal::new(String::new()), RwSignal::new(String::new()), RwSignal::new(String::new()));
    let saving = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let show = move |loaded: RunSettings| {
        setup.set(loaded.setup.settings.clone().unwrap_or_default());
        dev.set(loaded.dev.settings.clone().unwrap_or_default());
        readiness.set(loaded.readiness_path.settings.clone().unwrap_or_default());
        settings.set(Some(Ok(loaded)));
    };
    Effect::new(move |_| {
        let Some(p) = project_id.get() else { return };
        spawn_local(async move {
            match client().get_run_settings(p).await {
                Ok(loaded) => show(loaded),
                Err(err) => settings.set(Some(Err(say(&err)))),
            }
        });
    });
    let save = move || {
        let Some(p) = project_id.get_untracked() else { return };
        let request = UpdateRunSettingsRequest {
            setup: Some(setup.get_untracked()),
            dev: Some(dev.get_untracked()),
            readiness_path: Some(readiness.get_untracked().trim().to_owned()),
        };
        saving.set(true);
        error.set(None);
        spawn_local(async move {
            match client().put_run_settings(p, &request).await {
                Ok(saved) => {
                    show(saved);
                    toasts.show(ToastKind::Info, "Run settings saved; new chats use them.");
                }
                Err(err) => error.set(Some(say(&err))),
            }
            saving.set(false);
        });
    };
    let new_path = RwSignal::new(String::new());
    let new_content = RwSignal::new(String::new());
    let reload = move |p: ProjectId| async move {
        if let Ok(loaded) = client().get_run_settings(p).await {
            settings.set(Some(Ok(loaded)));
        }
    };
    let add_file = move || {
        let Some(p) = project_id.get_untracked() else { return };
        let (path, content) = (new_path.get_untracked(), new_content.get_untracked());
        spawn_local(async move {
            match client().put_project_file(p, path.trim(), &content).await {
                Ok(_) => {
                    new_path.set(String::new());
                    new_content.set(String::new());
                    reload(p).await;
                }
                Err(err) => toasts.error(say(&err)),
            }
        });
    };
    let remove_file = move |file: ProjectFileId| {
        let Some(p) = project_id.get_untracked() else { return };
        spawn_local(async move {
            match client().delete_project_file(p, file).await {
                Ok(()) => reload(p).await,
                Err(err) => toasts.error(say(&err)),
            }
        });
    };
    view! {
        <section data-testid="run-settings">
            <h2>"Run"</h2>
            <p class="muted">"Each new chat's checkout gets the files below, then runs the setup command; the dev command runs its Preview. Empty fields use the repository's kosuke.json."</p>
            {move || match settings.get() {
                None => view! { <p class="muted" role="status">"Loading…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error" role="alert">{e}</p> }.into_any(),
                Some(Ok(loaded)) => view! {
                    <form class="run-settings" on:submit=move |ev| { ev.prevent_default(); save(); }>
                        <Field label="Setup command" placeholder="npm ci" value=setup setting=loaded.setup.clone() multiline=true />
                        <Field label="Dev command" placeholder="npm run dev -- --port $PORT --host 127.0.0.1" value=dev setting=loaded.dev.clone() multiline=true />
                        <Field label="Readiness path" placeholder="/" value=readiness setting=loaded.readiness_path.clone() multiline=false />
                        {loaded.repository_file_error.clone().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                        <div class="row">
                            <button class="primary" type="submit" disabled=move || saving.get()>
                                {move || if saving.get() { "Saving…" } else { "Save run settings" }}
                            </button>
                        </div>
                        {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                    </form>
                    <h3>"Files copied into each new checkout"</h3>
                    {if loaded.files.is_empty() {
                        view! { <p class="muted">"None yet (e.g. .env.local). They are stored encrypted and kept out of commits."</p> }.into_any()
                    } else {
                        view! {
                            <table class="env"><tbody>
                                {loaded.files.iter().map(|f| {
                                    let id = f.id;
                                    view! { <tr>
                                        <td><code>{f.path.clone()}</code></td>
                                        <td class="muted">{format!("{} bytes", f.size)}</td>
                                        <td><button class="ghost danger" aria-label=format!("Remove {}", f.path)
                                            on:click=move |_| remove_file(id)>"Remove"</button></td>
                                    </tr> }
                                }).collect_view()}
                            </tbody></table>
                        }.into_any()
                    }}
                }.into_any(),
            }}
            <form class="file-form" on:submit=move |ev| { ev.prevent_default(); add_file(); }>
                <input aria-label="File path" placeholder=".env.local" required prop:value=move || new_path.get()
                    on:input=move |ev| new_path.set(event_target_value(&ev)) />
                <textarea aria-label="File content" placeholder="KEY=value" rows="3" prop:value=move || new_content.get()
                    on:input=move |ev| new_content.set(event_target_value(&ev))></textarea>
                <button type="submit">"Add or replace file"</button>
            </form>
        </section>
    }
}

/// One run setting: the project's value (editable) and what is in force, from where.
#[component]
fn Field(
    label: &'static str,
    placeholder: &'static str,
    value: RwSignal<String>,
    setting: RunSetting,
    multiline: bool,
) -> impl IntoView {
    let source = match (&setting.source, &setting.value) {
        (SettingSource::Settings, _) => "In force: this project's setting.".to_owned(),
        (SettingSource::Repository, Some(v)) => format!("In force: kosuke.json's \"{v}\"."),
        _ => "Not set.".to_owned(),
    };
    let repository = setting
        .repository
        .filter(|_| setting.source == SettingSource::Settings)
        .map(|v| format!(" kosuke.json says \"{v}\"."));
    view! {
        <label class="field">
            <span>{label}</span>
            {if multiline {
                view! { <textarea rows="2" placeholder=placeholder prop:value=move || value.get()
                    on:input=move |ev| value.set(event_target_value(&ev))></textarea> }.into_any()
            } else {
                view! { <input placeholder=placeholder prop:value=move || value.get()
                    on:input=move |ev| value.set(event_target_value(&ev)) /> }.into_any()
            }}
            <small class="muted">{source}{repository}</small>
        </label>
    }
}
