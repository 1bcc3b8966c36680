//! Segment's Tracking API spoken by OpenCLM: its messages (track, page, screen, identify, group,
//! alias) read by the specification's rules — identity, `messageId`, clock-skew correction from
//! `sentAt` — and turned into OpenCLM events and master-data changes through a configurable table
//! of event names. Any Segment or RudderStack SDK can then send to OpenCLM unchanged.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

use crate::event::MAX_ID_LEN;
use crate::{Channel, Event, EventType, FieldError, Timestamp};

/// Largest message the specification accepts.
pub const MAX_MESSAGE_BYTES: usize = 32 * 1024;
/// Largest batch request the specification accepts.
pub const MAX_BATCH_BYTES: usize = 500 * 1024;
/// Most messages in one batch.
pub const MAX_BATCH_MESSAGES: usize = 2_500;

/// The Tracking API's calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    Track,
    Page,
    Screen,
    Identify,
    Group,
    Alias,
}

impl Call {
    const ALL: [Call; 6] = [
        Call::Track,
        Call::Page,
        Call::Screen,
        Call::Identify,
        Call::Group,
        Call::Alias,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Call::Track => "track",
            Call::Page => "page",
            Call::Screen => "screen",
            Call::Identify => "identify",
            Call::Group => "group",
            Call::Alias => "alias",
        }
    }

    pub fn parse(field: &str, text: &str) -> Result<Self, FieldError> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == text)
            .ok_or_else(|| {
                FieldError::new(
                    field,
                    format!(
                        "unknown call {text:?}; expected track, page, screen, identify, group or alias"
                    ),
                )
            })
    }
}

/// What a tracked event's name becomes in OpenCLM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventMapping {
    #[serde(rename = "type")]
    pub kind: EventType,
    pub channel: Channel,
}

/// Which traits of an identify call fill which HCP fields: for each field, the trait paths tried
/// in order (dots step into objects, `address.country`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TraitMapping {
    pub name: Vec<String>,
    pub email: Vec<String>,
    pub specialty: Vec<String>,
    pub country: Vec<String>,
}

impl Default for TraitMapping {
    fn default() -> Self {
        let paths = |p: &[&str]| p.iter().map(|s| (*s).to_owned()).collect();
        Self {
            name: paths(&["name"]),
            email: paths(&["email"]),
            specialty: paths(&["specialty", "specialization"]),
            country: paths(&["address.country", "country"]),
        }
    }
}

/// How the Tracking API's messages map onto OpenCLM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SegmentConfig {
    /// The id space of `userId`: HCPs are found by their external id in this system, and events
    /// are stored under it as their source.
    pub source: String,
    /// Tracked event names and what they become; added to (and overriding) the defaults.
    pub events: BTreeMap<String, EventMapping>,
    /// The channel of `page` calls (`content_viewed`).
    pub page_channel: Channel,
    /// The channel of `screen` calls (`content_viewed`).
    pub screen_channel: Channel,
    pub traits: TraitMapping,
    /// A `group` call adds this prefix and the group id to the HCP's segments (an institution or
    /// account); empty to ignore group calls.
    pub group_segment_prefix: String,
    /// Events of a visitor not yet identified are held this many days at most.
    pub hold_days: u32,
    /// And at most this many per visitor: anyone with a public write key can invent visitors.
    pub hold_per_visitor: u32,
}

impl Default for SegmentConfig {
    fn default() -> Self {
        Self {
            source: "segment".into(),
            events: BTreeMap::new(),
            page_channel: Channel::Web,
            screen_channel: Channel::MobileApp,
            traits: TraitMapping::default(),
            group_segment_prefix: "group:".into(),
            hold_days: 30,
            hold_per_visitor: 500,
        }
    }
}

/// Event names of the Segment specs (Email, Video, Mobile) and of e-detailing, with what each
/// becomes unless the settings say otherwise.
pub const DEFAULT_EVENTS: [(&str, EventType, Channel); 22] = [
    ("Email Sent", EventType::Sent, Channel::Email),
    ("Email Delivered", EventType::Delivered, Channel::Email),
    ("Email Opened", EventType::Opened, Channel::Email),
    ("Email Link Clicked", EventType::Clicked, Channel::Email),
    ("Email Bounced", EventType::Bounced, Channel::Email),
    (
        "Email Marked as Spam",
        EventType::Unsubscribed,
        Channel::Email,
    ),
    (
        "Email Unsubscribed",
        EventType::Unsubscribed,
        Channel::Email,
    ),
    ("Unsubscribed", EventType::Unsubscribed, Channel::Email),
    ("Page Viewed", EventType::ContentViewed, Channel::Web),
    (
        "Screen Viewed",
        EventType::ContentViewed,
        Channel::MobileApp,
    ),
    ("Content Viewed", EventType::ContentViewed, Channel::Web),
    ("Banner Clicked", EventType::Clicked, Channel::Banner),
    ("Slide Viewed", EventType::SlideViewed, Channel::FaceToFace),
    (
        "Video Playback Started",
        EventType::VideoProgress,
        Channel::Web,
    ),
    (
        "Video Content Playing",
        EventType::VideoProgress,
        Channel::Web,
    ),
    (
        "Video Playback Completed",
        EventType::VideoProgress,
        Channel::Web,
    ),
    (
        "Push Notification Received",
        EventType::Delivered,
        Channel::MobileApp,
    ),
    (
        "Push Notification Tapped",
        EventType::Opened,
        Channel::MobileApp,
    ),
    (
        "Webinar Attended",
        EventType::MeetingAttended,
        Channel::Webinar,
    ),
    (
        "Survey Answered",
        EventType::SurveyAnswered,
        Channel::Survey,
    ),
    ("Comment Posted", EventType::Comment, Channel::Web),
    (
        "Medical Information Requested",
        EventType::MedicalInformationRequested,
        Channel::MedicalInformation,
    ),
];

impl SegmentConfig {
    /// What a tracked event name becomes: the settings' table first, then the defaults.
    pub fn mapping(&self, name: &str) -> Option<EventMapping> {
        self.events.get(name).cloned().or_else(|| {
            DEFAULT_EVENTS
                .iter()
                .find(|(n, _, _)| *n == name)
                .map(|&(_, kind, channel)| EventMapping { kind, channel })
        })
    }

    /// Checks the settings once, naming the setting at fault.
    pub fn validate(&self) -> Result<(), FieldError> {
        crate::hcp::parse_identifier("segment.source", &self.source)?;
        if !self.group_segment_prefix.is_empty()
            && self
                .group_segment_prefix
                .chars()
                .any(|c| !(c.is_ascii_alphanumeric() || "-_.:@".contains(c)))
        {
            return Err(FieldError::new(
                "segment.group_segment_prefix",
                "must contain only letters, digits and -_.:@",
            ));
        }
        if !(1..=365).contains(&self.hold_days) {
            return Err(FieldError::new(
                "segment.hold_days",
                "must be from 1 to 365",
            ));
        }
        if !(1..=100_000).contains(&self.hold_per_visitor) {
            return Err(FieldError::new(
                "segment.hold_per_visitor",
                "must be from 1 to 100000",
            ));
        }
        for (name, paths) in [
            ("name", &self.traits.name),
            ("email", &self.traits.email),
            ("specialty", &self.traits.specialty),
            ("country", &self.traits.country),
        ] {
            if paths.iter().any(|p| p.is_empty()) {
                return Err(FieldError::new(
                    format!("segment.traits.{name}"),
                    "a trait path must not be empty",
                ));
            }
        }
        Ok(())
    }
}

/// What is shared by every message of a batch: its `sentAt`, `context` and `integrations`.
#[derive(Debug, Clone, Default)]
pub struct Envelope {
    pub sent_at: Option<Timestamp>,
    pub context: Option<Map<String, Value>>,
}

impl Envelope {
    /// Reads a batch request's own fields (not its messages).
    pub fn of_batch(body: &Map<String, Value>) -> Result<Self, FieldError> {
        Ok(Self {
            sent_at: opt_time(body, "sentAt")?,
            context: match body.get("context") {
                None | Some(Value::Null) => None,
                Some(Value::Object(c)) => Some(c.clone()),
                Some(_) => return Err(FieldError::new("context", "must be an object")),
            },
        })
    }
}

/// A message read by the specification's rules.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub call: Call,
    /// OpenCLM's event id for it: `segment:` and the `messageId` (or a hash of a long one, or of
    /// the whole message when it has none, so a resend still matches).
    pub event_id: String,
    pub user_id: Option<String>,
    pub anonymous_id: Option<String>,
    /// When it happened, corrected for the sender's clock.
    pub occurred_at: Timestamp,
    /// A digest of the message as the sender sent it, without what the SDKs renew on every
    /// attempt ([`PER_ATTEMPT_FIELDS`]): a retry has the same digest, a changed message another.
    pub sent_digest: String,
    pub body: Map<String, Value>,
}

/// Fields of a message that say how this attempt was sent, not what was sent: the SDKs set a new
/// `sentAt` on every attempt, a relay may add `receivedAt`, and the write key and the library's
/// `_metadata` are transport. A retry differs from its first attempt in these alone.
pub const PER_ATTEMPT_FIELDS: [&str; 4] = ["sentAt", "receivedAt", "writeKey", "_metadata"];

/// What a message asks of OpenCLM.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// An interaction: the OpenCLM event object, complete but for `hcp` (the HCP is the
    /// message's user, or the one its anonymous id is linked to).
    Event(Map<String, Value>),
    /// Identify: link the anonymous id (if any) to the user, and update the HCP's fields.
    Identify(TraitChanges),
    /// Add the user's HCP to a group (a segment tag).
    Group { segment: String },
    /// `previousId` (an anonymous id or an earlier user id) is now `userId`.
    Alias { previous_id: String },
    /// Acknowledged and not stored, for this reason (a group call with groups switched off).
    Ignored(String),
}

/// HCP fields an identify call's traits set; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraitChanges {
    pub name: Option<String>,
    pub email: Option<String>,
    pub specialty: Option<String>,
    pub country: Option<String>,
}

impl TraitChanges {
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }

    /// Whether the traits give what an HCP needs to be created: name, specialty and country.
    pub fn is_complete(&self) -> bool {
        self.name.is_some() && self.specialty.is_some() && self.country.is_some()
    }
}

/// Reads one message. `call` is the route's call, or `None` in a batch (the message's `type`
/// names it). Times: `timestamp` (else `originalTimestamp`) is when it happened by the sender's
/// clock; with `sentAt` (the message's, else the batch's) the difference between the two is
/// taken from `received_at`, as the specification corrects clock skew; without `sentAt` it is
/// taken as sent; without either time it is `received_at`.
pub fn read(
    value: Value,
    call: Option<Call>,
    envelope: &Envelope,
    received_at: Timestamp,
) -> Result<Message, FieldError> {
    let Value::Object(mut body) = value else {
        return Err(FieldError::new("message", "must be a JSON object"));
    };
    let call = match (call, opt_string(&body, "type")?) {
        (Some(call), _) => call,
        (None, Some(kind)) => Call::parse("type", &kind)?,
        (None, None) => return Err(FieldError::missing("type")),
    };
    let user_id = opt_id_like(&body, "userId")?;
    let anonymous_id = opt_id_like(&body, "anonymousId")?;
    if user_id.is_none() && anonymous_id.is_none() && call != Call::Alias {
        return Err(FieldError::new(
            "userId",
            "a message needs a userId or an anonymousId",
        ));
    }
    let happened = match opt_time(&body, "timestamp")? {
        Some(t) => Some(t),
        None => opt_time(&body, "originalTimestamp")?,
    };
    let sent_at = match opt_time(&body, "sentAt")? {
        Some(t) => Some(t),
        None => envelope.sent_at,
    };
    let occurred_at = match (happened, sent_at) {
        (Some(t), Some(sent)) => {
            let ms = received_at.millis() - (sent.millis() - t.millis());
            if ms < 0 {
                return Err(FieldError::new(
                    "timestamp",
                    "corrected by sentAt, falls before 1970",
                ));
            }
            Timestamp::from_millis(ms)
        }
        (Some(t), None) => t,
        (None, _) => received_at,
    };
    if let Some(context) = &envelope.context
        && !body.contains_key("context")
    {
        body.insert("context".into(), Value::Object(context.clone()));
    }
    let sent_digest = {
        let mut sent = body.clone();
        for field in PER_ATTEMPT_FIELDS {
            sent.remove(field);
        }
        hex_digest(crate::event::canonical_map(&sent).as_bytes())
    };
    let event_id = match opt_string(&body, "messageId")? {
        Some(id) if id.is_empty() => return Err(FieldError::new("messageId", "must not be empty")),
        Some(id) if id.len() + 8 <= MAX_ID_LEN && !id.chars().any(char::is_control) => {
            format!("segment:{id}")
        }
        Some(id) => format!("segment:sha256:{}", hex_digest(id.as_bytes())),
        // Without an id, what was sent is its identity: a retry has the same digest.
        None => format!("segment:sha256:{sent_digest}"),
    };
    Ok(Message {
        call,
        event_id,
        user_id,
        anonymous_id,
        occurred_at,
        sent_digest,
        body,
    })
}

/// What a message asks of OpenCLM, by the configured mapping.
pub fn action(message: &Message, config: &SegmentConfig) -> Result<Action, FieldError> {
    let body = &message.body;
    match message.call {
        Call::Track => {
            let name = opt_string(body, "event")?.ok_or_else(|| FieldError::missing("event"))?;
            let mapping = config.mapping(&name).ok_or_else(|| {
                FieldError::new(
                    "event",
                    format!(
                        "no OpenCLM event type is mapped to {name:?}; add it under \
                         [segment.events] in the settings"
                    ),
                )
            })?;
            event_object(message, config, mapping, Some(&name)).map(Action::Event)
        }
        Call::Page | Call::Screen => {
            let channel = if message.call == Call::Page {
                config.page_channel
            } else {
                config.screen_channel
            };
            let mapping = EventMapping {
                kind: EventType::ContentViewed,
                channel,
            };
            event_object(message, config, mapping, None).map(Action::Event)
        }
        Call::Identify => {
            let traits = match body.get("traits") {
                None | Some(Value::Null) => Map::new(),
                Some(Value::Object(t)) => t.clone(),
                Some(_) => return Err(FieldError::new("traits", "must be an object")),
            };
            if message.user_id.is_none() {
                // Traits of a visitor not yet known belong to nobody OpenCLM keeps.
                return Ok(Action::Identify(TraitChanges::default()));
            }
            Ok(Action::Identify(trait_changes(&traits, &config.traits)?))
        }
        Call::Group => {
            let group =
                opt_id_like(body, "groupId")?.ok_or_else(|| FieldError::missing("groupId"))?;
            if config.group_segment_prefix.is_empty() {
                return Ok(Action::Ignored("group calls are switched off".into()));
            }
            let segment = format!("{}{group}", config.group_segment_prefix);
            crate::hcp::parse_identifier("groupId", &segment)?;
            Ok(Action::Group { segment })
        }
        Call::Alias => {
            let previous_id = opt_id_like(body, "previousId")?
                .ok_or_else(|| FieldError::missing("previousId"))?;
            if message.user_id.is_none() {
                return Err(FieldError::missing("userId"));
            }
            Ok(Action::Alias { previous_id })
        }
    }
}

/// Contract fields OpenCLM sets itself; a property of the same name is kept under
/// `property_<name>`.
const RESERVED: [&str; 6] = [
    "event_id",
    "occurred_at",
    "hcp",
    "source",
    "channel",
    "type",
];

/// The OpenCLM event object of a track, page or screen message, without its `hcp`. Properties
/// become top-level fields (so a property `content_id`, `key_message`, `dwell_ms`, `url`,
/// `campaign_id`, `decision_id` ... fills the contract's field, and free text in any of them is
/// screened like any event's); a few names of the Segment specs are read as the contract's.
fn event_object(
    message: &Message,
    config: &SegmentConfig,
    mapping: EventMapping,
    name: Option<&str>,
) -> Result<Map<String, Value>, FieldError> {
    let body = &message.body;
    let properties = match body.get("properties") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(p)) => p.clone(),
        Some(_) => return Err(FieldError::new("properties", "must be an object")),
    };
    let mut event = Map::new();
    for (key, value) in &properties {
        if RESERVED.contains(&key.as_str()) {
            event.insert(format!("property_{key}"), value.clone());
        } else {
            event.insert(key.clone(), value.clone());
        }
    }
    event.insert("event_id".into(), message.event_id.clone().into());
    event.insert("occurred_at".into(), message.occurred_at.to_string().into());
    // The corrected time differs on every retry; the digest says it is the same message.
    event.insert(
        crate::event::SENT_DIGEST_FIELD.into(),
        message.sent_digest.clone().into(),
    );
    event.insert("source".into(), config.source.clone().into());
    let channel = match properties.get("channel") {
        Some(Value::String(text)) => Channel::parse("properties.channel", text)?,
        _ => mapping.channel,
    };
    event.insert("channel".into(), channel.as_str().into());
    event.insert("type".into(), mapping.kind.as_str().into());
    event.insert("segment_call".into(), message.call.as_str().into());
    if let Some(name) = name {
        event.insert("segment_event".into(), name.into());
    }
    if let Some(page) = opt_id_like(body, "name")?.filter(|_| name.is_none()) {
        event.insert("page_name".into(), page.into());
    }
    if let Some(anonymous) = &message.anonymous_id {
        event.insert("anonymous_id".into(), anonymous.clone().into());
    }
    // The sender's context says which device and page; only what OpenCLM reads is kept.
    let context = body.get("context").and_then(Value::as_object);
    let from_context = |path: &[&str]| -> Option<Value> {
        let mut at = context?.get(path[0])?;
        for step in &path[1..] {
            at = at.get(step)?;
        }
        at.is_string().then(|| at.clone())
    };
    for (field, path) in [
        ("user_agent", &["userAgent"][..]),
        ("ip", &["ip"][..]),
        ("url", &["page", "url"][..]),
    ] {
        if !event.contains_key(field)
            && let Some(value) = from_context(path)
        {
            event.insert(field.into(), value);
        }
    }
    // The Email spec names the clicked link `link_url`.
    if mapping.kind == EventType::Clicked
        && !properties.contains_key("url")
        && let Some(link) = properties.get("link_url")
    {
        event.insert("url".into(), link.clone());
    }
    if mapping.kind == EventType::SlideViewed
        && !properties.contains_key("dwell_ms")
        && let Some(seconds) = properties.get("duration").and_then(Value::as_f64)
        && seconds.is_finite()
        && seconds >= 0.0
    {
        event.insert(
            "dwell_ms".into(),
            ((seconds * 1000.0).round() as i64).into(),
        );
    }
    if mapping.kind == EventType::VideoProgress && !properties.contains_key("percent") {
        let percent = if name == Some("Video Playback Completed") {
            Some(100.0)
        } else if name == Some("Video Playback Started") {
            Some(0.0)
        } else {
            match (
                properties.get("position").and_then(Value::as_f64),
                properties.get("total_length").and_then(Value::as_f64),
            ) {
                (Some(at), Some(total)) if total > 0.0 && at >= 0.0 => {
                    Some((at / total * 100.0).min(100.0))
                }
                _ => None,
            }
        };
        if let Some(p) = percent {
            event.insert("percent".into(), p.into());
        }
    }
    Ok(event)
}

/// Parses an event object once its HCP is known, naming a property's error as the property.
pub fn parse_event(
    mut object: Map<String, Value>,
    hcp: &str,
    properties: &Map<String, Value>,
) -> Result<Event, FieldError> {
    object.insert("hcp".into(), hcp.into());
    Event::from_json(Value::Object(object)).map_err(|e| {
        if properties.contains_key(&e.field) {
            e.within("properties")
        } else if e.field == "dwell_ms"
            && properties
                .get("duration")
                .and_then(Value::as_f64)
                .is_some_and(|s| s * 1000.0 > crate::event::MAX_DWELL_MS as f64)
        {
            // The dwell was read from the Segment spec's `duration`, in seconds.
            FieldError::new(
                "properties.duration",
                format!(
                    "must be at most {} seconds",
                    crate::event::MAX_DWELL_MS / 1000
                ),
            )
        } else if e.field == "hcp" {
            FieldError::new("userId", e.reason)
        } else {
            e
        }
    })
}

/// The message's properties (for naming errors).
pub fn properties(message: &Message) -> Map<String, Value> {
    message
        .body
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

fn trait_changes(
    traits: &Map<String, Value>,
    mapping: &TraitMapping,
) -> Result<TraitChanges, FieldError> {
    let find = |paths: &[String]| -> Result<Option<String>, FieldError> {
        for path in paths {
            let mut at = Some(traits.get(path.split('.').next().unwrap_or(path)));
            for step in path.split('.').skip(1) {
                at = at.map(|v| v.and_then(|v| v.get(step)));
            }
            match at.flatten() {
                None | Some(Value::Null) => continue,
                Some(Value::String(s)) if s.trim().is_empty() => continue,
                Some(Value::String(s)) => return Ok(Some(s.trim().to_owned())),
                Some(_) => {
                    return Err(FieldError::new(
                        format!("traits.{path}"),
                        "must be a string",
                    ));
                }
            }
        }
        Ok(None)
    };
    let mut name = find(&mapping.name)?;
    if name.is_none() {
        let first = find(&["firstName".to_owned(), "first_name".to_owned()])?;
        let last = find(&["lastName".to_owned(), "last_name".to_owned()])?;
        name = match (first, last) {
            (Some(f), Some(l)) => Some(format!("{f} {l}")),
            (f, l) => f.or(l),
        };
    }
    Ok(TraitChanges {
        name,
        email: find(&mapping.email)?,
        specialty: find(&mapping.specialty)?,
        country: find(&mapping.country)?,
    })
}

/// An id field: a string, or a number (some SDKs send numeric user ids), as text.
fn opt_id_like(body: &Map<String, Value>, field: &str) -> Result<Option<String>, FieldError> {
    let text = match body.get(field) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => return Err(FieldError::new(field, "must be a string")),
    };
    if text.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if text.len() > MAX_ID_LEN {
        return Err(FieldError::new(
            field,
            format!("must be at most {MAX_ID_LEN} bytes"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(Some(text))
}

fn opt_string(body: &Map<String, Value>, field: &str) -> Result<Option<String>, FieldError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(FieldError::new(field, "must be a string")),
    }
}

fn opt_time(body: &Map<String, Value>, field: &str) -> Result<Option<Timestamp>, FieldError> {
    opt_string(body, field)?
        .map(|text| Timestamp::parse(field, &text))
        .transpose()
}

/// The first 128 bits of a SHA-256, in hex: enough to tell messages apart.
pub(crate) fn hex_digest(bytes: &[u8]) -> String {
    hex::encode(&Sha256::digest(bytes)[..16])
}

#[cfg(test)]
mod tests;
