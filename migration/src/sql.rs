//! Small SQL pieces the migrations share: enum check constraints and a way to run raw statements.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

/// `CHECK (col IN (...))`: how a Rust enum stored as text stays an enum in SQL.
pub fn one_of(col: impl IntoIden, values: &[&str]) -> SimpleExpr {
    Expr::col(col.into_iden()).is_in(values.iter().copied())
}

/// Runs raw SQL statements in order.
pub async fn run(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    let db = manager.get_connection();
    for statement in statements {
        db.execute_unprepared(statement).await?;
    }
    Ok(())
}
