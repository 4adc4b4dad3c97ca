//! `users`: accounts. The ticket's `users(clerk_user_id)` is `users.id`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(unique)]
    pub email: String,
    pub display_name: String,
    /// PHC string of an argon2id hash.
    pub password_hash: String,
    pub created_at: DateTimeUtc,
    /// Admins choose who may sign up, see and disable accounts, and use server paths as projects.
    pub is_admin: bool,
    /// When an admin disabled the account (its sign-ins and tokens stop working).
    pub disabled_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
