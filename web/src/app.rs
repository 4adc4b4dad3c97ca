//! The route table (the only place with paths) and the sign-in gate.

use crate::pages::{account::Account, auth::Login, auth::Signup, projects::Projects, workspace::Workspace};
use crate::state::{Toasts, provide_auth, provide_toasts, use_auth};
use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::hooks::use_navigate;
use leptos_router::path;

/// Where each screen lives.
pub fn project_path(project: api_types::ProjectId) -> String {
    format!("/projects/{project}")
}

pub fn session_path(project: api_types::ProjectId, session: api_types::ChatSessionPk) -> String {
    format!("/projects/{project}/sessions/{session}")
}

#[component]
pub fn App() -> impl IntoView {
    provide_auth();
    provide_toasts();
    view! {
        <Router>
            <Routes fallback=|| view! { <p class="empty">"There is no page here."</p> }>
                <Route path=path!("/login") view=Login />
                <Route path=path!("/signup") view=Signup />
                <Route path=path!("/") view=|| view! { <SignedIn><Projects /></SignedIn> } />
                <Route path=path!("/account") view=|| view! { <SignedIn><Account /></SignedIn> } />
                <Route path=path!("/projects/:id") view=|| view! { <SignedIn><Workspace /></SignedIn> } />
                <Route
                    path=path!("/projects/:id/sessions/:session")
                    view=|| view! { <SignedIn><Workspace /></SignedIn> }
                />
            </Routes>
        </Router>
        <Toasts />
    }
}

/// Shows its children to a signed-in user; sends anyone else to the sign-in page.
#[component]
fn SignedIn(children: ChildrenFn) -> impl IntoView {
    let auth = use_auth();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if auth.checked.get() && auth.user.get().is_none() {
            navigate("/login", Default::default());
        }
    });
    move || {
        if auth.user.get().is_some() {
            children().into_any()
        } else {
            view! { <p class="empty" role="status">"Loading…"</p> }.into_any()
        }
    }
}
