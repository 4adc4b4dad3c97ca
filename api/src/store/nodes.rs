//! The `nodes` table: registration and heartbeats.

use super::{StoreError, now};
use entity::node;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};

/// Registers the node at `url` (again, after a restart: same row, started now).
pub async fn register(db: &impl ConnectionTrait, url: &str) -> Result<node::Model, StoreError> {
    let at = now();
    if let Some(known) = node::Entity::find().filter(node::Column::Url.eq(url)).one(db).await? {
        let mut active: node::ActiveModel = known.into();
        active.started_at = Set(at);
        active.heartbeat_at = Set(at);
        return Ok(active.update(db).await?);
    }
    let row = node::ActiveModel {
        url: Set(url.to_owned()),
        started_at: Set(at),
        heartbeat_at: Set(at),
        ..Default::default()
    };
    Ok(row.insert(db).await?)
}

/// The node's heartbeat: its row says it is alive now.
pub async fn beat(db: &impl ConnectionTrait, id: i32) -> Result<(), StoreError> {
    node::ActiveModel { id: sea_orm::ActiveValue::Unchanged(id), heartbeat_at: Set(now()), ..Default::default() }
        .update(db)
        .await?;
    Ok(())
}

pub async fn find(db: &impl ConnectionTrait, id: i32) -> Result<Option<node::Model>, StoreError> {
    Ok(node::Entity::find_by_id(id).one(db).await?)
}

/// The node holding project `project_id` (`None`: made while kosuke ran alone, or no such
/// project), in one query.
pub async fn holding(db: &impl ConnectionTrait, project_id: i32) -> Result<Option<node::Model>, StoreError> {
    node_of_project(db, entity::project::Column::Id.eq(project_id)).await
}

/// The node holding session `session_pk`'s project, in one query.
pub async fn holding_session(db: &impl ConnectionTrait, session_pk: i32) -> Result<Option<node::Model>, StoreError> {
    use entity::chat_session;
    let project = sea_orm::sea_query::Query::select()
        .column(chat_session::Column::ProjectId)
        .from(chat_session::Entity)
        .and_where(chat_session::Column::Id.eq(session_pk))
        .to_owned();
    node_of_project(db, entity::project::Column::Id.in_subquery(project)).await
}

/// The owner node of the project `which` picks out.
async fn node_of_project(
    db: &impl ConnectionTrait,
    which: sea_orm::sea_query::SimpleExpr,
) -> Result<Option<node::Model>, StoreError> {
    use entity::project;
    let owner = sea_orm::sea_query::Query::select()
        .column(project::Column::OwnerNode)
        .from(project::Entity)
        .and_where(which)
        .to_owned();
    Ok(node::Entity::find().filter(node::Column::Id.in_subquery(owner)).one(db).await?)
}

/// Records where the other nodes reach this node's preview proxy.
pub async fn set_preview_address(db: &impl ConnectionTrait, id: i32, address: &str) -> Result<(), StoreError> {
    node::ActiveModel {
        id: sea_orm::ActiveValue::Unchanged(id),
        preview_address: Set(Some(address.to_owned())),
        ..Default::default()
    }
    .update(db)
    .await?;
    Ok(())
}

/// How many active sessions each node's projects have (nodes with none are left out).
pub async fn active_sessions_by_node(db: &impl ConnectionTrait) -> Result<Vec<(i32, i64)>, StoreError> {
    use entity::{chat_session, project};
    use sea_orm::{JoinType, QuerySelect, RelationTrait};
    Ok(chat_session::Entity::find()
        .select_only()
        .column(project::Column::OwnerNode)
        .column_as(chat_session::Column::Id.count(), "sessions")
        .join(JoinType::InnerJoin, chat_session::Relation::Project.def())
        .filter(chat_session::Column::Status.eq(api_types::ChatSessionStatus::Active))
        .filter(project::Column::OwnerNode.is_not_null())
        .group_by(project::Column::OwnerNode)
        .into_tuple::<(i32, i64)>()
        .all(db)
        .await?)
}

pub async fn all(db: &impl ConnectionTrait) -> Result<Vec<node::Model>, StoreError> {
    Ok(node::Entity::find().order_by_asc(node::Column::Id).all(db).await?)
}

/// The ids of the chat sessions in the projects node `node` holds.
pub fn sessions_held_by(node: i32) -> sea_orm::sea_query::SelectStatement {
    sessions_held_where(node, None)
}

/// The ids of the chat sessions in the projects node `node` holds whose repository is in
/// `state` (all of them with `None`).
pub fn sessions_held_where(
    node: i32,
    state: Option<api_types::RepositoryState>,
) -> sea_orm::sea_query::SelectStatement {
    use entity::{chat_session, project};
    use sea_orm::sea_query::Query;
    let mut projects = Query::select()
        .column(project::Column::Id)
        .from(project::Entity)
        .and_where(project::Column::OwnerNode.eq(node))
        .to_owned();
    if let Some(state) = state {
        projects.and_where(project::Column::RepositoryState.eq(state));
    }
    Query::select()
        .column(chat_session::Column::Id)
        .from(chat_session::Entity)
        .and_where(chat_session::Column::ProjectId.in_subquery(projects))
        .to_owned()
}

/// The ids of the chat sessions of project `project_id`.
pub fn sessions_of_project(project_id: i32) -> sea_orm::sea_query::SelectStatement {
    use entity::chat_session;
    use sea_orm::sea_query::Query;
    Query::select()
        .column(chat_session::Column::Id)
        .from(chat_session::Entity)
        .and_where(chat_session::Column::ProjectId.eq(project_id))
        .to_owned()
}

/// The kinds of repository that can move to another node: they have a remote to clone again.
pub const MOVABLE_KINDS: [api_types::RepositoryKind; 2] =
    [api_types::RepositoryKind::Github, api_types::RepositoryKind::Git];

/// Moves the projects with a remote ([`MOVABLE_KINDS`]) from node `dead` to node `to`; the ones moved. Two nodes
/// taking over at once each get a share, never the same project: PostgreSQL checks the owner
/// again once it holds each row.
pub async fn claim_projects(
    db: &impl ConnectionTrait,
    dead: i32,
    to: i32,
) -> Result<Vec<entity::project::Model>, StoreError> {
    use entity::project;
    use sea_orm::sea_query::Expr;
    Ok(project::Entity::update_many()
        .col_expr(project::Column::OwnerNode, Expr::value(to))
        .filter(project::Column::OwnerNode.eq(dead))
        .filter(project::Column::RepositoryKind.is_in(MOVABLE_KINDS))
        .exec_with_returning(db)
        .await?)
}
