//! Local times as the settings spell them: a time of day (`"18:00"`) and an
//! IANA time zone (`"Asia/Shanghai"`). Each is checked when the settings are
//! read and keeps the text it was written as, so the settings show (and
//! serialise) as they were given.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveTime;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// A time of day written `HH:MM`.
#[derive(Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeOfDay {
    written: String,
    time: NaiveTime,
}

impl TimeOfDay {
    pub fn time(&self) -> NaiveTime {
        self.time
    }
}

impl TryFrom<String> for TimeOfDay {
    type Error = String;
    fn try_from(written: String) -> Result<Self, String> {
        let time = NaiveTime::parse_from_str(written.trim(), "%H:%M")
            .map_err(|_| format!("{written:?} is not a time such as \"18:00\""))?;
        Ok(Self { written, time })
    }
}

impl FromStr for TimeOfDay {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::try_from(s.to_owned())
    }
}

impl From<TimeOfDay> for String {
    fn from(t: TimeOfDay) -> Self {
        t.written
    }
}

impl fmt::Debug for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.written, f)
    }
}

/// An IANA time zone such as `Asia/Shanghai`.
#[derive(Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct Zone {
    written: String,
    zone: Tz,
}

impl Zone {
    pub fn tz(&self) -> Tz {
        self.zone
    }
}

impl TryFrom<String> for Zone {
    type Error = String;
    fn try_from(written: String) -> Result<Self, String> {
        let zone = written
            .parse::<Tz>()
            .map_err(|_| format!("{written:?} is not an IANA zone such as \"Asia/Shanghai\""))?;
        Ok(Self { written, zone })
    }
}

impl FromStr for Zone {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::try_from(s.to_owned())
    }
}

impl From<Zone> for String {
    fn from(z: Zone) -> Self {
        z.written
    }
}

impl fmt::Debug for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.written, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_zones_keep_their_text_and_refuse_what_is_not_one() {
        let cutoff: TimeOfDay = "18:00".parse().unwrap();
        assert_eq!(cutoff.time(), NaiveTime::from_hms_opt(18, 0, 0).unwrap());
        assert_eq!(String::from(cutoff), "18:00");
        assert!("25:00".parse::<TimeOfDay>().is_err());
        let zone: Zone = "Asia/Shanghai".parse().unwrap();
        assert_eq!(zone.tz(), chrono_tz::Asia::Shanghai);
        assert!("Mars/Olympus".parse::<Zone>().is_err());
    }
}
