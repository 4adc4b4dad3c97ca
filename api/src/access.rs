//! Who may do what in a project: members see it, owners change it, everyone else gets 404.

use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::store;
use api_types::ProjectRole;
use entity::project;
use sea_orm::ConnectionTrait;

/// A project as seen by one of its members.
pub struct ProjectAccess {
    pub project: project::Model,
    pub role: ProjectRole,
}

impl ProjectAccess {
    /// Loads the project for a member; anyone else gets 404 (existence is never revealed).
    pub async fn load(db: &impl ConnectionTrait, project_id: i32, user: &CurrentUser) -> Result<Self, ApiError> {
        let (project, role) = store::projects::load_for_member(db, project_id, &user.id).await?;
        Ok(ProjectAccess { project, role })
    }

    /// Like `load`, then 403 unless the user owns the project.
    pub async fn load_as_owner(
        db: &impl ConnectionTrait,
        project_id: i32,
        user: &CurrentUser,
    ) -> Result<Self, ApiError> {
        let access = Self::load(db, project_id, user).await?;
        if access.role != ProjectRole::Owner {
            return Err(ApiError::forbidden("Only an owner of this project can do that."));
        }
        Ok(access)
    }

    pub fn id(&self) -> i32 {
        self.project.id
    }
}
