//! Reading WeChat Pay's daily bills (CSV, UTF-8): the trade bill (交易账单,
//! `bill_type=ALL`) and the fund-flow bill (资金账单, the basic account).
//!
//! Each has a header line, detail lines, a summary header and one summary
//! line. Every detail and summary field starts with a backtick; headers do
//! not. Columns are found by their header names (their order differs between
//! bill types and over time). Amounts are yuan with two decimals, except the
//! fee (手续费), which has five; they are read exactly into fen, never as
//! floating point. A bill whose summary does not agree with its lines is
//! refused.

use std::collections::HashMap;

/// Which bill a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Trade,
    Fund,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Trade => "trade",
            Source::Fund => "fund",
        }
    }
}

/// One line of a bill, in fen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub source: Source,
    /// Trade: `payment`, `refund` or `revoked`; fund: its 业务类型.
    pub kind: String,
    pub wechat_id: String,
    pub out_no: String,
    /// A fund-flow line's is negative when money left the account.
    pub amount: i64,
    /// Trade lines: WeChat Pay's fee (negative when returned with a refund).
    pub fee: i64,
    pub occurred_at: String,
}

/// Why a bill could not be read.
#[derive(Debug, thiserror::Error)]
#[error("the {bill} bill cannot be read: {why}")]
pub struct Unreadable {
    bill: &'static str,
    why: String,
}

fn unreadable(bill: &'static str, why: impl Into<String>) -> Unreadable {
    Unreadable {
        bill,
        why: why.into(),
    }
}

/// A decimal of yuan (`12.34`, `-0.60000`) in fen, exactly: more than two
/// decimals are allowed only as trailing zeros (WeChat Pay rounds its fee to
/// the fen and pads it).
pub fn fen(text: &str) -> Option<i64> {
    let text = text.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, decimals) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !decimals.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (cents, rest) = decimals.split_at(decimals.len().min(2));
    if rest.bytes().any(|b| b != b'0') {
        return None;
    }
    let cents: i64 = format!("{cents:0<2}").parse().ok()?;
    let value = whole
        .parse::<i64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(cents)?;
    Some(if negative { -value } else { value })
}

/// A count as the summaries write it (`12`, or `20.0` in the fund bill).
fn count(text: &str) -> Option<i64> {
    let text = text.trim();
    let whole = text.strip_suffix(".0").unwrap_or(text);
    whole.parse().ok()
}

/// The lines of a bill's text: no BOM, no `\r`, no blank lines.
fn lines(text: &str) -> Vec<&str> {
    text.trim_start_matches('\u{feff}')
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty())
        .collect()
}

/// A data line's fields (each after its backtick).
fn fields(line: &str) -> Vec<String> {
    let line = line.strip_prefix('`').unwrap_or(line);
    line.split(",`").map(|f| f.trim().to_owned()).collect()
}

/// Column positions by header name; `prefix` names match a header that
/// starts with them (`收支金额` for `收支金额(元)` and `收支金额（元）`).
struct Columns(HashMap<String, usize>);

impl Columns {
    fn new(header: &str) -> Self {
        Self(
            header
                .split(',')
                .enumerate()
                .map(|(i, h)| (h.trim().to_owned(), i))
                .collect(),
        )
    }

    fn find(&self, name: &str) -> Option<usize> {
        self.0.get(name).copied().or_else(|| {
            self.0
                .iter()
                .find(|(h, _)| h.starts_with(name))
                .map(|(_, i)| *i)
        })
    }

    fn need(&self, bill: &'static str, name: &str) -> Result<usize, Unreadable> {
        self.find(name)
            .ok_or_else(|| unreadable(bill, format!("its header has no column {name}")))
    }
}

fn get(row: &[String], at: usize) -> &str {
    row.get(at).map_or("", String::as_str)
}

/// A bill cut into its parts.
struct Sections<'a> {
    header: &'a str,
    rows: Vec<&'a str>,
    summary_columns: Columns,
    summary: Vec<String>,
}

/// Splits a bill into its header, detail rows and summary (header, values).
fn sections<'a>(
    bill: &'static str,
    text: &'a str,
    summary_starts: &str,
) -> Result<Sections<'a>, Unreadable> {
    let all = lines(text);
    let Some((header, rest)) = all.split_first() else {
        return Err(unreadable(bill, "it is empty"));
    };
    let at = rest
        .iter()
        .position(|l| l.starts_with(summary_starts))
        .ok_or_else(|| unreadable(bill, "it has no summary"))?;
    let summary = rest
        .get(at + 1)
        .ok_or_else(|| unreadable(bill, "its summary has no figures"))?;
    Ok(Sections {
        header,
        rows: rest[..at].to_vec(),
        summary_columns: Columns::new(rest[at]),
        summary: fields(summary),
    })
}

/// The trade bill (`bill_type=ALL`): payments, refunds and their fees.
pub fn trade(text: &str) -> Result<Vec<Line>, Unreadable> {
    const BILL: &str = "trade";
    let Sections {
        header,
        rows,
        summary_columns,
        summary,
    } = sections(BILL, text, "总交易单数")?;
    let c = Columns::new(header);
    let (at, state, wechat_id, out_no) = (
        c.need(BILL, "交易时间")?,
        c.need(BILL, "交易状态")?,
        c.need(BILL, "微信订单号")?,
        c.need(BILL, "商户订单号")?,
    );
    let (total, fee) = (c.need(BILL, "订单金额")?, c.need(BILL, "手续费")?);
    let refund_id = c.find("微信退款单号");
    let out_refund = c.find("商户退款单号");
    let refund = c.find("申请退款金额").or_else(|| c.find("退款金额"));
    let mut out = Vec::with_capacity(rows.len());
    for (n, row) in rows.iter().enumerate() {
        let row = fields(row);
        let amount_of = |col: usize, what: &str| {
            fen(get(&row, col))
                .ok_or_else(|| unreadable(BILL, format!("line {}: {what} is not an amount", n + 2)))
        };
        let fee = amount_of(fee, "手续费")?;
        let line = match get(&row, state) {
            "REFUND" => {
                let (Some(id), Some(no), Some(amount)) = (refund_id, out_refund, refund) else {
                    return Err(unreadable(BILL, "a refund line without refund columns"));
                };
                Line {
                    source: Source::Trade,
                    kind: "refund".to_owned(),
                    wechat_id: get(&row, id).to_owned(),
                    out_no: get(&row, no).to_owned(),
                    amount: amount_of(amount, "申请退款金额")?,
                    fee,
                    occurred_at: get(&row, at).to_owned(),
                }
            }
            state => Line {
                source: Source::Trade,
                kind: if state == "REVOKED" {
                    "revoked"
                } else {
                    "payment"
                }
                .to_owned(),
                wechat_id: get(&row, wechat_id).to_owned(),
                out_no: get(&row, out_no).to_owned(),
                amount: amount_of(total, "订单金额")?,
                fee,
                occurred_at: get(&row, at).to_owned(),
            },
        };
        out.push(line);
    }
    let (Some(n), Some(fees)) = (
        summary_columns
            .find("总交易单数")
            .and_then(|i| count(get(&summary, i))),
        summary_columns
            .find("手续费总金额")
            .and_then(|i| fen(get(&summary, i))),
    ) else {
        return Err(unreadable(BILL, "its summary cannot be read"));
    };
    if n != out.len() as i64 || fees != out.iter().map(|l| l.fee).sum::<i64>() {
        return Err(unreadable(
            BILL,
            format!(
                "its summary says {n} lines and {fees} fen of fees, but it has {} lines and {} fen",
                out.len(),
                out.iter().map(|l| l.fee).sum::<i64>()
            ),
        ));
    }
    Ok(out)
}

/// The fund-flow bill of the basic account: every movement of money.
pub fn fund(text: &str) -> Result<Vec<Line>, Unreadable> {
    const BILL: &str = "fund-flow";
    let Sections {
        header,
        rows,
        summary_columns,
        summary,
    } = sections(BILL, text, "资金流水总笔数")?;
    let c = Columns::new(header);
    let (at, wechat_id, kind, direction, amount, voucher) = (
        c.need(BILL, "记账时间")?,
        c.need(BILL, "微信支付业务单号")?,
        c.need(BILL, "业务类型")?,
        c.need(BILL, "收支类型")?,
        c.need(BILL, "收支金额")?,
        c.need(BILL, "业务凭证号")?,
    );
    let mut out = Vec::with_capacity(rows.len());
    for (n, row) in rows.iter().enumerate() {
        let row = fields(row);
        let value = fen(get(&row, amount)).ok_or_else(|| {
            unreadable(BILL, format!("line {}: 收支金额 is not an amount", n + 2))
        })?;
        let value = match get(&row, direction) {
            "收入" => value,
            "支出" => -value,
            other => {
                return Err(unreadable(
                    BILL,
                    format!(
                        "line {}: 收支类型 {other:?} is neither 收入 nor 支出",
                        n + 2
                    ),
                ));
            }
        };
        out.push(Line {
            source: Source::Fund,
            kind: get(&row, kind).to_owned(),
            wechat_id: get(&row, wechat_id).to_owned(),
            out_no: get(&row, voucher).to_owned(),
            amount: value,
            fee: 0,
            occurred_at: get(&row, at).to_owned(),
        });
    }
    let n = summary_columns
        .find("资金流水总笔数")
        .and_then(|i| count(get(&summary, i)))
        .ok_or_else(|| unreadable(BILL, "its summary cannot be read"))?;
    if n != out.len() as i64 {
        return Err(unreadable(
            BILL,
            format!("its summary says {n} lines, but it has {}", out.len()),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRADE: &str = "\u{feff}交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\r
`2026-03-01 10:15:22,`wx1,`1900000001,`0,`,`4200002345,`20260301000000000001,`o-1,`JSAPI,`SUCCESS,`OTHERS,`CNY,`100.00,`0.00,`0,`0,`0.00,`0.00,`,`,`海带,`,`0.60000,`0.60%,`100.00,`0.00,`\r
`2026-03-01 16:40:05,`wx1,`1900000001,`0,`,`4200002345,`20260301000000000001,`o-1,`JSAPI,`REFUND,`OTHERS,`CNY,`0.00,`0.00,`5030310856,`0196f0a0-0000-7000-8000-000000000001,`100.00,`0.00,`ORIGINAL,`SUCCESS,`海带,`,`-0.60000,`0.60%,`0.00,`100.00,`\r
总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r
`2,`100.00,`100.00,`0.00,`0.00000,`100.00,`100.00\r
";

    #[test]
    fn amounts_are_read_exactly_in_fen_and_a_fee_only_with_trailing_zeros() {
        assert_eq!(fen("100.00"), Some(10_000));
        assert_eq!(fen("0.6"), Some(60));
        assert_eq!(fen("-0.60000"), Some(-60));
        assert_eq!(fen("7"), Some(700));
        assert_eq!(fen("0.036"), None);
        assert_eq!(fen("1,000.00"), None);
        assert_eq!(fen(""), None);
        assert_eq!(fen("-"), None);
        assert_eq!(fen("99999999999999999999.00"), None);
    }

    #[test]
    fn a_trade_bill_gives_each_payment_and_refund_with_its_fee() {
        let lines = trade(TRADE).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            (
                lines[0].kind.as_str(),
                lines[0].out_no.as_str(),
                lines[0].amount,
                lines[0].fee
            ),
            ("payment", "20260301000000000001", 10_000, 60)
        );
        assert_eq!(
            (
                lines[1].kind.as_str(),
                lines[1].wechat_id.as_str(),
                lines[1].amount,
                lines[1].fee
            ),
            ("refund", "5030310856", 10_000, -60)
        );
        assert_eq!(lines[1].out_no, "0196f0a0-0000-7000-8000-000000000001");
    }

    #[test]
    fn a_bill_whose_summary_disagrees_with_its_lines_is_refused() {
        let short = TRADE.replace("`2,`100.00", "`3,`100.00");
        assert!(trade(&short).is_err());
        assert!(trade("交易时间,商户订单号\n").is_err());
        assert!(trade("").is_err());
    }

    #[test]
    fn a_fund_flow_bill_signs_each_movement_by_its_direction() {
        let text = "记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额（元）,账户结余（元）,资金变更提交申请人,备注,业务凭证号
`2026-03-01 10:15:22,`4200002345,`1900000001202603011,`交易,`交易,`收入,`100.00,`100.00,`system,`,`20260301000000000001
`2026-03-01 10:15:22,`4200002345,`1900000001202603012,`交易,`扣除交易手续费,`支出,`0.60,`99.40,`system,`,`20260301000000000001
资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额
`2.0,`1.0,`100.00,`1.0,`0.60
";
        let lines = fund(text).unwrap();
        assert_eq!(
            lines
                .iter()
                .map(|l| (l.kind.as_str(), l.amount))
                .collect::<Vec<_>>(),
            [("交易", 10_000), ("扣除交易手续费", -60)]
        );
    }
}
