//! Account settings: the GitHub token and personal access tokens.

use crate::components::navbar::TopBar;
use crate::pages::auth::ErrorLine;
use crate::state::{client, say, use_toasts};
use api_types::{ConnectGitHubRequest, CreateApiTokenRequest};
use leptos::prelude::*;

#[component]
pub fn Account() -> impl IntoView {
    let toasts = use_toasts();
    let github = LocalResource::new(|| async { client().github_account().await.ok() });
    let tokens = LocalResource::new(|| async { client().list_api_tokens().await.map_err(|e| say(&e)) });
    let (github_token, set_github_token) = signal(String::new());
    let connect = Action::new_local(move |token: &String| {
        let token = token.clone();
        async move { client().connect_github(&ConnectGitHubRequest { token }).await.map_err(|e| say(&e)) }
    });
    Effect::new(move |_| {
        if let Some(Ok(_)) = connect.value().get() {
            set_github_token.set(String::new());
            github.refetch();
        }
    });
    let (token_name, set_token_name) = signal(String::new());
    let (new_token, set_new_token) = signal(None::<String>);
    let create_token = Action::new_local(move |name: &String| {
        let name = name.clone();
        async move { client().create_api_token(&CreateApiTokenRequest { name }).await.map_err(|e| say(&e)) }
    });
    Effect::new(move |_| {
        if let Some(Ok(created)) = create_token.value().get() {
            set_new_token.set(Some(created.token));
            set_token_name.set(String::new());
            tokens.refetch();
        }
    });
    view! {
        <TopBar />
        <main class="page">
            <h1>"Account"</h1>
            <section>
                <h2>"GitHub"</h2>
                <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                    {move || github.get().map(|account| match account {
                        Some(account) => view! {
                            <p>"Connected as " <strong>{account.login.clone()}</strong>
                                {(!account.scopes.is_empty()).then(|| format!(" · scopes: {}", account.scopes.join(", ")))}</p>
                            <button on:click=move |_| { leptos::task::spawn_local(async move {
                                match client().disconnect_github().await {
                                    Ok(()) => github.refetch(),
                                    Err(err) => toasts.error(say(&err)),
                                }
                            }); }>"Disconnect"</button>
                        }.into_any(),
                        None => view! { <p class="muted">"Not connected. Pull requests need a token with the repo scope (or a fine-grained token with Pull requests and Contents: write)."</p> }.into_any(),
                    })}
                </Transition>
                <form class="row" on:submit=move |ev| { ev.prevent_default(); connect.dispatch(github_token.get()); }>
                    <label class="grow">"Token" <input type="password" name="github_token" autocomplete="off" prop:value=github_token
                        on:input=move |ev| set_github_token.set(event_target_value(&ev)) /></label>
                    <button type="submit" class="primary" disabled=move || connect.pending().get()>"Connect"</button>
                </form>
                <ErrorLine result=Signal::derive(move || connect.value().get().and_then(Result::err)) />
            </section>
            <section>
                <h2>"Personal access tokens"</h2>
                <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                    {move || tokens.get().map(|list| match list {
                        Ok(list) if list.tokens.is_empty() => view! { <p class="muted">"No tokens."</p> }.into_any(),
                        Ok(list) => view! {
                            <ul class="tokens">
                                {list.tokens.into_iter().map(|t| {
                                    let id = t.id;
                                    view! { <li>
                                        <span>{t.name.clone()}</span>
                                        <span class="muted">{t.last_used_at.map(|at| format!(" · used {}", crate::components::time::relative(at))).unwrap_or_else(|| " · never used".to_owned())}</span>
                                        <button class="ghost danger" aria-label=format!("Revoke {}", t.name) on:click=move |_| {
                                            leptos::task::spawn_local(async move {
                                                match client().delete_api_token(id).await {
                                                    Ok(()) => tokens.refetch(),
                                                    Err(err) => toasts.error(say(&err)),
                                                }
                                            });
                                        }>"Revoke"</button>
                                    </li> }
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(err) => view! { <p class="error">{err}</p> }.into_any(),
                    })}
                </Transition>
                {move || new_token.get().map(|token| view! {
                    <p class="notice">"Copy this token now; it will not be shown again: " <code>{token}</code></p>
                })}
                <form class="row" on:submit=move |ev| { ev.prevent_default(); create_token.dispatch(token_name.get()); }>
                    <label class="grow">"Name" <input name="token_name" prop:value=token_name
                        on:input=move |ev| set_token_name.set(event_target_value(&ev)) /></label>
                    <button type="submit" disabled=move || create_token.pending().get()>"Create token"</button>
                </form>
            </section>
        </main>
    }
}
