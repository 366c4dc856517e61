//! Typed service-account messages and events, read from a callback's fields.
//! Anything unknown is kept as `Other` so it can be acknowledged, not failed.

use super::xml::Fields;

/// One callback: who sent it, when, and what.
#[derive(Debug, Clone, PartialEq)]
pub struct Inbound {
    /// The account's original id (`gh_…`).
    pub to: String,
    /// The sender's openid.
    pub from: String,
    pub create_time: i64,
    pub body: Body,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Text {
        msg_id: String,
        content: String,
    },
    Image {
        msg_id: String,
        pic_url: String,
        media_id: String,
    },
    Voice {
        msg_id: String,
        media_id: String,
        format: String,
        recognition: Option<String>,
    },
    Video {
        msg_id: String,
        media_id: String,
        thumb_media_id: String,
        short: bool,
    },
    Location {
        msg_id: String,
        latitude: f64,
        longitude: f64,
        scale: i64,
        label: String,
    },
    Link {
        msg_id: String,
        title: String,
        description: String,
        url: String,
    },
    Event(Event),
    /// A message type anjia does not know (acknowledged).
    Other {
        msg_type: String,
        msg_id: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Followed the account; `scene` is set when it came from a parametric QR code.
    Subscribe {
        scene: Option<String>,
    },
    Unsubscribe,
    /// A follower scanned a parametric QR code.
    Scan {
        scene: String,
    },
    /// A menu CLICK button.
    Click {
        key: String,
    },
    /// A menu VIEW button (the browser is already on its way).
    View {
        url: String,
    },
    /// Reported location (when the follower allowed it).
    Location {
        latitude: f64,
        longitude: f64,
        precision: f64,
    },
    /// The outcome of a template message anjia sent.
    TemplateSendJobFinish {
        msg_id: String,
        status: String,
    },
    /// Subscribe-message consent or delivery results.
    SubscribeMessage {
        event: String,
    },
    Other {
        event: String,
    },
}

impl Inbound {
    pub fn from_fields(f: &Fields) -> Result<Self, &'static str> {
        let from = f.text("FromUserName");
        if from.is_empty() {
            return Err("FromUserName is missing");
        }
        let msg_type = f.text("MsgType").to_ascii_lowercase();
        if msg_type.is_empty() {
            return Err("MsgType is missing");
        }
        let msg_id = f.text("MsgId");
        let body = match msg_type.as_str() {
            "text" => Body::Text {
                msg_id,
                content: f.get("Content").unwrap_or_default().to_owned(),
            },
            "image" => Body::Image {
                msg_id,
                pic_url: f.text("PicUrl"),
                media_id: f.text("MediaId"),
            },
            "voice" => Body::Voice {
                msg_id,
                media_id: f.text("MediaId"),
                format: f.text("Format"),
                recognition: f
                    .get("Recognition")
                    .map(|r| r.trim().to_owned())
                    .filter(|r| !r.is_empty()),
            },
            "video" | "shortvideo" => Body::Video {
                msg_id,
                media_id: f.text("MediaId"),
                thumb_media_id: f.text("ThumbMediaId"),
                short: msg_type == "shortvideo",
            },
            "location" => Body::Location {
                msg_id,
                latitude: number(f, "Location_X"),
                longitude: number(f, "Location_Y"),
                scale: f.text("Scale").parse().unwrap_or(0),
                label: f.text("Label"),
            },
            "link" => Body::Link {
                msg_id,
                title: f.text("Title"),
                description: f.text("Description"),
                url: f.text("Url"),
            },
            "event" => Body::Event(event(f)),
            _ => Body::Other {
                msg_type,
                msg_id: Some(msg_id).filter(|m| !m.is_empty()),
            },
        };
        Ok(Self {
            to: f.text("ToUserName"),
            from,
            create_time: f.text("CreateTime").parse().unwrap_or(0),
            body,
        })
    }

    /// Whether handling it changes anything (so a retry must not run it again
    /// even before the first run has answered).
    pub fn has_side_effects(&self) -> bool {
        matches!(
            self.body,
            Body::Event(Event::Subscribe { .. } | Event::Unsubscribe)
        )
    }

    /// The key WeChat's retries of this callback share: the MsgId for
    /// messages; sender, time and event for events (which have no MsgId).
    pub fn dedupe_key(&self) -> String {
        let msg_id = match &self.body {
            Body::Text { msg_id, .. }
            | Body::Image { msg_id, .. }
            | Body::Voice { msg_id, .. }
            | Body::Video { msg_id, .. }
            | Body::Location { msg_id, .. }
            | Body::Link { msg_id, .. } => Some(msg_id.as_str()),
            Body::Other { msg_id, .. } => msg_id.as_deref(),
            Body::Event(_) => None,
        };
        match msg_id.filter(|m| !m.is_empty()) {
            Some(id) => format!("msg:{id}"),
            None => {
                let detail = match &self.body {
                    Body::Event(e) => e.name_and_key(),
                    Body::Other { msg_type, .. } => msg_type.clone(),
                    _ => String::new(),
                };
                format!("evt:{}:{}:{detail}", self.from, self.create_time)
            }
        }
    }
}

impl Event {
    fn name_and_key(&self) -> String {
        match self {
            Event::Subscribe { scene } => format!("subscribe:{}", scene.as_deref().unwrap_or("")),
            Event::Unsubscribe => "unsubscribe".into(),
            Event::Scan { scene } => format!("scan:{scene}"),
            Event::Click { key } => format!("click:{key}"),
            Event::View { url } => format!("view:{url}"),
            Event::Location { .. } => "location".into(),
            Event::TemplateSendJobFinish { msg_id, .. } => format!("template:{msg_id}"),
            Event::SubscribeMessage { event } | Event::Other { event } => event.clone(),
        }
    }
}

fn number(f: &Fields, name: &str) -> f64 {
    f.text(name).parse().unwrap_or(0.0)
}

fn event(f: &Fields) -> Event {
    let name = f.text("Event");
    let key = f.text("EventKey");
    match name.to_ascii_lowercase().as_str() {
        "subscribe" => Event::Subscribe {
            scene: key
                .strip_prefix("qrscene_")
                .map(str::to_owned)
                .filter(|s| !s.is_empty()),
        },
        "unsubscribe" => Event::Unsubscribe,
        "scan" => Event::Scan { scene: key },
        "click" => Event::Click { key },
        "view" => Event::View { url: key },
        "location" => Event::Location {
            latitude: number(f, "Latitude"),
            longitude: number(f, "Longitude"),
            precision: number(f, "Precision"),
        },
        "templatesendjobfinish" => Event::TemplateSendJobFinish {
            msg_id: f.text("MsgID"),
            status: f.text("Status"),
        },
        "subscribe_msg_popup_event" | "subscribe_msg_change_event" | "subscribe_msg_sent_event" => {
            Event::SubscribeMessage { event: name }
        }
        _ => Event::Other { event: name },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wechat::xml::parse;

    fn inbound(xml: &str) -> Inbound {
        Inbound::from_fields(&parse(xml.as_bytes()).unwrap()).unwrap()
    }

    #[test]
    fn a_subscribe_from_a_qr_code_carries_its_scene() {
        let m = inbound(
            "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o1]]></FromUserName>\
             <CreateTime>123</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event>\
             <EventKey><![CDATA[qrscene_inv:abc]]></EventKey><Ticket><![CDATA[T]]></Ticket></xml>",
        );
        assert_eq!(
            m.body,
            Body::Event(Event::Subscribe {
                scene: Some("inv:abc".into())
            })
        );
        assert_eq!(m.dedupe_key(), "evt:o1:123:subscribe:inv:abc");
    }

    #[test]
    fn messages_deduplicate_by_msg_id_and_unknown_types_survive() {
        let m = inbound(
            "<xml><FromUserName>o1</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType>\
             <Content>帮助</Content><MsgId>42</MsgId></xml>",
        );
        assert_eq!(m.dedupe_key(), "msg:42");
        let other =
            inbound("<xml><FromUserName>o1</FromUserName><MsgType>miniprogrampage</MsgType></xml>");
        assert!(matches!(other.body, Body::Other { .. }));
    }
}
