//! Sign in and sign up.

use crate::state::{client, say, use_auth};
use api_types::{LoginRequest, SignupRequest};
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

#[component]
pub fn Login() -> impl IntoView {
    let auth = use_auth();
    let navigate = use_navigate();
    let (email, set_email) = signal(String::new());
    let (password, set_password) = signal(String::new());
    let submit = Action::new_local(move |request: &LoginRequest| {
        let request = request.clone();
        async move { client().login(&request).await.map_err(|e| say(&e)) }
    });
    Effect::new(move |_| {
        if let Some(Ok(user)) = submit.value().get() {
            auth.user.set(Some(user));
            navigate("/", Default::default());
        }
    });
    view! {
        <main class="auth">
            <h1>"Sign in to kosuke"</h1>
            <form on:submit=move |ev| {
                ev.prevent_default();
                submit.dispatch(LoginRequest { email: email.get(), password: password.get() });
            }>
                <label>"Email" <input type="email" name="email" required autocomplete="username"
                    prop:value=email on:input=move |ev| set_email.set(event_target_value(&ev)) /></label>
                <label>"Password" <input type="password" name="password" required autocomplete="current-password"
                    prop:value=password on:input=move |ev| set_password.set(event_target_value(&ev)) /></label>
                <ErrorLine result=Signal::derive(move || submit.value().get().and_then(Result::err)) />
                <button type="submit" class="primary" disabled=move || submit.pending().get()>
                    {move || if submit.pending().get() { "Signing in…" } else { "Sign in" }}
                </button>
            </form>
            <p>"New here? " <a href="/signup">"Create an account"</a></p>
        </main>
    }
}

#[component]
pub fn Signup() -> impl IntoView {
    let auth = use_auth();
    let navigate = use_navigate();
    let (name, set_name) = signal(String::new());
    let (email, set_email) = signal(String::new());
    let (password, set_password) = signal(String::new());
    // An invite link is `/signup?invite=TOKEN`.
    let invite = leptos_router::hooks::use_query_map().get_untracked().get("invite");
    let submit = Action::new_local(move |request: &SignupRequest| {
        let (request, invite) = (request.clone(), invite.clone());
        async move {
            match invite {
                Some(token) => client().signup_with_invite(&request, &token).await,
                None => client().signup(&request).await,
            }
            .map_err(|e| say(&e))
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(user)) = submit.value().get() {
            auth.user.set(Some(user));
            navigate("/", Default::default());
        }
    });
    view! {
        <main class="auth">
            <h1>"Create your kosuke account"</h1>
            <form on:submit=move |ev| {
                ev.prevent_default();
                submit.dispatch(SignupRequest { email: email.get(), password: password.get(), display_name: name.get() });
            }>
                <label>"Name" <input name="display_name" required prop:value=name
                    on:input=move |ev| set_name.set(event_target_value(&ev)) /></label>
                <label>"Email" <input type="email" name="email" required autocomplete="username" prop:value=email
                    on:input=move |ev| set_email.set(event_target_value(&ev)) /></label>
                <label>"Password (8 characters or more)" <input type="password" name="password" required minlength="8"
                    autocomplete="new-password" prop:value=password on:input=move |ev| set_password.set(event_target_value(&ev)) /></label>
                <ErrorLine result=Signal::derive(move || submit.value().get().and_then(Result::err)) />
                <button type="submit" class="primary" disabled=move || submit.pending().get()>
                    {move || if submit.pending().get() { "Creating…" } else { "Create account" }}
                </button>
            </form>
            <p>"Have an account? " <a href="/login">"Sign in"</a></p>
        </main>
    }
}

/// An inline error sentence, when there is one.
#[component]
pub fn ErrorLine(#[prop(into)] result: Signal<Option<String>>) -> impl IntoView {
    move || result.get().map(|message| view! { <p class="error" role="alert">{message}</p> })
}
