//! An entry of `wechat.oauth_redirect_allowlist`: the pages that OAuth and
//! the H5 links may send a resident to. Parsed when the settings are read.

use reqwest::Url;
use serde::{Deserialize, Serialize};

/// One allowlist entry: scheme, host, port and a path prefix.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct AllowEntry {
    /// As configured, for `config check`.
    raw: String,
    scheme: String,
    host: String,
    port: Option<u16>,
    path: String,
}

impl AllowEntry {
    pub fn parse(entry: &str) -> Option<Self> {
        let url = Url::parse(entry.trim()).ok()?;
        if !matches!(url.scheme(), "https" | "http") || !url.username().is_empty() {
            return None;
        }
        Some(Self {
            raw: entry.trim().to_owned(),
            scheme: url.scheme().to_owned(),
            host: url.host_str()?.to_ascii_lowercase(),
            port: url.port_or_known_default(),
            path: url.path().to_owned(),
        })
    }

    /// Whether `url` is under this entry: same scheme, host and port, and a
    /// path at or below its prefix.
    pub fn allows(&self, url: &Url) -> bool {
        let path_ok = if self.path.ends_with('/') {
            url.path().starts_with(&self.path)
        } else {
            url.path() == self.path || url.path().starts_with(&format!("{}/", self.path))
        };
        url.scheme() == self.scheme
            && url
                .host_str()
                .is_some_and(|h| h.eq_ignore_ascii_case(&self.host))
            && url.port_or_known_default() == self.port
            && url.username().is_empty()
            && url.password().is_none()
            && path_ok
    }
}

impl TryFrom<String> for AllowEntry {
    type Error = String;
    fn try_from(entry: String) -> Result<Self, String> {
        Self::parse(&entry).ok_or_else(|| format!("{entry:?} is not an http(s) URL prefix"))
    }
}

impl From<AllowEntry> for String {
    fn from(entry: AllowEntry) -> Self {
        entry.raw
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowlist_entries_compare_parsed_urls_not_strings() {
        let e = AllowEntry::parse("https://h5.example.com/app/").unwrap();
        let ok = |u: &str| e.allows(&Url::parse(u).unwrap());
        assert!(ok("https://h5.example.com/app/orders?x=1"));
        assert!(!ok("https://h5.example.com.evil.cn/app/"));
        assert!(!ok("https://h5.example.com@evil.cn/app/"));
        assert!(!ok("https://evil.cn/?https://h5.example.com/app/"));
        assert!(!ok("http://h5.example.com/app/"));
        assert!(!ok("https://h5.example.com:8443/app/"));
        assert!(!ok("https://h5.example.com/application"));
        assert!(AllowEntry::parse("javascript:alert(1)").is_none());
    }
}
