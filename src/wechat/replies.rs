//! What the service account answers: menu CLICK keys and text keywords map to
//! the same intents; subscribing greets and invites the person to verify
//! their household; a QR scene records who invited them. The keyword table
//! is [`intent_of_text`]; add new services there.

use chrono::Utc;
use entity::{
    PickupPointId, UserId, WechatFollowerId, household_member, pickup_point, user, wechat_follower,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Set,
};

use super::identity;
use super::message::{Body, Event, Inbound};
use super::xml::cdata;
use crate::config::Settings;
use crate::kernel::clock;
use crate::kernel::error::ApiResult;

/// A passive reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Text(String),
    News(Vec<Article>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Article {
    pub title: String,
    pub description: String,
    pub url: String,
    pub pic_url: String,
}

impl Reply {
    /// The reply as XML, addressed back to the sender.
    pub fn to_xml(&self, inbound: &Inbound) -> String {
        let mut out = String::with_capacity(512);
        out.push_str("<xml><ToUserName>");
        cdata(&mut out, &inbound.from);
        out.push_str("</ToUserName><FromUserName>");
        cdata(&mut out, &inbound.to);
        out.push_str("</FromUserName><CreateTime>");
        out.push_str(&Utc::now().timestamp().to_string());
        out.push_str("</CreateTime>");
        match self {
            Reply::Text(text) => {
                out.push_str("<MsgType><![CDATA[text]]></MsgType><Content>");
                cdata(&mut out, text);
                out.push_str("</Content>");
            }
            Reply::News(articles) => {
                out.push_str("<MsgType><![CDATA[news]]></MsgType><ArticleCount>");
                out.push_str(&articles.len().to_string());
                out.push_str("</ArticleCount><Articles>");
                for a in articles {
                    out.push_str("<item><Title>");
                    cdata(&mut out, &a.title);
                    out.push_str("</Title><Description>");
                    cdata(&mut out, &a.description);
                    out.push_str("</Description><PicUrl>");
                    cdata(&mut out, &a.pic_url);
                    out.push_str("</PicUrl><Url>");
                    cdata(&mut out, &a.url);
                    out.push_str("</Url></item>");
                }
                out.push_str("</Articles>");
            }
        }
        out.push_str("</xml>");
        out
    }

    /// The reply as customer-service message text (for late answers).
    pub fn to_text(&self) -> String {
        match self {
            Reply::Text(text) => text.clone(),
            Reply::News(articles) => articles
                .iter()
                .map(|a| format!("{}\n{}", a.title, a.url))
                .collect::<Vec<_>>()
                .join("\n\n"),
        }
    }
}

/// What a person asked for, by menu key or keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    GroupBuys,
    MyOrders,
    PickupCode,
    MutualAid,
    Verify,
    Help,
}

/// Menu CLICK keys (see `[[wechat.menu]]`).
pub fn intent_of_key(key: &str) -> Option<Intent> {
    Some(match key {
        "group_buys" => Intent::GroupBuys,
        "my_orders" => Intent::MyOrders,
        "pickup_code" => Intent::PickupCode,
        "mutual_aid" => Intent::MutualAid,
        "verify" => Intent::Verify,
        "help" => Intent::Help,
        _ => return None,
    })
}

/// Text keywords: the whole message, or a message containing the keyword.
pub fn intent_of_text(text: &str) -> Option<Intent> {
    let t = text.trim().to_lowercase();
    const KEYWORDS: &[(&str, Intent)] = &[
        ("我的订单", Intent::MyOrders),
        ("订单", Intent::MyOrders),
        ("取货码", Intent::PickupCode),
        ("取货", Intent::PickupCode),
        ("团购", Intent::GroupBuys),
        ("互助", Intent::MutualAid),
        ("认证", Intent::Verify),
        ("绑定", Intent::Verify),
        ("帮助", Intent::Help),
        ("help", Intent::Help),
        ("菜单", Intent::Help),
    ];
    if t == "?" || t == "？" {
        return Some(Intent::Help);
    }
    KEYWORDS
        .iter()
        .find(|(k, _)| t.contains(k))
        .map(|(_, i)| *i)
}

/// A link that opens the mini-program page when there is one, else the H5 page.
fn link(settings: &Settings, label: &str, page: &str) -> String {
    let href = format!(
        "{}/{page}",
        settings.wechat.h5_base_url.trim_end_matches('/')
    );
    if settings.miniprogram.sandbox() {
        format!("<a href=\"{href}\">{label}</a>")
    } else {
        format!(
            "<a href=\"{href}\" data-miniprogram-appid=\"{}\" data-miniprogram-path=\"pages/{page}/index\">{label}</a>",
            settings.miniprogram.app_id
        )
    }
}

const HELP: &str = "回复以下关键词：\n「团购」看本小区正在进行的团购\n「我的订单」查看订单\n「取货码」查看待取货订单的取货码\n「互助」邻里互助\n「认证」认证您的房屋";

async fn verified_households<C: ConnectionTrait>(db: &C, user_id: UserId) -> ApiResult<u64> {
    Ok(household_member::Entity::find()
        .filter(household_member::Column::UserId.eq(user_id))
        .filter(household_member::Column::RemovedAt.is_null())
        .count(db)
        .await?)
}

async fn answer<C: ConnectionTrait>(
    db: &C,
    s: &Settings,
    inbound: &Inbound,
    intent: Intent,
) -> ApiResult<Reply> {
    if intent == Intent::Help {
        return Ok(Reply::Text(HELP.to_owned()));
    }
    let user = identity::user_of(db, &s.wechat.app_id, &inbound.from).await?;
    let verified = match user {
        Some(id) => verified_households(db, id).await? > 0,
        None => false,
    };
    let verify_first = format!(
        "请先{}，认证后即可使用。",
        link(s, "认证您的房屋", "verify")
    );
    Ok(Reply::Text(match intent {
        Intent::Help => HELP.to_owned(),
        Intent::Verify if verified => {
            format!("您已认证房屋。{}", link(s, "管理家庭成员", "household"))
        }
        Intent::Verify => format!(
            "认证房屋后可参加本小区团购、预约取货和邻里互助：{}",
            link(s, "去认证", "verify")
        ),
        Intent::GroupBuys if verified => {
            format!("本小区正在进行的团购：{}", link(s, "去看看", "group-buys"))
        }
        Intent::MyOrders if verified => format!("您的订单：{}", link(s, "查看我的订单", "orders")),
        Intent::PickupCode if verified => format!(
            "待取货订单的取货码在这里：{}",
            link(s, "查看取货码", "pickup")
        ),
        Intent::MutualAid if verified => format!(
            "邻里互助：发布求助或帮帮邻居 {}",
            link(s, "进入互助", "mutual-aid")
        ),
        Intent::GroupBuys | Intent::MyOrders | Intent::PickupCode | Intent::MutualAid => {
            verify_first
        }
    }))
}

/// Handles one callback; `None` means nothing to say (`success`).
pub async fn handle<C: ConnectionTrait>(
    db: &C,
    settings: &Settings,
    inbound: &Inbound,
) -> ApiResult<Option<Reply>> {
    match &inbound.body {
        Body::Text { content, .. } => Ok(Some(match intent_of_text(content) {
            Some(intent) => answer(db, settings, inbound, intent).await?,
            None => Reply::Text("收到！回复「帮助」查看可以为您做什么。".to_owned()),
        })),
        Body::Voice {
            recognition: Some(text),
            ..
        } => match intent_of_text(text) {
            Some(intent) => Ok(Some(answer(db, settings, inbound, intent).await?)),
            None => Ok(None),
        },
        Body::Event(Event::Click { key }) => match intent_of_key(key) {
            Some(intent) => Ok(Some(answer(db, settings, inbound, intent).await?)),
            None => {
                tracing::warn!(key, "a menu CLICK key without an answer");
                Ok(None)
            }
        },
        Body::Event(Event::Subscribe { scene }) => {
            subscribed(db, &settings.wechat.app_id, inbound, scene.as_deref()).await?;
            let mut text = format!(
                "欢迎来到安家社区服务！{}后可参加团购、预约取货、邻里互助。\n回复「帮助」查看全部功能。",
                link(settings, "认证您的房屋", "verify")
            );
            if let Some(point) = scene_pickup_point(db, scene.as_deref()).await? {
                text.push_str("\n\n");
                text.push_str(&point);
            }
            Ok(Some(Reply::Text(text)))
        }
        Body::Event(Event::Scan { scene }) => {
            Ok(scene_pickup_point(db, Some(scene)).await?.map(Reply::Text))
        }
        Body::Event(Event::Unsubscribe) => {
            unsubscribed(db, &settings.wechat.app_id, inbound).await?;
            Ok(None)
        }
        Body::Event(Event::TemplateSendJobFinish { msg_id, status }) => {
            if status != "success" {
                tracing::warn!(
                    msg_id,
                    status,
                    "WeChat reports a template message not delivered"
                );
            }
            Ok(None)
        }
        Body::Event(_)
        | Body::Image { .. }
        | Body::Voice { .. }
        | Body::Video { .. }
        | Body::Location { .. }
        | Body::Link { .. }
        | Body::Other { .. } => Ok(None),
    }
}

/// `pp:<pickup point id>`: the pickup point's name, place and hours.
async fn scene_pickup_point<C: ConnectionTrait>(
    db: &C,
    scene: Option<&str>,
) -> ApiResult<Option<String>> {
    let Some(id) = scene
        .and_then(|s| s.strip_prefix("pp:"))
        .and_then(|id| id.parse::<uuid::Uuid>().ok())
    else {
        return Ok(None);
    };
    let Some(point) = pickup_point::Entity::find_by_id(PickupPointId::from_uuid(id))
        .one(db)
        .await?
        .filter(|p| p.active)
    else {
        return Ok(None);
    };
    let hours = point
        .opening_hours
        .0
        .iter()
        .map(|p| {
            let days: Vec<String> = p.weekdays.iter().map(u8::to_string).collect();
            format!("周{} {}-{}", days.join("、"), p.opens, p.closes)
        })
        .collect::<Vec<_>>()
        .join("；");
    Ok(Some(format!(
        "取货点：{}（{}）\n开放时间：{hours}",
        point.name, point.location
    )))
}

/// `inv:<user id>`: the person who invited this follower.
async fn inviter<C: ConnectionTrait>(
    db: &C,
    app_id: &str,
    scene: Option<&str>,
    openid: &str,
) -> ApiResult<Option<UserId>> {
    let Some(id) = scene
        .and_then(|s| s.strip_prefix("inv:"))
        .and_then(|id| id.parse::<uuid::Uuid>().ok())
        .map(UserId::from_uuid)
    else {
        return Ok(None);
    };
    let exists = user::Entity::find_by_id(id).one(db).await?.is_some();
    let own = identity::user_of(db, app_id, openid).await? == Some(id);
    Ok((exists && !own).then_some(id))
}

async fn subscribed<C: ConnectionTrait>(
    db: &C,
    app_id: &str,
    inbound: &Inbound,
    scene: Option<&str>,
) -> ApiResult<()> {
    let now = clock::now();
    let existing = wechat_follower::Entity::find()
        .filter(wechat_follower::Column::AppId.eq(app_id))
        .filter(wechat_follower::Column::Openid.eq(&inbound.from))
        .one(db)
        .await?;
    match existing {
        // A returning follower keeps the scene and inviter of their first visit.
        Some(f) => {
            let mut active: wechat_follower::ActiveModel = f.into();
            active.subscribed = Set(true);
            active.unsubscribed_at = Set(None);
            active.updated_at = Set(now);
            active.update(db).await?;
        }
        None => {
            let invited_by = inviter(db, app_id, scene, &inbound.from).await?;
            let inserted = wechat_follower::ActiveModel {
                id: Set(WechatFollowerId::new()),
                app_id: Set(app_id.to_owned()),
                openid: Set(inbound.from.clone()),
                subscribed: Set(true),
                scene: Set(scene.map(|s| s.chars().take(64).collect())),
                invited_by: Set(invited_by),
                first_subscribed_at: Set(now),
                unsubscribed_at: Set(None),
                updated_at: Set(now),
            }
            .insert(db)
            .await;
            match inserted {
                Ok(_) => {}
                Err(e) if crate::kernel::db::is_unique_violation(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

async fn unsubscribed<C: ConnectionTrait>(
    db: &C,
    app_id: &str,
    inbound: &Inbound,
) -> ApiResult<()> {
    let now = clock::now();
    wechat_follower::Entity::update_many()
        .col_expr(
            wechat_follower::Column::Subscribed,
            sea_orm::sea_query::Expr::value(false),
        )
        .col_expr(
            wechat_follower::Column::UnsubscribedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .col_expr(
            wechat_follower::Column::UpdatedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .filter(wechat_follower::Column::AppId.eq(app_id))
        .filter(wechat_follower::Column::Openid.eq(&inbound.from))
        .exec(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_and_menu_keys_reach_the_same_intents() {
        assert_eq!(intent_of_text("我的订单"), Some(Intent::MyOrders));
        assert_eq!(intent_of_text(" 取货码 "), Some(Intent::PickupCode));
        assert_eq!(intent_of_text("有什么团购吗"), Some(Intent::GroupBuys));
        assert_eq!(intent_of_text("？"), Some(Intent::Help));
        assert_eq!(intent_of_text("你好"), None);
        assert_eq!(intent_of_key("pickup_code"), Some(Intent::PickupCode));
        assert_eq!(intent_of_key("nope"), None);
    }
}
