//! CRM call / key-message exports: the column mapping, one row read into a [`CallRow`], and the
//! events of one call (`call_logged`, and a `slide_viewed` per key message shown).
//!
//! Such exports have one row per key message shown in a call, the rows of a call adjacent; the
//! caller groups them and hands each call's rows to [`call_events`].

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::event::MAX_ID_LEN;
use crate::segment::hex_digest;
use crate::{Channel, Event, FieldError, Timestamp};

/// Which column of the export holds each field. Defaults follow a Veeva CRM
/// `Call2_Key_Message_vod__c` export; an empty name leaves an optional field unread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CallColumns {
    pub call_id: String,
    pub account_id: String,
    /// The call's date, or its date and time.
    pub call_date: String,
    /// Optional: the time of day (`HH:MM[:SS]`) or a full date and time.
    pub call_time: String,
    pub rep_id: String,
    /// Optional: the presentation (the content item) the key message belongs to.
    pub presentation: String,
    pub key_message: String,
    /// Seconds the key message was shown.
    pub duration: String,
    /// Optional: the HCP's reaction as the rep recorded it.
    pub reaction: String,
    /// Optional: the call's channel or type; a value naming remote, video or virtual makes the
    /// call `remote_detail`, anything else `face_to_face`.
    pub channel: String,
}

impl Default for CallColumns {
    fn default() -> Self {
        Self {
            call_id: "Call2_vod__c".into(),
            account_id: "Account_vod__c".into(),
            call_date: "Call_Date_vod__c".into(),
            call_time: "Start_Time_vod__c".into(),
            rep_id: "OwnerId".into(),
            presentation: "Presentation_ID_vod__c".into(),
            key_message: "Key_Message_vod__c".into(),
            duration: "Duration_vod__c".into(),
            reaction: "Reaction_vod__c".into(),
            channel: String::new(),
        }
    }
}

/// The mapping keys, required ones first.
const REQUIRED: [&str; 6] = [
    "call_id",
    "account_id",
    "call_date",
    "rep_id",
    "key_message",
    "duration",
];
const OPTIONAL: [&str; 4] = ["call_time", "presentation", "reaction", "channel"];

impl CallColumns {
    fn slot(&mut self, key: &str) -> Option<&mut String> {
        Some(match key {
            "call_id" => &mut self.call_id,
            "account_id" => &mut self.account_id,
            "call_date" => &mut self.call_date,
            "call_time" => &mut self.call_time,
            "rep_id" => &mut self.rep_id,
            "presentation" => &mut self.presentation,
            "key_message" => &mut self.key_message,
            "duration" => &mut self.duration,
            "reaction" => &mut self.reaction,
            "channel" => &mut self.channel,
            _ => return None,
        })
    }

    fn name(&self, key: &str) -> &str {
        match key {
            "call_id" => &self.call_id,
            "account_id" => &self.account_id,
            "call_date" => &self.call_date,
            "call_time" => &self.call_time,
            "rep_id" => &self.rep_id,
            "presentation" => &self.presentation,
            "key_message" => &self.key_message,
            "duration" => &self.duration,
            "reaction" => &self.reaction,
            "channel" => &self.channel,
            _ => "",
        }
    }

    /// Applies `key=Column` overrides (as given on the command line).
    pub fn apply(&mut self, overrides: &[String]) -> Result<(), FieldError> {
        for pair in overrides {
            let Some((key, column)) = pair.split_once('=') else {
                return Err(FieldError::new(
                    "columns",
                    format!("{pair:?} is not key=Column"),
                ));
            };
            let key = key.trim();
            let Some(slot) = self.slot(key) else {
                return Err(FieldError::new(
                    "columns",
                    format!(
                        "unknown mapping key {key:?}; expected one of {}, {}",
                        REQUIRED.join(", "),
                        OPTIONAL.join(", ")
                    ),
                ));
            };
            *slot = column.trim().to_owned();
        }
        Ok(())
    }

    /// Finds every mapped column in the header; a missing one is named with its mapping key.
    pub fn locate(&self, header: &[&str]) -> Result<Layout, FieldError> {
        let find = |key: &str, required: bool| -> Result<Option<(usize, String)>, FieldError> {
            let name = self.name(key);
            if name.is_empty() {
                return if required {
                    Err(FieldError::new(
                        format!("columns.{key}"),
                        "must name a column",
                    ))
                } else {
                    Ok(None)
                };
            }
            match header.iter().position(|h| h.trim() == name) {
                Some(i) => Ok(Some((i, name.to_owned()))),
                None => Err(FieldError::new(
                    format!("columns.{key}"),
                    format!(
                        "column {name:?} is not in the file's header; map {key} to a column of \
                         the file (--columns {key}=NAME)"
                    ),
                )),
            }
        };
        let req = |key: &str| find(key, true).map(|c| c.unwrap_or_default());
        Ok(Layout {
            call_id: req("call_id")?,
            account_id: req("account_id")?,
            call_date: req("call_date")?,
            rep_id: req("rep_id")?,
            key_message: req("key_message")?,
            duration: req("duration")?,
            call_time: find("call_time", false)?,
            presentation: find("presentation", false)?,
            reaction: find("reaction", false)?,
            channel: find("channel", false)?,
        })
    }
}

/// Where each field is in the file: column index and name.
#[derive(Debug, Clone)]
pub struct Layout {
    call_id: (usize, String),
    account_id: (usize, String),
    call_date: (usize, String),
    rep_id: (usize, String),
    key_message: (usize, String),
    duration: (usize, String),
    call_time: Option<(usize, String)>,
    presentation: Option<(usize, String)>,
    reaction: Option<(usize, String)>,
    channel: Option<(usize, String)>,
}

/// One row: one key message shown in a call.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRow {
    pub call_id: String,
    pub account_id: String,
    pub at: Timestamp,
    pub rep_id: String,
    pub presentation: Option<String>,
    pub key_message: String,
    pub dwell_ms: i64,
    pub reaction: Option<String>,
    pub channel: Channel,
}

impl Layout {
    /// Reads the call id alone (to group rows, even a row that is otherwise bad).
    pub fn call_id<'a>(&self, record: &[&'a str]) -> Option<&'a str> {
        record
            .get(self.call_id.0)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    }

    /// Reads one row; times without an offset are read at `offset` from UTC. The error names
    /// the file's column and the mapping key.
    pub fn read(&self, record: &[&str], offset: FixedOffset) -> Result<CallRow, FieldError> {
        let cell = |c: &(usize, String)| record.get(c.0).map_or("", |s| s.trim());
        let named = |c: &(usize, String), key: &str, reason: String| {
            FieldError::new(format!("{} ({key})", c.1), reason)
        };
        let required = |c: &(usize, String), key: &str| {
            let v = cell(c);
            if v.is_empty() {
                Err(named(c, key, "is empty".into()))
            } else {
                Ok(v.to_owned())
            }
        };
        let optional = |c: &Option<(usize, String)>| {
            c.as_ref()
                .map(cell)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let call_id = required(&self.call_id, "call_id")?;
        let account_id = required(&self.account_id, "account_id")?;
        let date = required(&self.call_date, "call_date")?;
        let time = optional(&self.call_time);
        let at = date_time(&date, time.as_deref(), offset).map_err(|reason| {
            let column = match (&self.call_time, &time) {
                (Some(c), Some(_)) if reason.starts_with("time") => c,
                _ => &self.call_date,
            };
            named(column, "call_date", reason)
        })?;
        let rep_id = required(&self.rep_id, "rep_id")?;
        let key_message = required(&self.key_message, "key_message")?;
        let duration = required(&self.duration, "duration")?;
        let seconds: f64 = duration
            .parse()
            .ok()
            .filter(|s: &f64| s.is_finite())
            .ok_or_else(|| {
                named(
                    &self.duration,
                    "duration",
                    format!("{duration:?} is not a number of seconds"),
                )
            })?;
        if seconds < 0.0 {
            return Err(named(
                &self.duration,
                "duration",
                "must not be negative".into(),
            ));
        }
        let max_seconds = crate::event::MAX_DWELL_MS / 1000;
        if seconds > max_seconds as f64 {
            return Err(named(
                &self.duration,
                "duration",
                format!("must be at most {max_seconds} seconds (24 hours)"),
            ));
        }
        let channel = match optional(&self.channel) {
            Some(v) => channel_of(&v),
            None => Channel::FaceToFace,
        };
        Ok(CallRow {
            call_id,
            account_id,
            at,
            rep_id,
            presentation: optional(&self.presentation),
            key_message,
            dwell_ms: (seconds * 1000.0).round() as i64,
            reaction: optional(&self.reaction),
            channel,
        })
    }
}

fn channel_of(value: &str) -> Channel {
    if let Ok(channel) = Channel::parse("channel", value) {
        return channel;
    }
    let lower = value.to_lowercase();
    if ["remote", "video", "virtual"]
        .iter()
        .any(|w| lower.contains(w))
    {
        Channel::RemoteDetail
    } else {
        Channel::FaceToFace
    }
}

/// Reads the formats CRM exports use: RFC 3339; `YYYY-MM-DD HH:MM[:SS]` (or with `T`); or a
/// date `YYYY-MM-DD` with the time in a column of its own (`HH:MM[:SS]`, or a full date and time)
/// or none (midnight). Times without an offset are read at `offset`.
pub fn date_time(date: &str, time: Option<&str>, offset: FixedOffset) -> Result<Timestamp, String> {
    let full = |text: &str| -> Option<DateTime<FixedOffset>> {
        if let Ok(t) = DateTime::parse_from_rfc3339(text) {
            return Some(t);
        }
        [
            "%Y-%m-%d %H:%M:%S",
            "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%d %H:%M",
            "%Y-%m-%dT%H:%M",
        ]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        .and_then(|naive| offset.from_local_datetime(&naive).single())
    };
    let at = if let Some(t) = time.and_then(full) {
        t
    } else if let Some(t) = full(date) {
        t
    } else {
        let day = NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| {
            format!(
                "{date:?} is not a date such as 2026-03-02, 2026-03-02 09:30:00 or \
                 2026-03-02T09:30:00Z"
            )
        })?;
        let clock = match time {
            None => NaiveTime::MIN,
            Some(t) => ["%H:%M:%S", "%H:%M"]
                .iter()
                .find_map(|f| NaiveTime::parse_from_str(t, f).ok())
                .ok_or_else(|| format!("time {t:?} is not HH:MM[:SS] or a date and time"))?,
        };
        offset
            .from_local_datetime(&day.and_time(clock))
            .single()
            .ok_or_else(|| format!("{date:?} is not a valid date and time"))?
    };
    Timestamp::parse("occurred_at", &at.to_rfc3339()).map_err(|e| e.reason)
}

/// `id` itself when it fits an event id; otherwise a hash of it, still derived from the call
/// alone, so a long CRM call id or key message name neither refuses the row nor breaks the
/// duplicate check of a re-import.
fn bounded_id(source: &str, id: &str) -> String {
    if id.len() <= MAX_ID_LEN {
        id.to_owned()
    } else {
        format!("{source}:call:sha256:{}", hex_digest(id.as_bytes()))
    }
}

/// The events of one call from its rows (in file order): one `call_logged` naming every key
/// message shown, at the first row's time, and one `slide_viewed` per row. Ids derive from the
/// call id (and key message), so a re-import is all duplicates.
pub fn call_events(source: &str, rows: &[CallRow]) -> Vec<Result<Event, FieldError>> {
    let Some(first) = rows.first() else {
        return vec![];
    };
    let base = |id: String, at: Timestamp, kind: &str| -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("event_id".into(), json!(id));
        m.insert("occurred_at".into(), json!(at.to_string()));
        m.insert("hcp".into(), json!(first.account_id));
        m.insert("source".into(), json!(source));
        m.insert("channel".into(), json!(first.channel.as_str()));
        m.insert("type".into(), json!(kind));
        m.insert("rep_id".into(), json!(first.rep_id));
        m.insert("call_id".into(), json!(first.call_id));
        m
    };
    let call_key = format!("{source}:call:{}", first.call_id);
    let mut call = base(bounded_id(source, &call_key), first.at, "call_logged");
    let key_messages: Vec<&str> = rows.iter().map(|r| r.key_message.as_str()).collect();
    call.insert("key_messages".into(), json!(key_messages));
    if let Some(p) = &first.presentation {
        call.insert("content_id".into(), json!(p));
    }
    let mut events = vec![Event::from_json(Value::Object(call))];
    for (i, row) in rows.iter().enumerate() {
        // The same key message shown twice in a call is two views.
        let repeat = rows[..i]
            .iter()
            .filter(|r| r.key_message == row.key_message)
            .count();
        let mut id = format!("{call_key}:km:{}", row.key_message);
        if repeat > 0 {
            id = format!("{id}:{}", repeat + 1);
        }
        let mut slide = base(bounded_id(source, &id), row.at, "slide_viewed");
        slide.insert("key_message".into(), json!(row.key_message));
        slide.insert("dwell_ms".into(), json!(row.dwell_ms));
        if let Some(p) = &row.presentation {
            slide.insert("content_id".into(), json!(p));
        }
        if let Some(r) = &row.reaction {
            slide.insert("reaction".into(), json!(r));
        }
        events.push(Event::from_json(Value::Object(slide)));
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EventType;

    const HEADER: [&str; 9] = [
        "Call2_vod__c",
        "Account_vod__c",
        "Call_Date_vod__c",
        "Start_Time_vod__c",
        "OwnerId",
        "Presentation_ID_vod__c",
        "Key_Message_vod__c",
        "Duration_vod__c",
        "Reaction_vod__c",
    ];

    fn utc() -> FixedOffset {
        FixedOffset::east_opt(0).unwrap()
    }

    #[test]
    fn the_default_mapping_reads_a_veeva_style_row() {
        let layout = CallColumns::default().locate(&HEADER).unwrap();
        let row = layout
            .read(
                &[
                    "a0C1",
                    "001A",
                    "2026-03-02",
                    "09:30",
                    "005R",
                    "CZ-DECK",
                    "km-outcomes",
                    "42.5",
                    "Positive",
                ],
                utc(),
            )
            .unwrap();
        assert_eq!(row.at.to_string(), "2026-03-02T09:30:00.000Z");
        assert_eq!(row.dwell_ms, 42_500);
        assert_eq!(row.channel, Channel::FaceToFace);
        assert_eq!(row.reaction.as_deref(), Some("Positive"));
    }

    #[test]
    fn dates_and_times_in_the_formats_of_crm_exports() {
        let plus_two = FixedOffset::east_opt(2 * 3600).unwrap();
        let cases = [
            (
                "2026-03-02",
                Some("09:30:15"),
                utc(),
                "2026-03-02T09:30:15.000Z",
            ),
            (
                "2026-03-02 09:30:00",
                None,
                utc(),
                "2026-03-02T09:30:00.000Z",
            ),
            (
                "2026-03-02T09:30:00+01:00",
                None,
                utc(),
                "2026-03-02T08:30:00.000Z",
            ),
            (
                "2026-03-02",
                Some("2026-03-02T11:00:00Z"),
                plus_two,
                "2026-03-02T11:00:00.000Z",
            ),
            (
                "2026-03-02",
                Some("09:30"),
                plus_two,
                "2026-03-02T07:30:00.000Z",
            ),
            ("2026-03-02", None, utc(), "2026-03-02T00:00:00.000Z"),
        ];
        for (date, time, offset, expected) in cases {
            assert_eq!(
                date_time(date, time, offset).unwrap().to_string(),
                expected,
                "{date} {time:?}"
            );
        }
        assert!(date_time("02/03/2026", None, utc()).is_err());
        assert!(
            date_time("2026-03-02", Some("25:00"), utc())
                .unwrap_err()
                .starts_with("time")
        );
    }

    #[test]
    fn bad_rows_name_the_column_and_the_mapping_key() {
        let layout = CallColumns::default().locate(&HEADER).unwrap();
        let row = |duration: &str, account: &str, date: &str| {
            layout
                .read(
                    &["c1", account, date, "", "005R", "", "km", duration, ""],
                    utc(),
                )
                .unwrap_err()
                .field
        };
        assert_eq!(
            row("-3", "001A", "2026-03-02"),
            "Duration_vod__c (duration)"
        );
        assert_eq!(
            row("1e200", "001A", "2026-03-02"),
            "Duration_vod__c (duration)"
        );
        let e = layout
            .read(
                &[
                    "c1",
                    "001A",
                    "2026-03-02",
                    "",
                    "005R",
                    "",
                    "km",
                    "86401",
                    "",
                ],
                utc(),
            )
            .unwrap_err();
        assert_eq!(e.reason, "must be at most 86400 seconds (24 hours)");
        assert_eq!(row("3", "", "2026-03-02"), "Account_vod__c (account_id)");
        assert_eq!(row("3", "001A", "March 2"), "Call_Date_vod__c (call_date)");
    }

    #[test]
    fn a_mapping_names_what_the_header_lacks() {
        let mut columns = CallColumns::default();
        columns
            .apply(&["account_id=Account_Id".into(), "channel=Call_Type".into()])
            .unwrap();
        let e = columns.locate(&HEADER).unwrap_err();
        assert_eq!(e.field, "columns.account_id");
        assert!(e.reason.contains("\"Account_Id\""), "{}", e.reason);
        let e = columns.apply(&["acount=X".into()]).unwrap_err();
        assert!(e.reason.contains("acount"));
    }

    #[test]
    fn one_call_gives_a_call_logged_and_a_slide_view_per_row() {
        let row = |km: &str, minute: u32, seconds: i64| CallRow {
            call_id: "a0C1".into(),
            account_id: "001A".into(),
            at: date_time("2026-03-02", Some(&format!("09:{minute:02}")), utc()).unwrap(),
            rep_id: "005R".into(),
            presentation: Some("CZ-DECK".into()),
            key_message: km.into(),
            dwell_ms: seconds * 1000,
            reaction: Some("Neutral".into()),
            channel: channel_of("Remote Detail"),
        };
        let events: Vec<Event> = call_events(
            "crm",
            &[row("km-1", 30, 20), row("km-2", 31, 40), row("km-1", 32, 5)],
        )
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap();
        let ids: Vec<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "crm:call:a0C1",
                "crm:call:a0C1:km:km-1",
                "crm:call:a0C1:km:km-2",
                "crm:call:a0C1:km:km-1:2"
            ]
        );
        assert_eq!(events[0].kind, EventType::CallLogged);
        assert_eq!(events[0].channel, Channel::RemoteDetail);
        assert_eq!(
            events[0].payload["key_messages"],
            json!(["km-1", "km-2", "km-1"])
        );
        assert_eq!(events[0].rep_id.as_deref(), Some("005R"));
        assert_eq!(events[2].kind, EventType::SlideViewed);
        assert_eq!(events[2].payload["dwell_ms"], 40_000);
        assert_eq!(events[2].payload["reaction"], "Neutral");
        assert_eq!(events[2].content_id.as_deref(), Some("CZ-DECK"));
        assert_eq!(events[2].hcp, "001A");
        assert_eq!(
            events[2].occurred_at.to_string(),
            "2026-03-02T09:31:00.000Z"
        );
    }

    #[test]
    fn long_call_ids_and_key_message_names_still_give_stable_event_ids() {
        let row = |call_id: &str, km: &str| CallRow {
            call_id: call_id.into(),
            account_id: "001A".into(),
            at: date_time("2026-03-02", Some("09:30"), utc()).unwrap(),
            rep_id: "005R".into(),
            presentation: None,
            key_message: km.into(),
            dwell_ms: 1000,
            reaction: None,
            channel: channel_of("Remote Detail"),
        };
        let ids = |rows: &[CallRow]| -> Vec<String> {
            call_events("crm", rows)
                .into_iter()
                .map(|e| e.unwrap().event_id)
                .collect()
        };
        // A key message may be up to 128 bytes itself; with the call's prefix its view's natural
        // id is longer than that.
        let long_km = "k".repeat(MAX_ID_LEN);
        let long_call = "c".repeat(150);
        let first = ids(&[row("a0C1", &long_km), row("a0C1", &long_km)]);
        let hashed = |natural: &str| format!("crm:call:sha256:{}", hex_digest(natural.as_bytes()));
        assert_eq!(
            first,
            [
                "crm:call:a0C1".to_owned(),
                hashed(&format!("crm:call:a0C1:km:{long_km}")),
                hashed(&format!("crm:call:a0C1:km:{long_km}:2")),
            ]
        );
        assert_eq!(first[1].len(), "crm:call:sha256:".len() + 32);
        assert_eq!(ids(&[row("a0C1", &long_km), row("a0C1", &long_km)]), first);
        let long = ids(&[row(&long_call, "km-1")]);
        assert_eq!(
            long,
            [
                hashed(&format!("crm:call:{long_call}")),
                hashed(&format!("crm:call:{long_call}:km:km-1")),
            ]
        );
        assert!(long.iter().all(|id| id.len() <= MAX_ID_LEN));
    }
}
