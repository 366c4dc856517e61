//! Refunds as finance see them: the community's refunds (the failed ones
//! above all), and retrying one WeChat Pay could not make. A failed refund's
//! money is back in escrow and the order does not settle until finance
//! decide it again, back the way it was paid or into the household's wallet.

use actix_web::web;
use chrono::{DateTime, Utc};
use entity::{CommunityId, Fen, OrderId, RefundId, RefundStatus, RefundTo, order, refund};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::CommunityScope;
use crate::kernel::db::begin_write;
use crate::kernel::error::{ApiError, ApiResult, ErrorBody, ErrorCode};
use crate::kernel::http::Json;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct CommunityRefund {
    pub id: RefundId,
    pub order_id: OrderId,
    pub order_no: String,
    /// Fen.
    pub amount: Fen,
    pub reason: String,
    /// `sandbox`, `wechat_pay` or `wallet`.
    pub provider: String,
    pub status: RefundStatus,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

fn view(r: refund::Model, order_no: String) -> CommunityRefund {
    CommunityRefund {
        id: r.id,
        order_id: r.order_id,
        order_no,
        amount: r.amount,
        reason: r.reason,
        provider: r.provider,
        status: r.status,
        created_at: r.created_at,
        completed_at: r.completed_at,
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RefundFilter {
    /// `failed`: the ones waiting for finance.
    pub status: Option<RefundStatus>,
}

/// The community's refunds, newest first (at most 500).
#[utoipa::path(get, path = "/api/v1/communities/{community_id}/refunds", tag = "settlement",
    params(("community_id" = CommunityId, Path), RefundFilter),
    responses((status = 200, body = Vec<CommunityRefund>)))]
pub async fn list(
    state: web::Data<AppState>,
    scope: CommunityScope,
    filter: web::Query<RefundFilter>,
) -> ApiResult<web::Json<Vec<CommunityRefund>>> {
    let orders_here = sea_orm::sea_query::Query::select()
        .column(order::Column::Id)
        .from(order::Entity)
        .and_where(order::Column::CommunityId.eq(scope.id()))
        .to_owned();
    let mut select =
        refund::Entity::find().filter(refund::Column::OrderId.in_subquery(orders_here));
    if let Some(s) = filter.status {
        select = select.filter(refund::Column::Status.eq(s));
    }
    let refunds = select
        .order_by_desc(refund::Column::Id)
        .limit(500)
        .all(&state.db)
        .await?;
    let numbers: std::collections::HashMap<OrderId, String> = order::Entity::find()
        .filter(order::Column::Id.is_in(refunds.iter().map(|r| r.order_id)))
        .select_only()
        .column(order::Column::Id)
        .column(order::Column::OrderNo)
        .into_tuple::<(OrderId, String)>()
        .all(&state.db)
        .await?
        .into_iter()
        .collect();
    Ok(web::Json(
        refunds
            .into_iter()
            .map(|r| {
                let no = numbers.get(&r.order_id).cloned().unwrap_or_default();
                view(r, no)
            })
            .collect(),
    ))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRetry {
    /// `original` (default): try the way it was paid again; `wallet`: into
    /// the household's wallet, which cannot fail.
    #[serde(default)]
    pub refund_to: RefundTo,
}

/// Decide a failed refund again (finance): a new refund of the same amount,
/// the way it was paid or into the household's wallet. The failed one is
/// marked `retried`.
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/refunds/{refund_id}/retry", tag = "settlement",
    params(("community_id" = CommunityId, Path), ("refund_id" = RefundId, Path)), request_body = RefundRetry,
    responses((status = 200, body = CommunityRefund), (status = 404, body = ErrorBody),
        (status = 409, description = "`invalid_transition`: not a failed refund", body = ErrorBody)))]
pub async fn retry(
    state: web::Data<AppState>,
    scope: CommunityScope,
    path: web::Path<(CommunityId, RefundId)>,
    body: Json<RefundRetry>,
) -> ApiResult<web::Json<CommunityRefund>> {
    let to = body.into_inner().refund_to;
    let txn = begin_write(&state.db).await?;
    let Some(failed) = refund::Entity::find_by_id(path.1).one(&txn).await? else {
        return Err(ApiError::not_found());
    };
    // The order's row first, as every refund path takes it.
    let o = order::Entity::find_by_id(failed.order_id)
        .filter(order::Column::CommunityId.eq(scope.id()))
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let marked = refund::Entity::update_many()
        .col_expr(refund::Column::Status, Expr::value(RefundStatus::Retried))
        .filter(refund::Column::Id.eq(failed.id))
        .filter(refund::Column::Status.eq(RefundStatus::Failed))
        .exec(&txn)
        .await?
        .rows_affected;
    if marked != 1 {
        return Err(ApiError::new(
            ErrorCode::InvalidTransition,
            format!(
                "only a failed refund can be retried; this one is {}",
                failed.status
            ),
        ));
    }
    let key = format!("retry:{}", failed.id);
    super::refund_to(
        &txn,
        &state.settings,
        &o,
        failed.amount,
        &format!("retry: {}", failed.reason),
        &key,
        to,
    )
    .await?;
    let made = refund::Entity::find()
        .filter(refund::Column::IdempotencyKey.eq(key))
        .one(&txn)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("retried refund not recorded")))?;
    txn.commit().await?;
    Ok(web::Json(view(made, o.order_no)))
}
