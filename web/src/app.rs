//! The application shell: the header and the server's status. Screens (sign-in, projects,
//! the session workspace) arrive with the web-app issue and are routed from here.

use leptos::prelude::*;

/// The page's own origin, where the API lives.
fn api_client() -> client::Client {
    let origin = window().location().origin().unwrap_or_default();
    client::Client::new(origin)
}

#[component]
pub fn App() -> impl IntoView {
    let health = LocalResource::new(|| async move { api_client().health().await.map_err(|err| err.to_string()) });
    view! {
        <header class="topbar">
            <span class="brand">"kosuke"</span>
        </header>
        <main class="shell">
            <h1>"Build software by chatting with an agent"</h1>
            <Suspense fallback=|| view! { <p class="muted" role="status">"Checking the server…"</p> }>
                {move || {
                    health
                        .get()
                        .map(|answer| match answer {
                            Ok(health) => {
                                view! {
                                    <p class="status ok" role="status">
                                        {format!("Server {} · database {}", health.version, health.database)}
                                    </p>
                                }
                                    .into_any()
                            }
                            Err(error) => {
                                view! {
                                    <p class="status error" role="alert">
                                        {format!("The server did not answer: {error}")}
                                    </p>
                                }
                                    .into_any()
                            }
                        })
                }}
            </Suspense>
        </main>
    }
}
