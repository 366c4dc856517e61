//! WeChat's XML, both ways. Incoming documents are one flat `<xml>` element
//! whose children hold text or CDATA; they are read with quick-xml into
//! name → text fields. DOCTYPE declarations and entity references other than
//! the five predefined ones are refused (no XXE, no entity expansion), and
//! illegal control characters are dropped rather than failing the message.
//! Replies are written with every text in CDATA.

use quick_xml::Reader;
use quick_xml::events::Event;

/// Most fields a message may have (real ones have fewer than 30).
const MAX_FIELDS: usize = 128;
const MAX_DEPTH: usize = 6;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum XmlError {
    #[error("the body is not UTF-8")]
    NotUtf8,
    #[error("DOCTYPE declarations and entities are not accepted")]
    Doctype,
    #[error("the XML is malformed: {0}")]
    Malformed(String),
    #[error("the XML nests or repeats too much")]
    TooComplex,
}

/// The leaf elements of a document, by name (the first occurrence wins),
/// in document order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self, name: &str) -> String {
        self.get(name).map(str::trim).unwrap_or_default().to_owned()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

fn is_illegal(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}')
}

/// Parses a WeChat document into its fields.
pub fn parse(body: &[u8]) -> Result<Fields, XmlError> {
    let text = std::str::from_utf8(body).map_err(|_| XmlError::NotUtf8)?;
    let cleaned;
    let text = if text.chars().any(is_illegal) {
        cleaned = text.chars().filter(|c| !is_illegal(*c)).collect::<String>();
        cleaned.as_str()
    } else {
        text
    };
    let mut reader = Reader::from_str(text);
    let mut fields = Vec::new();
    // Open elements and the text gathered for the innermost one.
    let mut stack: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut saw_root = false;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| XmlError::Malformed(e.to_string()))?;
        match event {
            Event::DocType(_) => return Err(XmlError::Doctype),
            Event::Start(start) => {
                if stack.is_empty() && saw_root {
                    return Err(XmlError::Malformed("more than one root element".into()));
                }
                saw_root = true;
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::TooComplex);
                }
                let name = start.local_name().as_ref().to_owned();
                stack.push(name);
                current.clear();
            }
            Event::Empty(start) => {
                if stack.is_empty() {
                    return Err(XmlError::Malformed("the root element is empty".into()));
                }
                let name = start.local_name().as_ref().to_owned();
                push_field(&mut fields, name, String::new())?;
            }
            Event::Text(t) => {
                let piece = t.into_inner();
                if stack.is_empty() {
                    if !piece.trim().is_empty() {
                        return Err(XmlError::Malformed("text outside the root element".into()));
                    }
                } else {
                    current.push_str(&piece);
                }
            }
            Event::CData(c) => {
                if stack.is_empty() {
                    return Err(XmlError::Malformed("CDATA outside the root element".into()));
                }
                current.push_str(&c.into_inner());
            }
            Event::GeneralRef(r) => {
                if r.is_char_ref() {
                    match r.resolve_char_ref() {
                        Ok(Some(c)) if !is_illegal(c) => current.push(c),
                        Ok(_) => {}
                        Err(e) => return Err(XmlError::Malformed(e.to_string())),
                    }
                } else {
                    let name = r.into_inner();
                    let c = match name.as_ref() {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        _ => return Err(XmlError::Doctype),
                    };
                    current.push(c);
                }
            }
            Event::End(_) => {
                let Some(name) = stack.pop() else {
                    return Err(XmlError::Malformed("unbalanced end tag".into()));
                };
                // Only leaves carry values; a container's own text is whitespace.
                if stack.is_empty() {
                    current.clear();
                } else {
                    let value = std::mem::take(&mut current);
                    if !fields.iter().any(|(n, _): &(String, String)| *n == name)
                        || !value.trim().is_empty()
                    {
                        push_field(&mut fields, name, value)?;
                    }
                }
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
    }
    if !stack.is_empty() || !saw_root {
        return Err(XmlError::Malformed("the document is incomplete".into()));
    }
    // Containers recorded as empty leaves before their children: keep the
    // first non-empty value per name.
    let mut out: Vec<(String, String)> = Vec::with_capacity(fields.len());
    for (name, value) in fields {
        match out.iter_mut().find(|(n, _)| *n == name) {
            Some(existing) if existing.1.trim().is_empty() => existing.1 = value,
            Some(_) => {}
            None => out.push((name, value)),
        }
    }
    Ok(Fields(out))
}

fn push_field(
    fields: &mut Vec<(String, String)>,
    name: String,
    value: String,
) -> Result<(), XmlError> {
    if fields.len() >= MAX_FIELDS {
        return Err(XmlError::TooComplex);
    }
    fields.push((name, value));
    Ok(())
}

/// `<![CDATA[…]]>` around any text (a `]]>` inside is split across sections).
pub fn cdata(out: &mut String, text: &str) {
    out.push_str("<![CDATA[");
    out.push_str(&text.replace("]]>", "]]]]><![CDATA[>"));
    out.push_str("]]>");
}

/// A passive reply's envelope in safe mode.
pub fn encrypted_envelope(encrypt: &str, signature: &str, timestamp: &str, nonce: &str) -> String {
    let mut out = String::with_capacity(encrypt.len() + 200);
    out.push_str("<xml><Encrypt>");
    cdata(&mut out, encrypt);
    out.push_str("</Encrypt><MsgSignature>");
    cdata(&mut out, signature);
    out.push_str("</MsgSignature><TimeStamp>");
    out.push_str(timestamp);
    out.push_str("</TimeStamp><Nonce>");
    cdata(&mut out, nonce);
    out.push_str("</Nonce></xml>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdata_and_plain_nodes_are_both_read() {
        let f = parse(
            b"<xml><ToUserName><![CDATA[gh_1]]></ToUserName><CreateTime>1348831860</CreateTime>\
              <Content>a &amp; b &#x56de;</Content></xml>",
        )
        .unwrap();
        assert_eq!(f.get("ToUserName"), Some("gh_1"));
        assert_eq!(f.get("CreateTime"), Some("1348831860"));
        assert_eq!(f.get("Content"), Some("a & b 回"));
    }

    #[test]
    fn nested_fields_are_flattened_to_their_leaves() {
        let f = parse(
            b"<xml><Event><![CDATA[scancode_push]]></Event><ScanCodeInfo><ScanType><![CDATA[qrcode]]></ScanType>\
              <ScanResult><![CDATA[1]]></ScanResult></ScanCodeInfo></xml>",
        )
        .unwrap();
        assert_eq!(f.get("ScanType"), Some("qrcode"));
        assert_eq!(f.get("ScanResult"), Some("1"));
    }

    #[test]
    fn doctype_and_custom_entities_are_refused() {
        let xxe =
            b"<?xml version=\"1.0\"?><!DOCTYPE xml [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\
                    <xml><Content>&x;</Content></xml>";
        assert_eq!(parse(xxe), Err(XmlError::Doctype));
        assert_eq!(
            parse(b"<xml><Content>&x;</Content></xml>"),
            Err(XmlError::Doctype)
        );
    }

    #[test]
    fn control_characters_are_dropped_not_fatal() {
        let f = parse("<xml><Content><![CDATA[hi\u{1}\u{8}there]]></Content></xml>".as_bytes())
            .unwrap();
        assert_eq!(f.get("Content"), Some("hithere"));
    }

    #[test]
    fn malformed_documents_are_errors() {
        for bad in [
            &b"<xml><Content>hi</xml>"[..],
            b"<xml><Content>hi</Content>",
            b"",
            b"just text",
            b"<a/><b/>",
            b"<xml></xml><xml></xml>",
        ] {
            assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(parse(&[0xff, 0xfe]), Err(XmlError::NotUtf8));
        let deep = "<a>".repeat(10) + &"</a>".repeat(10);
        assert_eq!(parse(deep.as_bytes()), Err(XmlError::TooComplex));
    }

    #[test]
    fn cdata_sections_cannot_be_closed_early() {
        let mut out = String::new();
        cdata(&mut out, "a]]>b");
        let doc = format!("<xml><C>{out}</C></xml>");
        assert_eq!(parse(doc.as_bytes()).unwrap().get("C"), Some("a]]>b"));
    }
}
