//! Accounts with an admin: `users.is_admin` (the oldest account becomes the admin) and
//! `users.disabled_at` (a disabled account's sign-ins and tokens stop working), one-use sign-up
//! invites (`invites`, only the token's hash kept), and the server's own settings that admins
//! change at run time (`server_settings`: the sign-up mode).

use crate::m20250601_000001_pre_ticket_schema::Users;
use crate::sql::run;
use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20251201_000007_accounts"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter().table(Users::Table).add_column(boolean(Account::IsAdmin).default(false)).to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(timestamp_with_time_zone_null(Account::DisabledAt))
                    .to_owned(),
            )
            .await?;
        run(
            manager,
            &["UPDATE users SET is_admin = TRUE WHERE id = (SELECT id FROM users ORDER BY created_at, id LIMIT 1)"],
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(Invites::Table)
                    .col(pk_auto(Invites::Id))
                    .col(string_len_uniq(Invites::TokenHash, 64))
                    .col(string_len(Invites::CreatedBy, 40))
                    .col(timestamp_with_time_zone(Invites::CreatedAt))
                    .col(timestamp_with_time_zone(Invites::ExpiresAt))
                    .col(timestamp_with_time_zone_null(Invites::UsedAt))
                    .col(string_len_null(Invites::UsedBy, 40))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Invites::Table, Invites::CreatedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ServerSettings::Table)
                    .col(string_len(ServerSettings::Key, 64).primary_key())
                    .col(text(ServerSettings::Value))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ServerSettings::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Invites::Table).to_owned()).await?;
        manager.alter_table(Table::alter().table(Users::Table).drop_column(Account::DisabledAt).to_owned()).await?;
        manager.alter_table(Table::alter().table(Users::Table).drop_column(Account::IsAdmin).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Account {
    IsAdmin,
    DisabledAt,
}

#[derive(DeriveIden)]
enum Invites {
    Table,
    Id,
    TokenHash,
    CreatedBy,
    CreatedAt,
    ExpiresAt,
    UsedAt,
    UsedBy,
}

#[derive(DeriveIden)]
enum ServerSettings {
    Table,
    Key,
    Value,
}
