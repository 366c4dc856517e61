//! What every handler can reach. Cheap to clone; nothing in it is shared
//! mutable state (that lives in the database, so instances can scale out).

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::auth::jwt::TokenIssuer;
use crate::auth::principal::PrincipalCache;
use crate::config::Settings;
use crate::files::storage::Storage;
use crate::pii::PiiCipher;
use crate::wechat::client::WechatClient;
use crate::wechat::dedupe::DedupeStore;

#[derive(Clone, Debug)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: DatabaseConnection,
    pub tokens: Arc<TokenIssuer>,
    pub pii: Arc<PiiCipher>,
    pub principals: PrincipalCache,
    /// Communities the access guard looked up recently (per instance).
    pub communities: crate::community::cache::CommunityCache,
    pub storage: Storage,
    /// Calls to WeChat's API (base URL from the configuration).
    pub wechat: WechatClient,
    /// Callbacks already seen (shared in the database, written in batches).
    pub callbacks_seen: DedupeStore,
    /// How common each search term is (a planning hint, per instance).
    pub search_stats: crate::catalog::search::TermStats,
    /// Search pages answered lately (per instance, `search.result_cache_ms`).
    pub search_results: crate::catalog::search::ResultCache,
    /// WeChat Pay, when `payment.provider = "wechat_pay"`.
    pub wechat_pay: Option<Arc<crate::payment::wechat_pay::WechatPay>>,
}

impl AppState {
    pub fn new(settings: Settings, db: DatabaseConnection) -> anyhow::Result<Self> {
        Ok(Self {
            tokens: Arc::new(TokenIssuer::new(&settings.auth)),
            pii: Arc::new(PiiCipher::from_settings(&settings.pii)?),
            principals: PrincipalCache::new(settings.auth.principal_cache_ttl_ms),
            communities: crate::community::cache::CommunityCache::new(
                settings.auth.principal_cache_ttl_ms,
            ),
            search_stats: Default::default(),
            search_results: crate::catalog::search::ResultCache::new(
                settings.search.result_cache_ms,
                crate::catalog::search::RESULT_CACHE_PAGES,
            ),
            storage: Storage::from_settings(&settings.storage)?,
            wechat_pay: crate::payment::wechat_pay::WechatPay::from_settings(&settings)?,
            wechat: WechatClient::new(Arc::new(settings.clone()))?,
            callbacks_seen: DedupeStore::start(
                db.clone(),
                std::time::Duration::from_secs(settings.wechat.dedupe_ttl_secs),
            )?,
            settings: Arc::new(settings),
            db,
        })
    }
}
