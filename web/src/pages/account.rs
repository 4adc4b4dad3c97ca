//! Account settings: the GitHub token and personal access tokens; for admins, the server's
//! accounts, who may sign up, and invite links.

use crate::components::navbar::TopBar;
use crate::pages::auth::ErrorLine;
use crate::state::{client, say, use_auth, use_toasts};
use api_types::{ConnectGitHubRequest, CreateApiTokenRequest, ServerSettings, SignupMode, UpdateUserRequest};
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
            <Notifications />
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
            {move || use_auth().user.get().is_some_and(|u| u.is_admin).then(|| view! { <Administration /> })}
        </main>
    }
}

/// The server's accounts, who may sign up, and invite links (admins only).
#[component]
fn Administration() -> impl IntoView {
    let toasts = use_toasts();
    let users = LocalResource::new(|| async { client().admin_users().await.map_err(|e| say(&e)) });
    let settings = LocalResource::new(|| async { client().admin_settings().await.map_err(|e| say(&e)) });
    let (invite, set_invite) = signal(None::<String>);
    let set_mode = move |signup: SignupMode| {
        leptos::task::spawn_local(async move {
            match client().admin_set_settings(&ServerSettings { signup }).await {
                Ok(_) => settings.refetch(),
                Err(err) => toasts.error(say(&err)),
            }
        });
    };
    let make_invite = move |_| {
        leptos::task::spawn_local(async move {
            match client().admin_create_invite().await {
                Ok(made) => {
                    let origin = web_sys::window().and_then(|w| w.location().origin().ok()).unwrap_or_default();
                    set_invite.set(Some(format!("{origin}{}", made.url)));
                }
                Err(err) => toasts.error(say(&err)),
            }
        });
    };
    let modes =
        [(SignupMode::Open, "Anyone"), (SignupMode::Invite, "With an invite link"), (SignupMode::Closed, "Nobody")];
    view! {
        <section aria-labelledby="admin-heading">
            <h2 id="admin-heading">"Administration"</h2>
            <fieldset class="row" data-testid="signup-mode">
                <legend>"Who may sign up"</legend>
                {modes.into_iter().map(|(mode, label)| view! {
                    <label><input type="radio" name="signup" value=mode.as_str()
                        prop:checked=move || settings.get().and_then(Result::ok).is_some_and(|s| s.signup == mode)
                        on:change=move |_| set_mode(mode) />" " {label}</label>
                }).collect_view()}
            </fieldset>
            <p class="row"><button on:click=make_invite>"Make an invite link"</button></p>
            {move || invite.get().map(|url| view! {
                <p class="notice">"One use, valid for a week; shown only now: " <code data-testid="invite-link">{url}</code></p>
            })}
            <h3>"Accounts"</h3>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || users.get().map(|list| match list {
                    Ok(list) => view! {
                        <ul class="tokens" data-testid="accounts">
                            {list.users.into_iter().map(|u| {
                                let (id, disabled) = (u.id.clone(), u.disabled);
                                let label = if disabled { "Enable" } else { "Disable" };
                                view! { <li>
                                    <span>{u.display_name.clone()} " · " {u.email.clone()}</span>
                                    <span class="muted">{u.is_admin.then_some(" · admin")}{disabled.then_some(" · disabled")}</span>
                                    {(!u.is_admin).then(|| view! {
                                        <button class="ghost" aria-label=format!("{label} {}", u.email) on:click=move |_| {
                                            let id = id.clone();
                                            leptos::task::spawn_local(async move {
                                                match client().admin_update_user(&id, &UpdateUserRequest { disabled: !disabled }).await {
                                                    Ok(_) => users.refetch(),
                                                    Err(err) => toasts.error(say(&err)),
                                                }
                                            });
                                        }>{label}</button>
                                    })}
                                </li> }
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(err) => view! { <p class="error">{err}</p> }.into_any(),
                })}
            </Transition>
        </section>
    }
}

/// Whether kosuke may tell of chats that finished while it was in the background.
#[component]
fn Notifications() -> impl IntoView {
    let allowed = RwSignal::new(crate::attention::allowed());
    view! {
        <section data-testid="notifications">
            <h2>"Notifications"</h2>
            {move || if allowed.get() {
                view! { <p class="muted">"This browser tells you when a chat's turn ends while kosuke is in the background."</p> }.into_any()
            } else {
                view! {
                    <p class="muted">"Be told when a chat's turn ends while kosuke is in the background."</p>
                    <button on:click=move |_| {
                        crate::attention::ask();
                        // The browser answers later; look again then.
                        set_timeout(move || { allowed.try_set(crate::attention::allowed()); }, std::time::Duration::from_secs(2));
                    }>"Allow notifications"</button>
                }.into_any()
            }}
        </section>
    }
}
