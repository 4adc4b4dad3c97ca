//! Takeover: when a node dies (no heartbeat within its lease), a live node takes its projects
//! that have a remote. Each live node looks after every heartbeat; the claim is one `UPDATE …
//! WHERE owner_node = dead`, so two nodes looking at once never take the same project. Then,
//! per project: the runs that were live there end `interrupted`, the mirror is cloned again
//! from the remote, and each chat's checkout is made again on first use from its branch as last
//! pushed (`Workspaces::ensure_checkout`). What existed only on the dead node's disk — commits
//! never pushed, the edits of a turn that was running — is written on the chat
//! (`lost_work`), never dropped silently. Projects without a remote (a local path, a new empty
//! repository) stay with their node and answer `node_unavailable` until it is back.

use crate::state::AppState;
use crate::store;
use actix_web::web;
use api_types::{RepositoryState, WorkspaceState};
use checkout::{Author, Mirror};
use entity::project;

/// Takes over the projects of every dead node; how many projects it took.
pub async fn sweep(state: &web::Data<AppState>) -> usize {
    let Some(me) = state.node_id else { return 0 };
    let nodes = match store::nodes::all(&state.db).await {
        Ok(nodes) => nodes,
        Err(err) => {
            tracing::warn!(error = %err, "could not read the nodes to look for dead ones");
            return 0;
        }
    };
    let mut taken = 0;
    for dead in nodes.into_iter().filter(|n| n.id != me && !super::alive(&state.settings, n.heartbeat_at)) {
        let projects = match store::nodes::claim_projects(&state.db, dead.id, me).await {
            Ok(projects) => projects,
            Err(err) => {
                tracing::warn!(node_id = dead.id, error = %err, "could not take over the dead node's projects");
                continue;
            }
        };
        for project in projects {
            tracing::warn!(project_id = project.id, from = dead.id, to = me, "taking over a dead node's project");
            taken += 1;
            // Off the heartbeat's task: a long clone must not stop this node's own beats.
            let state = state.clone();
            tokio::spawn(async move { take_over(&state, project, dead.id).await });
        }
    }
    taken
}

/// Whether a project can move to another node when its own dies (what
/// `store::nodes::claim_projects` takes).
pub(crate) fn moves(project: &project::Model) -> bool {
    store::nodes::MOVABLE_KINDS.contains(&project.repository_kind)
}

async fn take_over(state: &web::Data<AppState>, project: project::Model, dead: i32) {
    let project_id = project.id;
    // Cloning before its runs end: whoever sees them interrupted sees the project not ready.
    if let Err(err) =
        store::projects::set_repository_state(&state.db, project_id, RepositoryState::Cloning, None, None).await
    {
        tracing::warn!(project_id, error = %err, "could not mark the project as cloning");
    }
    let error = format!("Node {dead}, which ran this turn, stopped; another node took the chat over.");
    let interrupted =
        store::runs::interrupt_live_in(&state.db, Some(store::nodes::sessions_of_project(project_id)), &error)
            .await
            .unwrap_or_else(|err| {
                tracing::warn!(project_id, error = %err, "could not end the runs of a taken-over project");
                Vec::new()
            });
    crate::services::chat::recover_messages(&state.db, &state.secrets, &interrupted, &error).await;
    crate::services::chat::announce_interrupted(state, &interrupted).await;
    let credentials = crate::services::github::git_credentials(state, &project.user_id, &project).await.ok().flatten();
    let author = Author { name: "kosuke".into(), email: "kosuke@localhost".into() };
    if let Err(err) = state.workspaces.prepare(project.clone(), author, credentials).await {
        return repository_state(state, project_id, RepositoryState::Failed, Some(err.body().error)).await;
    }
    let sessions = match store::sessions::all_in_project(&state.db, project_id).await {
        Ok(sessions) => sessions,
        Err(err) => {
            tracing::warn!(project_id, error = %err, "could not list the taken-over sessions");
            Vec::new()
        }
    };
    let mirror_path = state.workspaces.project_dir(project_id).mirror();
    for session in sessions {
        let last = store::messages::last_commit(&state.db, session.id).await.ok().flatten();
        let was_running = interrupted.iter().any(|run| run.chat_session_id == session.id);
        let (path, branch) = (mirror_path.clone(), session.github_branch_name.clone());
        let lost = crate::workspaces::blocking(move || {
            let mirror = Mirror::open(&path)?;
            Ok(lost_work(&mirror, &branch, last.as_deref(), was_running, dead))
        })
        .await
        .unwrap_or_else(|err| {
            Some(format!("Node {dead} stopped; what this chat held could not be checked ({}).", err.body().error))
        });
        if let Err(err) = store::sessions::taken_over(&state.db, session.id, WorkspaceState::Released, lost).await {
            tracing::warn!(session_pk = session.id, error = %err, "could not record the takeover on the session");
        }
    }
    // Ready once every chat says what it lost: a turn run on B before could hide it. Prompts
    // stored for the project while it moved start now.
    repository_state(state, project_id, RepositoryState::Ready, None).await;
    state.runtime.claims.notify_one();
}

async fn repository_state(state: &AppState, project_id: i32, repository: RepositoryState, error: Option<String>) {
    if let Err(err) = store::projects::set_repository_state(&state.db, project_id, repository, error, None).await {
        tracing::warn!(project_id, error = %err, "could not record the project's repository state");
    }
}

/// What of a chat's work did not survive its node: the commits after the last one the remote
/// has, and a running turn's edits (written, never committed).
fn lost_work(mirror: &Mirror, branch: &str, last: Option<&str>, was_running: bool, dead: i32) -> Option<String> {
    let pushed = mirror.remote_head(branch);
    let mut lost = Vec::new();
    if let Some(last) = last
        && !pushed.is_some_and(|tip| mirror.reaches(tip, last))
    {
        let short = &last[..last.len().min(12)];
        lost.push(match pushed {
            Some(tip) => format!("the commits after {} (up to {short}) were never pushed", &tip.to_string()[..12]),
            None => format!("its branch was never pushed (its last commit was {short})"),
        });
    }
    if was_running {
        lost.push("the edits of the turn that was running were not committed".to_owned());
    }
    (!lost.is_empty())
        .then(|| format!("Node {dead}, which held this chat, stopped: {}; they are lost.", lost.join(", and ")))
}
