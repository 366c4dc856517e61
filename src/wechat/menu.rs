//! The service account's custom menu (自定义菜单), defined in configuration
//! and pushed to WeChat with `anjia wechat menu sync` or the operator endpoint.

use actix_web::web;
use reqwest::Method;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::client::{App, WechatClient};
use super::error::WechatError;
use crate::kernel::error::{ApiResult, ErrorBody};
use crate::kernel::menu::{Menu, body};
use crate::state::AppState;

/// What a sync did.
#[derive(Debug, Serialize, ToSchema)]
pub struct MenuSynced {
    /// In sandbox mode nothing was sent; `menu` is what would have been.
    pub sandbox: bool,
    #[schema(value_type = Object)]
    pub menu: Value,
}

/// Pushes the configured menu to WeChat (`cgi-bin/menu/create`).
pub async fn sync(
    client: &WechatClient,
    db: &sea_orm::DatabaseConnection,
    menu: &Menu,
) -> Result<MenuSynced, WechatError> {
    let menu = body(menu.buttons());
    if client.sandbox(App::Service) {
        return Ok(MenuSynced {
            sandbox: true,
            menu,
        });
    }
    client
        .call(
            db,
            App::Service,
            Method::POST,
            "/cgi-bin/menu/create",
            &[],
            Some(&menu),
        )
        .await?;
    Ok(MenuSynced {
        sandbox: false,
        menu,
    })
}

/// Pushes `[[wechat.menu]]` from the configuration to the service account.
#[utoipa::path(post, path = "/api/v1/wechat/menu/sync", tag = "wechat",
    responses((status = 200, body = MenuSynced),
        (status = 502, description = "`wechat_unavailable`: WeChat refused the menu", body = ErrorBody)))]
pub async fn sync_route(state: web::Data<AppState>) -> ApiResult<web::Json<MenuSynced>> {
    Ok(web::Json(
        sync(&state.wechat, &state.db, &state.settings.wechat.menu).await?,
    ))
}
