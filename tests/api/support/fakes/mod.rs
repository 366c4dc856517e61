//! Stand-ins for the services anjia calls out to.

pub mod wechat;
pub mod wechat_pay;
