//! Column and key helpers the migrations share. They build sea-query
//! definitions from identifiers only, never from entity types.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};

/// A UUID primary key (ids are UUIDv7, made in Rust).
pub fn id(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).uuid().not_null().primary_key().take()
}

pub fn uuid_ref(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).uuid().not_null().take()
}

pub fn uuid_null(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).uuid().null().take()
}

/// A UTC timestamp (timestamptz on PostgreSQL, text on SQLite).
pub fn time(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .not_null()
        .take()
}

pub fn time_null(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).timestamp_with_time_zone().null().take()
}

/// A required string of at most `len` characters.
pub fn text(col: impl IntoIden, len: u32) -> ColumnDef {
    ColumnDef::new(col).string_len(len).not_null().take()
}

/// An optional string of at most `len` characters.
pub fn text_null(col: impl IntoIden, len: u32) -> ColumnDef {
    ColumnDef::new(col).string_len(len).null().take()
}

/// Required text of any length.
pub fn long_text(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).text().not_null().take()
}

pub fn long_text_null(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).text().null().take()
}

/// A foreign key whose rows go with the row they point to.
pub fn cascade(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Cascade)
        .take()
}

/// An index named `name` on `table`'s `cols`, in that order.
pub fn index(
    name: &str,
    table: impl IntoIden,
    cols: impl IntoIterator<Item = DynIden>,
) -> IndexCreateStatement {
    let mut index = Index::create().name(name).table(table).to_owned();
    for col in cols {
        index.col(col);
    }
    index
}

/// The `n` a `SELECT COUNT(*) AS n …` counts: for a `down` that must refuse
/// rather than lose rows the older schema cannot hold.
pub async fn count(manager: &SchemaManager<'_>, sql: &str) -> Result<i64, DbErr> {
    Ok(manager
        .get_connection()
        .query_one_raw(Statement::from_string(
            manager.get_database_backend(),
            sql.to_owned(),
        ))
        .await?
        .map(|r| r.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0))
}
