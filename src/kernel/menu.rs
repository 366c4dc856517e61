//! The service account's custom menu (自定义菜单) as the settings hold it:
//! buttons checked against WeChat's rules when the settings are read, so a
//! menu that WeChat would refuse never starts the server.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The whole menu: at most 3 buttons, each valid (see [`validate`]).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(try_from = "Vec<MenuButton>", into = "Vec<MenuButton>")]
pub struct Menu(Vec<MenuButton>);

impl Menu {
    pub fn buttons(&self) -> &[MenuButton] {
        &self.0
    }
}

impl TryFrom<Vec<MenuButton>> for Menu {
    type Error = String;
    fn try_from(buttons: Vec<MenuButton>) -> Result<Self, String> {
        validate(&buttons)?;
        Ok(Self(buttons))
    }
}

impl From<Menu> for Vec<MenuButton> {
    fn from(menu: Menu) -> Self {
        menu.0
    }
}

/// One button. Top-level buttons either act (`type` set) or hold
/// `sub_button`s.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MenuButton {
    pub name: String,
    /// `click`, `view`, `miniprogram`, `scancode_push`, … (WeChat's button types).
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// CLICK and scan buttons: the key the callback receives.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key: String,
    /// VIEW buttons (and the fallback page of mini-program buttons).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
    /// Mini-program buttons: the mini-program's app id and page.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub appid: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pagepath: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sub_button: Vec<MenuButton>,
}

const KEYED: &[&str] = &[
    "click",
    "scancode_push",
    "scancode_waitmsg",
    "pic_sysphoto",
    "pic_photo_or_album",
    "pic_weixin",
    "location_select",
];

/// Checks WeChat's rules before anything is sent: at most 3 buttons of at
/// most 16 bytes, at most 5 sub-buttons of at most 60 bytes, and each button
/// has what its type needs.
pub fn validate(menu: &[MenuButton]) -> Result<(), String> {
    if menu.len() > 3 {
        return Err(format!("at most 3 buttons, not {}", menu.len()));
    }
    for top in menu {
        check(top, 16)?;
        if top.sub_button.len() > 5 {
            return Err(format!("{:?}: at most 5 sub-buttons", top.name));
        }
        if top.sub_button.is_empty() && top.kind.is_empty() {
            return Err(format!("{:?}: needs a type or sub-buttons", top.name));
        }
        if !top.sub_button.is_empty() && !top.kind.is_empty() {
            return Err(format!(
                "{:?}: a button with sub-buttons has no type",
                top.name
            ));
        }
        for sub in &top.sub_button {
            check(sub, 60)?;
            if sub.kind.is_empty() || !sub.sub_button.is_empty() {
                return Err(format!(
                    "{:?}: sub-buttons need a type and no sub-buttons",
                    sub.name
                ));
            }
        }
    }
    Ok(())
}

fn check(b: &MenuButton, max_name_bytes: usize) -> Result<(), String> {
    if b.name.trim().is_empty() || b.name.len() > max_name_bytes {
        return Err(format!(
            "{:?}: a name of 1 to {max_name_bytes} bytes",
            b.name
        ));
    }
    let needs = |field: &str, value: &str| {
        if value.trim().is_empty() {
            Err(format!("{:?}: a {} button needs `{field}`", b.name, b.kind))
        } else {
            Ok(())
        }
    };
    match b.kind.as_str() {
        "" => Ok(()),
        "view" => needs("url", &b.url),
        "miniprogram" => {
            needs("url", &b.url)?;
            needs("appid", &b.appid)?;
            needs("pagepath", &b.pagepath)
        }
        k if KEYED.contains(&k) => {
            if b.key.len() > 128 {
                return Err(format!("{:?}: key longer than 128 bytes", b.name));
            }
            needs("key", &b.key)
        }
        other => Err(format!("{:?}: unknown button type {other:?}", b.name)),
    }
}

/// The body of `cgi-bin/menu/create`.
pub fn body(menu: &[MenuButton]) -> Value {
    json!({ "button": menu })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn click(name: &str, key: &str) -> MenuButton {
        MenuButton {
            name: name.into(),
            kind: "click".into(),
            key: key.into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_default_shape_passes_and_serialises_as_wechat_expects() {
        let menu = vec![
            click("团购", "group_buys"),
            MenuButton {
                name: "我的".into(),
                sub_button: vec![click("我的订单", "my_orders")],
                ..Default::default()
            },
        ];
        validate(&menu).unwrap();
        assert_eq!(
            body(&menu),
            json!({"button": [
                {"name": "团购", "type": "click", "key": "group_buys"},
                {"name": "我的", "sub_button": [{"name": "我的订单", "type": "click", "key": "my_orders"}]}
            ]})
        );
    }

    #[test]
    fn rule_breaking_menus_are_refused() {
        let four = vec![
            click("a", "a"),
            click("b", "b"),
            click("c", "c"),
            click("d", "d"),
        ];
        assert!(validate(&four).is_err());
        assert!(
            validate(&[click("一二三四五六", "k")]).is_err(),
            "18 bytes is over 16"
        );
        assert!(validate(&[click("ok", "")]).is_err());
        let view = MenuButton {
            name: "v".into(),
            kind: "view".into(),
            ..Default::default()
        };
        assert!(validate(&[view]).is_err());
    }
}
