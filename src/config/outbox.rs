//! The outbound messages: the delivery worker (`[outbox]`) and the message
//! kinds it sends (`[messages.*]`).

use serde::{Deserialize, Serialize};

/// The outbound message worker.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxSettings {
    /// Run the delivery worker in this process (any number of instances may).
    pub worker: bool,
    /// How often an idle worker looks for due messages.
    pub poll_interval_ms: u64,
    /// Messages one worker claims at a time.
    pub batch_size: u32,
    /// Messages per second across all instances (WeChat's limits).
    pub rate_per_sec: u32,
    /// Attempts before a transient failure becomes `failed`.
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt up to `backoff_max_secs`.
    pub backoff_base_secs: u64,
    pub backoff_max_secs: u64,
    /// A claimed message is another worker's to retry after this long.
    pub lease_secs: u64,
}

/// One message kind: what it says and which template carries it.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MessageKind {
    /// The text a person reads (`{name}` placeholders take the message's
    /// parameters); also the sandbox and customer-service rendering.
    pub text: String,
    /// Service-account template id (模板消息); empty = not sent that way.
    #[serde(default)]
    pub template_id: String,
    /// Mini-program subscribe-message template id (订阅消息); empty = not sent that way.
    #[serde(default)]
    pub subscribe_template_id: String,
    /// The mini-program page (and H5 path) the message opens.
    #[serde(default)]
    pub page: String,
    /// Template field → value with `{name}` placeholders.
    #[serde(default)]
    pub template_fields: std::collections::BTreeMap<String, String>,
    /// Subscribe-message field → value with `{name}` placeholders.
    #[serde(default)]
    pub subscribe_fields: std::collections::BTreeMap<String, String>,
}
