//! The user's projects, and creating one from GitHub, a git URL, a local path or nothing.

use crate::app::project_path;
use crate::components::navbar::TopBar;
use crate::pages::auth::ErrorLine;
use crate::state::{client, say};
use api_types::{CreateProjectRequest, PageQuery, Project, RepositorySource};
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

fn source_label(source: &RepositorySource) -> String {
    match source {
        RepositorySource::Github { owner, repo } => format!("GitHub · {owner}/{repo}"),
        RepositorySource::Git { url } => format!("git · {url}"),
        RepositorySource::Local { path } => format!("local · {path}"),
        RepositorySource::Empty => "new repository".to_owned(),
    }
}

#[component]
pub fn Projects() -> impl IntoView {
    let projects = LocalResource::new(|| async {
        client().list_projects(&PageQuery { limit: Some(100), cursor: None }).await.map_err(|e| say(&e))
    });
    let navigate = use_navigate();
    let (name, set_name) = signal(String::new());
    let (kind, set_kind) = signal("empty".to_owned());
    let (location, set_location) = signal(String::new());
    let create = Action::new_local(move |request: &CreateProjectRequest| {
        let request = request.clone();
        async move { client().create_project(&request).await.map_err(|e| say(&e)) }
    });
    Effect::new(move |_| {
        if let Some(Ok(project)) = create.value().get() {
            navigate(&project_path(project.id), Default::default());
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let location = location.get().trim().to_owned();
        let repository = match kind.get().as_str() {
            "github" => {
                let (owner, repo) = location.split_once('/').unwrap_or((location.as_str(), ""));
                RepositorySource::Github { owner: owner.to_owned(), repo: repo.to_owned() }
            }
            "git" => RepositorySource::Git { url: location },
            "local" => RepositorySource::Local { path: location },
            _ => RepositorySource::Empty,
        };
        create.dispatch(CreateProjectRequest { name: name.get(), description: None, repository, default_branch: None });
    };
    let placeholder = move || match kind.get().as_str() {
        "github" => "owner/repository",
        "git" => "https://host/owner/repo.git",
        "local" => "/srv/git/app",
        _ => "",
    };
    view! {
        <TopBar />
        <main class="page">
            <h1>"Projects"</h1>
            <Transition fallback=|| view! { <p class="muted" role="status">"Loading projects…"</p> }>
                {move || projects.get().map(|answer| match answer {
                    Ok(list) if list.projects.is_empty() => view! { <p class="empty">"No projects yet. Create one below."</p> }.into_any(),
                    Ok(list) => view! {
                        <ul class="project-list">
                            {list.projects.into_iter().map(|project: Project| view! {
                                <li><a href=project_path(project.id)><strong>{project.name.clone()}</strong>
                                    <span class="muted">{source_label(&project.repository)}</span></a></li>
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(err) => view! { <p class="error" role="alert">{err}</p> }.into_any(),
                })}
            </Transition>
            <h2>"New project"</h2>
            <form class="stack" on:submit=submit>
                <label>"Name" <input name="project_name" required maxlength="100" prop:value=name
                    on:input=move |ev| set_name.set(event_target_value(&ev)) /></label>
                <label>"Repository"
                    <select name="kind" on:change=move |ev| set_kind.set(event_target_value(&ev))>
                        <option value="empty" selected>"A new, empty repository"</option>
                        <option value="local">"A repository on this server (path)"</option>
                        <option value="git">"A git URL"</option>
                        <option value="github">"GitHub"</option>
                    </select>
                </label>
                <Show when=move || kind.get() != "empty">
                    <label>"Where" <input name="location" required prop:placeholder=placeholder prop:value=location
                        on:input=move |ev| set_location.set(event_target_value(&ev)) /></label>
                </Show>
                <ErrorLine result=Signal::derive(move || create.value().get().and_then(Result::err)) />
                <button type="submit" class="primary" disabled=move || create.pending().get()>
                    {move || if create.pending().get() { "Creating…" } else { "Create project" }}
                </button>
            </form>
        </main>
    }
}
