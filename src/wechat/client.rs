//! Calls to WeChat's API (`wechat.api_base`). WeChat reports most errors as
//! HTTP 200 with an `errcode`: every answer is checked and a non-zero code is
//! an error. A call refused for its access token (40001, 42001, 40014)
//! revokes that token, refreshes it once (one holder across all instances)
//! and retries once: never a storm.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use sea_orm::DatabaseConnection;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use super::error::WechatError;
use super::token;
use crate::config::Settings;

/// Which of the company's WeChat apps a call is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum App {
    /// The service account (服务号).
    Service,
    /// The mini-program (小程序).
    Mini,
}

#[derive(Clone, Debug)]
pub struct WechatClient {
    http: reqwest::Client,
    settings: Arc<Settings>,
}

impl WechatClient {
    pub fn new(settings: Arc<Settings>) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(10))
            .user_agent(concat!("anjia/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { http, settings })
    }

    pub fn app_id(&self, app: App) -> &str {
        match app {
            App::Service => &self.settings.wechat.app_id,
            App::Mini => &self.settings.miniprogram.app_id,
        }
    }

    pub fn sandbox(&self, app: App) -> bool {
        match app {
            App::Service => self.settings.wechat.sandbox(),
            App::Mini => self.settings.miniprogram.sandbox(),
        }
    }

    fn secret(&self, app: App) -> &str {
        match app {
            App::Service => self.settings.wechat.app_secret.expose_secret(),
            App::Mini => self.settings.miniprogram.app_secret.expose_secret(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}{path}",
            self.settings.wechat.api_base.trim_end_matches('/')
        )
    }

    /// Sends one request and reads a JSON answer, turning `errcode` into errors.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Result<Value, WechatError> {
        let response = request
            .send()
            .await
            .map_err(|e| WechatError::Transport(e.without_url().to_string()))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| WechatError::Transport(e.without_url().to_string()))?;
        if !status.is_success() {
            return Err(WechatError::Transport(format!("HTTP {status}")));
        }
        let value: Value =
            serde_json::from_slice(&bytes).map_err(|e| WechatError::Decode(e.to_string()))?;
        match value.get("errcode").and_then(Value::as_i64) {
            Some(0) | None => Ok(value),
            Some(errcode) => Err(WechatError::Api {
                errcode,
                errmsg: value
                    .get("errmsg")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            }),
        }
    }

    /// `GET` without an access token (OAuth, code2session), with app id and
    /// secret added.
    pub async fn get_with_secret(
        &self,
        app: App,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Value, WechatError> {
        if self.sandbox(app) {
            return Err(WechatError::Sandbox);
        }
        let mut q: Vec<(&str, &str)> =
            vec![("appid", self.app_id(app)), ("secret", self.secret(app))];
        q.extend_from_slice(query);
        self.send(self.http.get(self.url(path)).query(&q)).await
    }

    /// `GET` with a bearer-less token in the query (e.g. sns/userinfo).
    pub async fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<Value, WechatError> {
        self.send(self.http.get(self.url(path)).query(query)).await
    }

    fn token_name(&self, app: App) -> String {
        format!("access_token:{}", self.app_id(app))
    }

    /// The app's shared access token.
    pub async fn access_token(
        &self,
        db: &DatabaseConnection,
        app: App,
    ) -> Result<String, WechatError> {
        if self.sandbox(app) {
            return Err(WechatError::Sandbox);
        }
        let margin = Duration::from_secs(self.settings.wechat.token_refresh_margin_secs);
        token::get(db, &self.token_name(app), margin, |force| {
            self.stable_token(app, force)
        })
        .await
    }

    /// `POST /cgi-bin/stable_token`: the token that does not invalidate the
    /// previous one (unless `force_refresh`, used only after WeChat refused it).
    async fn stable_token(
        &self,
        app: App,
        force_refresh: bool,
    ) -> Result<(String, i64), WechatError> {
        let body = json!({
            "grant_type": "client_credential",
            "appid": self.app_id(app),
            "secret": self.secret(app),
            "force_refresh": force_refresh,
        });
        let answer = self
            .send(
                self.http
                    .post(self.url("/cgi-bin/stable_token"))
                    .json(&body),
            )
            .await?;
        let token = answer
            .get("access_token")
            .and_then(Value::as_str)
            .ok_or_else(|| WechatError::Decode("no access_token".into()))?;
        let expires_in = answer
            .get("expires_in")
            .and_then(Value::as_i64)
            .unwrap_or(7200);
        Ok((token.to_owned(), expires_in))
    }

    /// Calls an API that takes `access_token`, with one refresh-and-retry when
    /// the token is refused.
    pub async fn call(
        &self,
        db: &DatabaseConnection,
        app: App,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Value, WechatError> {
        let build = |token: &str| {
            let mut q: Vec<(&str, &str)> = vec![("access_token", token)];
            q.extend_from_slice(query);
            let mut request = self.http.request(method.clone(), self.url(path)).query(&q);
            if let Some(body) = body {
                request = request.json(body);
            }
            request
        };
        let token = self.access_token(db, app).await?;
        match self.send(build(&token)).await {
            Err(e) if e.is_token_error() => {
                tracing::warn!(error = %e, "WeChat refused the access token; refreshing once");
                let invalid = matches!(e.errcode(), Some(40001 | 40014));
                token::revoke(db, &self.token_name(app), &token, invalid).await?;
                let token = self.access_token(db, app).await?;
                self.send(build(&token)).await
            }
            other => other,
        }
    }

    /// The service account's JS-SDK ticket (shared like the access token).
    pub async fn jsapi_ticket(&self, db: &DatabaseConnection) -> Result<String, WechatError> {
        if self.sandbox(App::Service) {
            return Err(WechatError::Sandbox);
        }
        let margin = Duration::from_secs(self.settings.wechat.token_refresh_margin_secs);
        let name = format!("jsapi_ticket:{}", self.settings.wechat.app_id);
        token::get(db, &name, margin, |_force| async move {
            let answer = self
                .call(
                    db,
                    App::Service,
                    Method::GET,
                    "/cgi-bin/ticket/getticket",
                    &[("type", "jsapi")],
                    None,
                )
                .await?;
            let ticket = answer
                .get("ticket")
                .and_then(Value::as_str)
                .ok_or_else(|| WechatError::Decode("no ticket".into()))?;
            let expires_in = answer
                .get("expires_in")
                .and_then(Value::as_i64)
                .unwrap_or(7200);
            Ok((ticket.to_owned(), expires_in))
        })
        .await
    }
}
