//! The Settings tab: the default branch (with loading, error and retry, save and cancel) and
//! the project's environment variables (values never shown).

use api_types::{DefaultBranchResponse, EnvVarList};
use leptos::prelude::*;

#[component]
pub fn SettingsView(
    #[prop(into)] is_owner: Signal<bool>,
    #[prop(into)] branches: Signal<Option<Result<DefaultBranchResponse, String>>>,
    #[prop(into)] saving: Signal<bool>,
    #[prop(into)] save_error: Signal<Option<String>>,
    on_retry: Callback<()>,
    on_save: Callback<String>,
    #[prop(into)] env: Signal<Option<Result<EnvVarList, String>>>,
    on_set_env: Callback<(String, String)>,
    on_delete_env: Callback<String>,
) -> impl IntoView {
    let choice = RwSignal::new(None::<String>);
    let current = move || branches.get().and_then(|b| b.ok()).map(|b| b.default_branch);
    let new_key = RwSignal::new(String::new());
    let new_value = RwSignal::new(String::new());
    view! {
        <div class="settings">
            <Show when=move || is_owner.get() fallback=|| view! { <p class="muted">"Only the project's owners change its settings."</p> }>
                <section>
                    <h2>"Default branch"</h2>
                    <p class="muted">"New chats start from this branch, and pull requests go into it."</p>
                    {move || match branches.get() {
                        None => view! { <p class="muted" role="status">"Loading branches…"</p> }.into_any(),
                        Some(Err(e)) => view! {
                            <p class="error" role="alert">{e}</p>
                            <button on:click=move |_| on_retry.run(())>"Retry"</button>
                        }.into_any(),
                        Some(Ok(list)) => {
                            let current_branch = list.default_branch.clone();
                            view! {
                                <div class="row">
                                    <select aria-label="Default branch" data-testid="default-branch"
                                        on:change=move |ev| choice.set(Some(event_target_value(&ev)))>
                                        {list.available_branches.iter().map(|b| {
                                            let is_current = *b == current_branch;
                                            let label = if is_current { format!("{b} (current)") } else { b.clone() };
                                            view! { <option value=b.clone() selected=is_current>{label}</option> }
                                        }).collect_view()}
                                    </select>
                                    <button class="primary"
                                        disabled=move || saving.get() || choice.get().is_none() || choice.get() == current()
                                        on:click=move |_| if let Some(b) = choice.get() { on_save.run(b) }>
                                        {move || if saving.get() { "Saving…" } else { "Save" }}
                                    </button>
                                    <button disabled=move || choice.get().is_none() on:click=move |_| choice.set(None)>"Cancel"</button>
                                </div>
                            }.into_any()
                        }
                    }}
                    {move || save_error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                </section>
                <section>
                    <h2>"Environment variables"</h2>
                    <p class="muted">"Given to the agent's command. Values are stored encrypted and never shown again."</p>
                    {move || match env.get() {
                        None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                        Some(Err(e)) => view! { <p class="error">{e}</p> }.into_any(),
                        Some(Ok(list)) if list.variables.is_empty() => view! { <p class="muted">"None yet."</p> }.into_any(),
                        Some(Ok(list)) => view! {
                            <table class="env">
                                <tbody>
                                    {list.variables.into_iter().map(|v| {
                                        let key = v.key.clone();
                                        view! { <tr>
                                            <td><code>{v.key.clone()}</code></td>
                                            <td class="muted">"••••••••"</td>
                                            <td><button class="ghost danger" aria-label=format!("Remove {}", v.key)
                                                on:click=move |_| on_delete_env.run(key.clone())>"Remove"</button></td>
                                        </tr> }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                    }}
                    <form class="row" on:submit=move |ev| {
                        ev.prevent_default();
                        on_set_env.run((new_key.get(), new_value.get()));
                        new_key.set(String::new());
                        new_value.set(String::new());
                    }>
                        <input aria-label="Name" placeholder="NAME" required prop:value=move || new_key.get()
                            on:input=move |ev| new_key.set(event_target_value(&ev)) />
                        <input aria-label="Value" type="password" placeholder="value" prop:value=move || new_value.get()
                            on:input=move |ev| new_value.set(event_target_value(&ev)) />
                        <button type="submit">"Add or replace"</button>
                    </form>
                </section>
            </Show>
        </div>
    }
}
