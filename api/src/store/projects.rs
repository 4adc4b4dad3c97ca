//! Projects, seen through membership: a user who is not a member gets "not found".

use super::{StoreError, now};
use api_types::{ProjectRole, RepositoryKind, RepositoryState};
use entity::{project, project_member};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    RelationTrait, Set,
    sea_query::{Expr, ExprTrait, Func, JoinType},
};

pub struct NewProject {
    pub owner_id: String,
    pub name: String,
    pub description: Option<String>,
    pub repository_kind: RepositoryKind,
    pub repository_location: String,
    pub default_branch: String,
    /// The node that will hold it (`None` alone).
    pub owner_node: Option<i32>,
}

/// Inserts the project and its owner's membership.
pub async fn insert(db: &impl ConnectionTrait, new: NewProject) -> Result<project::Model, StoreError> {
    let at = now();
    let project = project::ActiveModel {
        user_id: Set(new.owner_id.clone()),
        name: Set(new.name),
        description: Set(new.description),
        repository_kind: Set(new.repository_kind),
        repository_location: Set(new.repository_location),
        default_branch: Set(new.default_branch),
        repository_state: Set(RepositoryState::Cloning),
        repository_error: Set(None),
        owner_node: Set(new.owner_node),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
    .insert(db)
    .await?;
    project_member::ActiveModel {
        project_id: Set(project.id),
        user_id: Set(new.owner_id),
        role: Set(ProjectRole::Owner),
        created_at: Set(at),
    }
    .insert(db)
    .await?;
    Ok(project)
}

/// The project and the user's role in it, or "not found" when the user is not a member.
pub async fn load_for_member(
    db: &impl ConnectionTrait,
    project_id: i32,
    user_id: &str,
) -> Result<(project::Model, ProjectRole), StoreError> {
    let found = project::Entity::find_by_id(project_id)
        .find_also_related(project_member::Entity)
        .filter(project_member::Column::UserId.eq(user_id))
        .one(db)
        .await?;
    match found {
        Some((project, Some(member))) => Ok((project, member.role)),
        _ => Err(StoreError::NotFound("project")),
    }
}

/// The user's projects, newest first, after the cursor id.
pub async fn list_for_member(
    db: &impl ConnectionTrait,
    user_id: &str,
    before_id: Option<i32>,
    limit: u64,
) -> Result<(Vec<(project::Model, ProjectRole)>, u64), StoreError> {
    let base = project::Entity::find()
        .join(JoinType::InnerJoin, project::Relation::Members.def())
        .filter(project_member::Column::UserId.eq(user_id));
    let total = base.clone().count(db).await?;
    let mut page = base.select_also(project_member::Entity);
    if let Some(before) = before_id {
        page = page.filter(project::Column::Id.lt(before));
    }
    let rows = page.order_by_desc(project::Column::Id).limit(limit).all(db).await?;
    let rows = rows.into_iter().filter_map(|(project, member)| member.map(|member| (project, member.role))).collect();
    Ok((rows, total))
}

pub async fn update(
    db: &impl ConnectionTrait,
    project: project::Model,
    name: Option<String>,
    description: Option<Option<String>>,
    update_strategy: Option<api_types::UpdateStrategy>,
    archive_merged: Option<bool>,
) -> Result<project::Model, StoreError> {
    let mut active: project::ActiveModel = project.into();
    if let Some(archive) = archive_merged {
        active.archive_merged = Set(archive);
    }
    if let Some(name) = name {
        active.name = Set(name);
    }
    if let Some(strategy) = update_strategy {
        active.update_strategy = Set(strategy);
    }
    if let Some(description) = description {
        active.description = Set(description);
    }
    active.updated_at = Set(now());
    Ok(active.update(db).await?)
}

pub async fn set_default_branch(
    db: &impl ConnectionTrait,
    project: project::Model,
    branch: String,
) -> Result<project::Model, StoreError> {
    let mut active: project::ActiveModel = project.into();
    active.default_branch = Set(branch);
    active.updated_at = Set(now());
    Ok(active.update(db).await?)
}

/// Deletes the project; sessions, messages, members and audit events go with it (cascade).
pub async fn delete(db: &impl ConnectionTrait, project_id: i32) -> Result<(), StoreError> {
    project::Entity::delete_by_id(project_id).exec(db).await?;
    Ok(())
}

/// Records where the project's mirror stands (and the default branch the remote reported,
/// when the project adopts it).
pub async fn set_repository_state(
    db: &impl ConnectionTrait,
    project_id: i32,
    state: RepositoryState,
    error: Option<String>,
    default_branch: Option<String>,
) -> Result<(), StoreError> {
    let mut active = project::ActiveModel {
        id: sea_orm::ActiveValue::Unchanged(project_id),
        repository_state: Set(state),
        repository_error: Set(error),
        ..Default::default()
    };
    if let Some(branch) = default_branch {
        active.default_branch = Set(branch);
    }
    active.update(db).await?;
    Ok(())
}

/// Every project (the start-up sweep).
pub async fn all(db: &impl ConnectionTrait) -> Result<Vec<project::Model>, StoreError> {
    Ok(project::Entity::find().order_by_asc(project::Column::Id).all(db).await?)
}

/// The projects node `node` holds; every project when kosuke runs alone (`None`).
pub async fn held_by(db: &impl ConnectionTrait, node: Option<i32>) -> Result<Vec<project::Model>, StoreError> {
    let mut query = project::Entity::find().order_by_asc(project::Column::Id);
    if let Some(node) = node {
        query = query.filter(project::Column::OwnerNode.eq(node));
    }
    Ok(query.all(db).await?)
}

/// Projects made while kosuke ran alone become node `node`'s (the first node to join).
pub async fn adopt_unowned(db: &impl ConnectionTrait, node: i32) -> Result<u64, StoreError> {
    let adopted = project::Entity::update_many()
        .col_expr(project::Column::OwnerNode, Expr::value(node))
        .filter(project::Column::OwnerNode.is_null())
        .exec(db)
        .await?;
    Ok(adopted.rows_affected)
}

/// The GitHub projects on `owner/repo` (any case, as GitHub compares).
pub async fn on_github(db: &impl ConnectionTrait, full_name: &str) -> Result<Vec<project::Model>, StoreError> {
    // GitHub names are case-insensitive; ASCII only, as GitHub allows.
    let location = Expr::expr(Func::lower(Expr::col(project::Column::RepositoryLocation)));
    Ok(project::Entity::find()
        .filter(project::Column::RepositoryKind.eq(api_types::RepositoryKind::Github))
        .filter(location.eq(full_name.to_ascii_lowercase()))
        .all(db)
        .await?)
}

pub async fn find(db: &impl ConnectionTrait, project_id: i32) -> Result<project::Model, StoreError> {
    project::Entity::find_by_id(project_id).one(db).await?.ok_or(StoreError::NotFound("project"))
}

pub async fn set_branding(
    db: &impl ConnectionTrait,
    project: project::Model,
    branding: serde_json::Value,
) -> Result<(), StoreError> {
    let mut active: project::ActiveModel = project.into();
    active.branding = Set(Some(branding));
    active.updated_at = Set(now());
    active.update(db).await?;
    Ok(())
}
