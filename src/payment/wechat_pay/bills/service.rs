//! The daily bills' rules: asking WeChat Pay for a day's bills, checking
//! and keeping their lines, booking its fees, and the sweep that fetches
//! each day once it is ready.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use entity::{JournalKind, pay_bill, pay_bill_line};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};
use sha1::{Digest, Sha1};

use super::parse::{self, Line};
use crate::kernel::clock;
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};
use crate::ledger::{self, Account, Entry};
use crate::payment::wechat_pay::WechatPay;
use crate::payment::wechat_pay::answers::BillLink;

/// How long after a business day its bills can be asked for (10:00 Beijing
/// time the next day).
const READY_AFTER_HOURS: i64 = 24 + 10;
/// How long to wait while WeChat Pay is still making a bill.
const RETRY_MINUTES: i64 = 30;
/// How many days back the sweep still fetches a day it missed.
const LOOK_BACK_DAYS: i64 = 7;

/// What fetching a day did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub trade_lines: usize,
    pub fund_lines: usize,
    /// Fee entries booked now (a day fetched again books none twice).
    pub fees_booked: usize,
}

/// Why a day could not be fetched.
#[derive(Debug)]
pub enum NotFetched {
    /// WeChat Pay is still making the bill: ask again later.
    NotYet,
    Failed(ApiError),
}

impl From<ApiError> for NotFetched {
    fn from(e: ApiError) -> Self {
        NotFetched::Failed(e)
    }
}

impl From<sea_orm::DbErr> for NotFetched {
    fn from(e: sea_orm::DbErr) -> Self {
        NotFetched::Failed(e.into())
    }
}

/// WeChat Pay cuts its bills by the calendar day in Beijing time, whatever
/// zone the property's own business day is in.
pub const BILL_ZONE: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

/// The day of WeChat Pay's bills `date`: `[from, to)`.
pub fn bill_day(date: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = |d: NaiveDate| {
        d.and_hms_opt(0, 0, 0)
            .and_then(|t| t.and_local_timezone(BILL_ZONE).earliest())
            .map_or_else(
                || d.and_time(chrono::NaiveTime::MIN).and_utc(),
                |t| t.with_timezone(&Utc),
            )
    };
    (start(date), start(date + Duration::days(1)))
}

/// The bill of `date`'s text: empty when WeChat Pay has none for the day.
async fn bill_text(
    pay: &WechatPay,
    path: &str,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<Option<String>, NotFetched> {
    let (status, answer) = pay.call_verified(reqwest::Method::GET, path, None).await?;
    let link = serde_json::from_value::<BillLink>(answer.clone());
    if !status.is_success() {
        let code = link.ok().and_then(|l| l.code);
        return match code.as_deref() {
            Some("NO_STATEMENT_EXIST") => Ok(None),
            Some("STATEMENT_CREATING") => Err(NotFetched::NotYet),
            _ => Err(ApiError::new(
                ErrorCode::WechatUnavailable,
                "WeChat Pay refused to give the bill",
            )
            .with_cause(anyhow::anyhow!("{path} answered {status}: {answer}"))
            .into()),
        };
    }
    let link = link.map_err(|e| {
        ApiError::internal(anyhow::anyhow!(
            "{path} answered something unreadable ({e}): {answer}"
        ))
    })?;
    let (Some(url), Some(hash)) = (link.download_url.as_deref(), link.hash_value.as_deref()) else {
        return Err(ApiError::internal(anyhow::anyhow!(
            "{path} answered without a download_url or hash_value: {answer}"
        ))
        .into());
    };
    if let Some(kind) = link.hash_type.as_deref().filter(|t| *t != "SHA1") {
        return Err(
            ApiError::internal(anyhow::anyhow!("{path}: unknown hash_type {kind:?}")).into(),
        );
    }
    let bytes = pay.download(url).await?;
    let digest = hex::encode(Sha1::digest(&bytes));
    if !digest.eq_ignore_ascii_case(hash.trim()) {
        return Err(ApiError::internal(anyhow::anyhow!(
            "the bill from {path} does not match its SHA-1 ({digest}, WeChat Pay said {hash})"
        ))
        .into());
    }
    progress(&format!("  {} bytes, SHA-1 verified", bytes.len()));
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|e| ApiError::internal(anyhow::anyhow!("the bill is not UTF-8: {e}")).into())
}

/// Fetches both bills of `date`, keeps their lines and books WeChat Pay's
/// fees, whatever was fetched before. `progress` hears each step.
pub async fn fetch(
    pay: &WechatPay,
    db: &DatabaseConnection,
    date: NaiveDate,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<Fetched, NotFetched> {
    let day = date.format("%Y-%m-%d").to_string();
    progress(&format!("fetching the trade bill of {day}"));
    let trade = match bill_text(
        pay,
        &format!("/v3/bill/tradebill?bill_date={day}&bill_type=ALL"),
        progress,
    )
    .await?
    {
        Some(text) => parse::trade(&text).map_err(ApiError::internal)?,
        None => Vec::new(),
    };
    progress(&format!("  {} lines", trade.len()));
    progress(&format!("fetching the fund-flow bill of {day}"));
    let fund = match bill_text(
        pay,
        &format!("/v3/bill/fundflowbill?bill_date={day}&account_type=BASIC"),
        progress,
    )
    .await?
    {
        Some(text) => parse::fund(&text).map_err(ApiError::internal)?,
        None => Vec::new(),
    };
    progress(&format!("  {} lines", fund.len()));
    let txn = crate::kernel::db::begin_write(db).await?;
    pay_bill_line::Entity::delete_many()
        .filter(pay_bill_line::Column::BillDate.eq(day.as_str()))
        .exec(&txn)
        .await?;
    let rows: Vec<pay_bill_line::ActiveModel> = trade
        .iter()
        .chain(fund.iter())
        .enumerate()
        .map(|(seq, l)| pay_bill_line::ActiveModel {
            bill_date: Set(day.clone()),
            source: Set(l.source.as_str().to_owned()),
            seq: Set(i32::try_from(seq).unwrap_or(i32::MAX)),
            kind: Set(l.kind.chars().take(32).collect()),
            wechat_id: Set(l.wechat_id.chars().take(64).collect()),
            out_no: Set(l.out_no.chars().take(64).collect()),
            amount: Set(l.amount),
            fee: Set(l.fee),
            occurred_at: Set(l.occurred_at.chars().take(19).collect()),
        })
        .collect();
    for chunk in rows.chunks(1_000) {
        // Another fetch of the same day at the same moment (the command
        // line beside the sweeper) writes the same lines.
        pay_bill_line::Entity::insert_many(chunk.to_vec())
            .on_conflict(
                OnConflict::columns([
                    pay_bill_line::Column::BillDate,
                    pay_bill_line::Column::Source,
                    pay_bill_line::Column::Seq,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
    }
    let mut fees_booked = 0;
    for line in trade.iter().filter(|l| l.fee != 0) {
        if book_fee(&txn, line).await?.recorded() {
            fees_booked += 1;
        }
    }
    let now = clock::now();
    pay_bill::Entity::insert(pay_bill::ActiveModel {
        bill_date: Set(day.clone()),
        fetched_at: Set(Some(now)),
        attempts: Set(1),
        next_attempt_at: Set(None),
        last_error: Set(None),
        trade_lines: Set(i32::try_from(trade.len()).unwrap_or(i32::MAX)),
        fund_lines: Set(i32::try_from(fund.len()).unwrap_or(i32::MAX)),
        created_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(pay_bill::Column::BillDate)
            .update_columns([
                pay_bill::Column::FetchedAt,
                pay_bill::Column::NextAttemptAt,
                pay_bill::Column::LastError,
                pay_bill::Column::TradeLines,
                pay_bill::Column::FundLines,
            ])
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    txn.commit().await?;
    progress(&format!("  {fees_booked} fees booked"));
    Ok(Fetched {
        trade_lines: trade.len(),
        fund_lines: fund.len(),
        fees_booked,
    })
}

/// Books WeChat Pay's fee on one trade line: kept on a payment (out of
/// clearing), returned with a refund (back into it). Once per transaction.
async fn book_fee<C: ConnectionTrait>(db: &C, line: &Line) -> ApiResult<ledger::Posted> {
    let amount = crate::kernel::money::fen(line.fee.abs(), "a bill line's fee")?;
    let entry = Entry::new(
        JournalKind::ProviderFee,
        format!("provider_fee:{}:{}", line.kind, line.wechat_id),
    )
    .memo(&format!(
        "WeChat Pay's fee on {} {} ({})",
        line.kind, line.out_no, line.occurred_at
    ));
    let entry = if line.fee > 0 {
        entry
            .debit(Account::provider_fees(), amount)
            .credit(Account::wechat_clearing(), amount)
    } else {
        entry
            .debit(Account::wechat_clearing(), amount)
            .credit(Account::provider_fees(), amount)
    };
    ledger::post(db, entry).await
}

/// Fetches the bills of the business days that are due and not yet
/// fetched (yesterday once it is 10:00 in Beijing, and up to a week back),
/// each claimed by one instance; a bill still being made is asked for again
/// in 30 minutes. Returns how many days were fetched.
pub async fn sweep(
    pay: &WechatPay,
    db: &DatabaseConnection,
    now: DateTime<Utc>,
) -> ApiResult<usize> {
    let today = now.with_timezone(&BILL_ZONE).date_naive();
    let due: Vec<NaiveDate> = (1..=LOOK_BACK_DAYS)
        .filter_map(|back| today.checked_sub_signed(Duration::days(back)))
        .filter(|d| bill_day(*d).0 + Duration::hours(READY_AFTER_HOURS) <= now)
        .collect();
    let names: Vec<String> = due
        .iter()
        .map(|d| d.format("%Y-%m-%d").to_string())
        .collect();
    let done: Vec<String> = pay_bill::Entity::find()
        .filter(pay_bill::Column::BillDate.is_in(names.clone()))
        .filter(pay_bill::Column::FetchedAt.is_not_null())
        .all(db)
        .await?
        .into_iter()
        .map(|b| b.bill_date)
        .collect();
    let mut fetched = 0;
    for (date, name) in due.into_iter().zip(names) {
        if done.contains(&name) {
            continue;
        }
        pay_bill::Entity::insert(pay_bill::ActiveModel {
            bill_date: Set(name.clone()),
            fetched_at: Set(None),
            attempts: Set(0),
            next_attempt_at: Set(None),
            last_error: Set(None),
            trade_lines: Set(0),
            fund_lines: Set(0),
            created_at: Set(now),
        })
        .on_conflict(
            OnConflict::column(pay_bill::Column::BillDate)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
        // The claim: only one instance moves the next attempt on.
        let claimed = pay_bill::Entity::update_many()
            .col_expr(
                pay_bill::Column::Attempts,
                Expr::col(pay_bill::Column::Attempts).add(1),
            )
            .col_expr(
                pay_bill::Column::NextAttemptAt,
                Expr::value(now + Duration::minutes(RETRY_MINUTES)),
            )
            .filter(pay_bill::Column::BillDate.eq(name.as_str()))
            .filter(pay_bill::Column::FetchedAt.is_null())
            .filter(
                pay_bill::Column::NextAttemptAt
                    .is_null()
                    .or(pay_bill::Column::NextAttemptAt.lte(now)),
            )
            .exec(db)
            .await?
            .rows_affected;
        if claimed != 1 {
            continue;
        }
        match fetch(pay, db, date, &mut |_| {}).await {
            Ok(_) => fetched += 1,
            Err(NotFetched::NotYet) => {
                tracing::info!(date = %name, "WeChat Pay is still making the bill; asking again later");
            }
            Err(NotFetched::Failed(e)) => {
                tracing::warn!(date = %name, error = %e, "fetching WeChat Pay's bill failed; retried later");
                pay_bill::Entity::update_many()
                    .col_expr(
                        pay_bill::Column::LastError,
                        Expr::value(e.to_string().chars().take(500).collect::<String>()),
                    )
                    .filter(pay_bill::Column::BillDate.eq(name.as_str()))
                    .exec(db)
                    .await?;
            }
        }
    }
    Ok(fetched)
}
