//! What a project takes on disk: its mirror, its spare checkout, each session's checkout
//! (dependencies included). A member sees their own sessions; an owner every member's.

use crate::access::ProjectAccess;
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store;
use crate::workspaces::blocking;
use api_types::{ChatSessionPk, ProjectDisk, ProjectRole, SessionDisk};

pub async fn project(state: &AppState, user: &CurrentUser, project_id: i32) -> Result<ProjectDisk, ApiError> {
    let access = ProjectAccess::load(&state.db, project_id, user).await?;
    let owner = access.role == ProjectRole::Owner;
    let sessions: Vec<_> = store::sessions::all_in_project(&state.db, access.id())
        .await?
        .into_iter()
        .filter(|session| owner || session.user_id == user.id)
        .collect();
    let dir = state.workspaces.project_dir(access.id());
    let checkouts: Vec<_> = sessions.iter().map(|s| (s.id, s.title.clone(), dir.checkout(&s.session_id))).collect();
    let (mirror, spare) = (dir.mirror(), dir.spare());
    blocking(move || {
        let sessions: Vec<SessionDisk> = checkouts
            .into_iter()
            .map(|(id, title, path)| SessionDisk {
                chat_session_id: ChatSessionPk(id),
                title,
                bytes: checkout::disk_usage(&path),
            })
            .collect();
        let (mirror_bytes, spare_bytes) = (checkout::disk_usage(&mirror), checkout::disk_usage(&spare));
        let total_bytes = mirror_bytes + spare_bytes + sessions.iter().map(|s| s.bytes).sum::<u64>();
        Ok(ProjectDisk { mirror_bytes, spare_bytes, sessions, total_bytes })
    })
    .await
}
