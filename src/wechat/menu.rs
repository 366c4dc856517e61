//! The service account's custom menu (自定义菜单), defined in configuration
//! and pushed to WeChat with `anjia wechat menu sync` or the operator endpoint.

use reqwest::Method;

use super::client::{App, WechatClient};
use super::error::WechatError;
use super::views::MenuSynced;
use crate::kernel::menu::{Menu, body};

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
