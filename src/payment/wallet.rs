//! The household wallet (家庭钱包): refunds kept for later, spent on orders
//! (`"method": "wallet"` when paying) and property fees by any verified
//! member of the household. Its balance lives in the ledger
//! (`household_wallet`, never negative).

use actix_web::web;
use chrono::{DateTime, Utc};
use entity::{CommunityId, Fen, HouseholdId, JournalKind, LedgerAccountKind, OrderId, household};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Statement};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::CommunityScope;
use crate::auth::access::FINANCE;
use crate::kernel::db::sql;
use crate::kernel::error::{ApiError, ApiResult, ErrorBody};
use crate::ledger::{self, Account};
use crate::state::AppState;

/// One movement of a wallet.
#[derive(Debug, Serialize, ToSchema)]
pub struct WalletMovement {
    pub at: DateTime<Utc>,
    pub kind: JournalKind,
    /// Fen: positive into the wallet, negative out of it.
    pub amount: i64,
    pub order_id: Option<OrderId>,
    pub memo: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Wallet {
    pub household_id: HouseholdId,
    /// Fen.
    pub balance: Fen,
    /// The latest 50 movements, newest first.
    pub movements: Vec<WalletMovement>,
}

/// A household's wallet: its balance and latest movements (the household's
/// verified members, and the community's manager and finance staff).
#[utoipa::path(get, path = "/api/v1/communities/{community_id}/households/{household_id}/wallet", tag = "settlement",
    params(("community_id" = CommunityId, Path), ("household_id" = HouseholdId, Path)),
    responses((status = 200, body = Wallet), (status = 404, body = ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    scope: CommunityScope,
    path: web::Path<(CommunityId, HouseholdId)>,
) -> ApiResult<web::Json<Wallet>> {
    let id = path.1;
    let here = household::Entity::find_by_id(id)
        .filter(household::Column::CommunityId.eq(scope.id()))
        .one(&state.db)
        .await?
        .is_some();
    let allowed =
        scope.membership(id).is_some() || scope.has_any_role(FINANCE) || scope.operator_admin;
    if !here || !allowed {
        return Err(ApiError::not_found());
    }
    let account = Account::household_wallet(id);
    let backend = state.db.get_database_backend();
    let rows = state
        .db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            sql(
                backend,
                "SELECT e.created_at, e.kind, e.order_id, e.memo, l.amount FROM journal_lines l \
                 JOIN journal_entries e ON e.id = l.entry_id \
                 WHERE l.account_id = $1 ORDER BY l.id DESC LIMIT 50",
            ),
            [account.id().as_uuid().into()],
        ))
        .await?;
    let mut movements = Vec::with_capacity(rows.len());
    for r in rows {
        let kind: String = r.try_get("", "kind")?;
        let amount: i64 = r.try_get("", "amount")?;
        movements.push(WalletMovement {
            at: r.try_get("", "created_at")?,
            kind: serde_json::from_value(serde_json::Value::String(kind))
                .map_err(ApiError::internal)?,
            amount: amount * LedgerAccountKind::HouseholdWallet.sign(),
            order_id: r.try_get("", "order_id")?,
            memo: r.try_get("", "memo")?,
        });
    }
    Ok(web::Json(Wallet {
        household_id: id,
        balance: crate::kernel::money::fen(
            ledger::balance(&state.db, account).await?,
            "a household's wallet balance",
        )?,
        movements,
    }))
}
