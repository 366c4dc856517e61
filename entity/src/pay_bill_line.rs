use sea_orm::entity::prelude::*;

/// One line of a day's WeChat Pay bill, as fetched.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pay_bill_lines")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub bill_date: String,
    /// `trade` (交易账单) or `fund` (资金账单).
    #[sea_orm(primary_key, auto_increment = false)]
    pub source: String,
    /// The line's place in its bill.
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i32,
    /// Trade: `payment` or `refund`; fund: the 业务类型 (交易, 退款,
    /// 扣除交易手续费, …).
    pub kind: String,
    /// WeChat Pay's own number: the transaction's, the refund's, the
    /// transfer's (微信订单号, 微信退款单号, 微信支付业务单号).
    pub wechat_id: String,
    /// Ours: the order's or fee payment's trade number, the refund's id
    /// (商户订单号, 商户退款单号); the fund flow's 业务凭证号.
    pub out_no: String,
    /// Fen. A fund-flow line's is negative when money left the account.
    pub amount: i64,
    /// WeChat Pay's fee on a trade line (fen; negative when returned with a
    /// refund).
    pub fee: i64,
    /// As the bill writes it (Beijing time).
    pub occurred_at: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
