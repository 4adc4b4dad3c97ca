//! Global state as provide/use pairs: the signed-in user and the toasts. Also the one place
//! that builds the API client (with the page's origin).

use api_types::User;
use leptos::prelude::*;
use leptos::task::spawn_local;

/// The API client for the page's own origin.
pub fn client() -> client::Client {
    client::Client::new(window().location().origin().unwrap_or_default())
}

/// The signed-in user, once known.
#[derive(Clone, Copy)]
pub struct Auth {
    pub user: RwSignal<Option<User>>,
    /// `/api/me` has answered (signed in or not).
    pub checked: RwSignal<bool>,
}

pub fn provide_auth() {
    let auth = Auth { user: RwSignal::new(None), checked: RwSignal::new(false) };
    provide_context(auth);
    spawn_local(async move {
        if let Ok(user) = client().me().await {
            auth.user.set(Some(user));
        }
        auth.checked.set(true);
    });
}

pub fn use_auth() -> Auth {
    expect_context::<Auth>()
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ToastKind {
    Error,
    Info,
}

#[derive(Clone)]
struct Toast {
    id: u64,
    kind: ToastKind,
    text: String,
}

/// Messages shown for a few seconds in a corner (errors stay until dismissed).
#[derive(Clone, Copy)]
pub struct ToastList {
    items: RwSignal<Vec<Toast>>,
    next: StoredValue<u64>,
}

impl ToastList {
    pub fn show(&self, kind: ToastKind, text: impl Into<String>) {
        let id = self.next.get_value();
        self.next.set_value(id + 1);
        self.items.update(|items| items.push(Toast { id, kind, text: text.into() }));
        if kind == ToastKind::Info {
            let items = self.items;
            set_timeout(move || items.update(|list| list.retain(|t| t.id != id)), std::time::Duration::from_secs(5));
        }
    }

    pub fn error(&self, text: impl Into<String>) {
        self.show(ToastKind::Error, text);
    }
}

pub fn provide_toasts() {
    provide_context(ToastList { items: RwSignal::new(Vec::new()), next: StoredValue::new(1) });
}

pub fn use_toasts() -> ToastList {
    expect_context::<ToastList>()
}

#[component]
pub fn Toasts() -> impl IntoView {
    let toasts = use_toasts();
    view! {
        <div class="toasts" aria-live="polite">
            <For each=move || toasts.items.get() key=|toast| toast.id let:toast>
                <div class=move || if toast.kind == ToastKind::Error { "toast error" } else { "toast" } role="alert">
                    <span>{toast.text.clone()}</span>
                    <button
                        class="ghost"
                        aria-label="Dismiss"
                        on:click=move |_| toasts.items.update(|list| list.retain(|t| t.id != toast.id))
                    >
                        "×"
                    </button>
                </div>
            </For>
        </div>
    }
}

/// The sentence of an API error, for people.
pub fn say(err: &client::ClientError) -> String {
    match err {
        client::ClientError::Api { body, .. } => body.error.clone(),
        client::ClientError::Transport(_) => "The server could not be reached; check your connection.".to_owned(),
        client::ClientError::Unexpected { status } => format!("The server answered {status}."),
    }
}
