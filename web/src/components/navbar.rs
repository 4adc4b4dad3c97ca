//! The top bars: a plain one for simple pages, and the project's (tabs, pull-request button).

use crate::components::focus::move_among;
use crate::state::use_auth;
use leptos::prelude::*;

/// The signed-in user's initial, linking to the account page.
#[component]
fn Avatar() -> impl IntoView {
    let auth = use_auth();
    let initial = move || {
        auth.user
            .get()
            .and_then(|u| u.display_name.chars().next())
            .map(|c| c.to_uppercase().to_string())
            .unwrap_or_default()
    };
    view! {
        <a class="avatar" href="/account" aria-label="Account settings" title="Account settings">{initial}</a>
    }
}

#[component]
pub fn TopBar() -> impl IntoView {
    view! {
        <header class="topbar">
            <a class="brand" href="/">"kosuke"</a>
            <span class="spacer"></span>
            <Avatar />
        </header>
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Tab {
    Preview,
    Code,
    Branding,
    Settings,
}

impl Tab {
    pub const ALL: [Tab; 4] = [Tab::Preview, Tab::Code, Tab::Branding, Tab::Settings];

    pub fn label(self) -> &'static str {
        match self {
            Tab::Preview => "Preview",
            Tab::Code => "Code",
            Tab::Branding => "Branding",
            Tab::Settings => "Settings",
        }
    }

    /// The id of its button, which names the tab panel: `tab-code` and so on.
    pub fn id(self) -> String {
        format!("tab-{}", self.label().to_lowercase())
    }
}

/// The id of the panel that shows the selected tab.
pub const TAB_PANEL: &str = "tab-panel";

/// The project's bar: the drawer toggle (narrow screens), the name, the tabs, the pull-request
/// button (left of the avatar), the avatar.
#[component]
pub fn ProjectBar(
    #[prop(into)] name: Signal<String>,
    tab: RwSignal<Tab>,
    #[prop(into)] pull_request_disabled: Signal<Option<String>>,
    #[prop(into)] pull_request_pending: Signal<bool>,
    on_pull_request: Callback<()>,
    on_toggle_sidebar: Callback<()>,
) -> impl IntoView {
    view! {
        <header class="topbar">
            <button class="ghost drawer-toggle" aria-label="Show chats" on:click=move |_| on_toggle_sidebar.run(())>"☰"</button>
            <a class="brand" href="/">"kosuke"</a>
            <span class="project-name">{name}</span>
            // One tab is in the Tab order (the selected one); the arrows, Home and End select
            // the others, the focus following.
            <nav class="tabs" role="tablist" aria-label="Project views"
                on:keydown=move |ev| if let Some(i) = move_among(&ev, "[role=tab]", true) { tab.set(Tab::ALL[i]) }>
                {Tab::ALL.into_iter().map(|t| view! {
                    <button role="tab" class="tab" id=t.id() aria-controls=TAB_PANEL
                        aria-selected=move || (tab.get() == t).to_string()
                        tabindex=move || if tab.get() == t { "0" } else { "-1" }
                        on:click=move |_| tab.set(t)>{t.label()}</button>
                }).collect_view()}
            </nav>
            <span class="spacer"></span>
            <button
                class="primary"
                data-testid="create-pr"
                disabled=move || pull_request_disabled.get().is_some() || pull_request_pending.get()
                title=move || pull_request_disabled.get().unwrap_or_else(|| "Open a pull request from this chat's branch".to_owned())
                on:click=move |_| on_pull_request.run(())
            >
                {move || if pull_request_pending.get() {
                    view! { "Opening…" }.into_any()
                } else {
                    view! { <span class="label-long">"Create Pull Request"</span><span class="label-short">"PR"</span> }.into_any()
                }}
            </button>
            <Avatar />
        </header>
    }
}
