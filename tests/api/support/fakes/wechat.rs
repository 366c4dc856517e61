//! WeChat's side of the official account and the mini-program: the test
//! app's identifiers and secrets, and an app configured with them. (The
//! fake WeChat API itself is the app's `fake_wechat` server; each test
//! mounts the answers it needs.)

use crate::support::{TestApp, spawn_app_with};

// Public test values, not real credentials.
pub const APP_ID: &str = "wxtest0000000001";
pub const MP_APP_ID: &str = "wxtestmini000001";
pub const TOKEN: &str = "test-callback-token";
pub const AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

/// Configures the official account and the mini-program with the test values.
pub fn configure(s: &mut anjia::config::Settings) {
    s.wechat.app_id = APP_ID.into();
    s.wechat.app_secret = "test-app-secret".to_owned().into();
    s.wechat.token = TOKEN.to_owned().into();
    s.wechat.oauth_redirect_allowlist =
        vec![anjia::kernel::redirect::AllowEntry::parse("https://h5.example.com/app/").unwrap()];
    s.miniprogram.app_id = MP_APP_ID.into();
    s.miniprogram.app_secret = "test-mini-secret".to_owned().into();
}

/// Plaintext mode (no EncodingAESKey).
pub async fn wechat_app() -> TestApp {
    spawn_app_with(configure).await
}
