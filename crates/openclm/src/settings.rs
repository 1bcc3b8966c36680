//! Settings: one typed struct, read once, layered defaults < file < `OPENCLM_*` environment < flags.

use anyhow::Context;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use openclm_core::engine::reward::RewardConfig;
use openclm_core::engine::rules::Rules;
use openclm_core::engine::{Economics, Engine};
use openclm_core::pv::PvConfig;
use openclm_core::segment::SegmentConfig;
use openclm_store::UnknownHcpPolicy;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Everything `openclm` can be configured with.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// `sqlite://PATH` or a plain path (SQLite, embedded), or `postgres://…` (shared).
    pub database_url: String,
    /// Address the HTTP API listens on.
    pub listen: String,
    /// Most events accepted per `POST /v1/events`.
    pub max_batch_events: usize,
    /// Largest request body accepted, in bytes.
    pub max_batch_bytes: usize,
    /// What to do with an event naming an unknown HCP: `reject` or `create_stub`.
    pub unknown_hcp: UnknownHcpPolicy,
    /// Log filter (tracing `EnvFilter` syntax).
    pub log: String,
    /// Contact rules every decision obeys (hard constraints).
    pub rules: Rules,
    /// What counts as the outcome of a decision, and for how long.
    pub rewards: RewardConfig,
    /// What a response is worth and what a touch costs; when set, decisions weigh them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub economics: Option<Economics>,
    /// Login sessions.
    pub sessions: Sessions,
    /// Adverse-event screening and the PV clock.
    pub pharmacovigilance: PvConfig,
    /// The Segment-compatible Tracking API: the id space of `userId`, event names, traits.
    pub segment: SegmentConfig,
    /// SendGrid's Event Webhook.
    #[serde(default)]
    pub sendgrid: SendGrid,
    /// File imports.
    #[serde(default)]
    pub import: Import,
    /// The outbound delivery queue: webhooks per channel, attempts, backoff, leases.
    #[serde(default)]
    pub delivery: Delivery,
    /// Connections held at once, and how long a slow or idle client may keep one.
    #[serde(default)]
    pub connections: Connections,
}

/// Connections to the HTTP API: how many at once, and how long a client may take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Connections {
    /// A request's line and headers must arrive within this many milliseconds.
    pub header_read_timeout_ms: u64,
    /// A request's body must arrive within this many milliseconds after its headers.
    pub body_read_timeout_ms: u64,
    /// A connection with no request in flight for this many milliseconds is closed.
    pub idle_timeout_ms: u64,
    /// Connections served at once; more wait in the listen queue until one ends.
    pub max_connections: usize,
}

impl Default for Connections {
    fn default() -> Self {
        let limits = openclm_server::ConnectionLimits::default();
        Self {
            header_read_timeout_ms: limits.header_read_timeout.as_millis() as u64,
            body_read_timeout_ms: limits.body_read_timeout.as_millis() as u64,
            idle_timeout_ms: limits.idle_timeout.as_millis() as u64,
            max_connections: limits.max_connections,
        }
    }
}

impl Connections {
    fn validate(&self) -> anyhow::Result<()> {
        for (name, ms) in [
            ("header_read_timeout_ms", self.header_read_timeout_ms),
            ("body_read_timeout_ms", self.body_read_timeout_ms),
            ("idle_timeout_ms", self.idle_timeout_ms),
        ] {
            anyhow::ensure!(
                (100..=3_600_000).contains(&ms),
                "connections.{name}: must be from 100 to 3600000 (one hour)"
            );
        }
        anyhow::ensure!(
            (1..=1_000_000).contains(&self.max_connections),
            "connections.max_connections: must be from 1 to 1000000"
        );
        Ok(())
    }

    /// The server's view of these settings.
    pub fn limits(&self) -> openclm_server::ConnectionLimits {
        use std::time::Duration;
        openclm_server::ConnectionLimits {
            header_read_timeout: Duration::from_millis(self.header_read_timeout_ms),
            body_read_timeout: Duration::from_millis(self.body_read_timeout_ms),
            idle_timeout: Duration::from_millis(self.idle_timeout_ms),
            max_connections: self.max_connections,
        }
    }
}

/// File imports (`openclm import`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Import {
    /// `openclm import calls`.
    pub calls: CallImport,
}

/// `openclm import calls`: CRM call / key-message exports.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CallImport {
    /// Which column holds each field; `--columns` overrides.
    pub columns: openclm_core::crm::CallColumns,
}

/// SendGrid's Event Webhook (`POST /v1/webhooks/sendgrid`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SendGrid {
    /// SendGrid's public verification key (base64 DER); when set, only signed requests count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification_key: Option<String>,
}

/// How decisions are delivered: pushed to a webhook per channel, or pulled by delivery systems.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Delivery {
    /// Attempts before a delivery becomes a dead letter.
    pub max_attempts: u32,
    /// The wait after the first failed attempt; it doubles after each, with jitter, up to the cap.
    pub backoff_base_ms: i64,
    pub backoff_cap_ms: i64,
    /// How long a sender holds the deliveries it leased before they are offered again.
    pub lease_ms: i64,
    /// Deliveries leased per round of the pusher.
    pub batch_size: usize,
    /// How often the pusher looks for due deliveries.
    pub poll_ms: u64,
    /// How long the pusher waits for a receiver's answer.
    pub timeout_ms: u64,
    /// The webhook of each channel pushed; other channels wait to be pulled.
    pub targets: std::collections::BTreeMap<openclm_core::Channel, DeliveryTarget>,
}

/// One channel's webhook.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryTarget {
    pub url: String,
    /// Signs every body with HMAC-SHA256 when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// Shows everything but the secret.
impl std::fmt::Debug for DeliveryTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliveryTarget")
            .field("url", &self.url)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl Default for Delivery {
    fn default() -> Self {
        let d = openclm_app::deliveries::DeliveryConfig::default();
        Self {
            max_attempts: d.max_attempts,
            backoff_base_ms: d.backoff_base_ms,
            backoff_cap_ms: d.backoff_cap_ms,
            lease_ms: d.lease_ms,
            batch_size: d.batch_size,
            poll_ms: d.poll_ms,
            timeout_ms: d.timeout_ms,
            targets: Default::default(),
        }
    }
}

impl Delivery {
    fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            (1..=100).contains(&self.max_attempts),
            "delivery.max_attempts: must be from 1 to 100"
        );
        anyhow::ensure!(
            self.backoff_base_ms >= 1,
            "delivery.backoff_base_ms: must be 1 or more"
        );
        anyhow::ensure!(
            self.backoff_cap_ms >= self.backoff_base_ms,
            "delivery.backoff_cap_ms: must be at least backoff_base_ms"
        );
        anyhow::ensure!(
            self.lease_ms >= 100,
            "delivery.lease_ms: must be 100 or more"
        );
        anyhow::ensure!(
            (1..=1000).contains(&self.batch_size),
            "delivery.batch_size: must be from 1 to 1000"
        );
        anyhow::ensure!(self.poll_ms >= 10, "delivery.poll_ms: must be 10 or more");
        anyhow::ensure!(
            self.timeout_ms >= 100,
            "delivery.timeout_ms: must be 100 or more"
        );
        // A post still waiting when its lease ends could be made again by another node.
        anyhow::ensure!(
            (self.timeout_ms as i64) < self.lease_ms,
            "delivery.timeout_ms: must be shorter than lease_ms"
        );
        for (channel, target) in &self.targets {
            anyhow::ensure!(
                openclm_core::delivery::delivered_by_system(*channel),
                "delivery.targets.{channel}: reps deliver {channel}; it has no webhook"
            );
            let url = target.url.to_ascii_lowercase();
            anyhow::ensure!(
                url.starts_with("https://") || url.starts_with("http://"),
                "delivery.targets.{channel}.url: must be an http:// or https:// URL"
            );
            anyhow::ensure!(
                target.secret.as_ref().is_none_or(|s| s.len() >= 16),
                "delivery.targets.{channel}.secret: must be at least 16 characters"
            );
        }
        Ok(())
    }

    /// The server's view of these settings.
    pub fn config(&self) -> openclm_app::deliveries::DeliveryConfig {
        openclm_app::deliveries::DeliveryConfig {
            targets: self
                .targets
                .iter()
                .map(|(c, t)| {
                    (
                        *c,
                        openclm_app::deliveries::DeliveryTarget {
                            url: t.url.clone(),
                            secret: t.secret.clone(),
                        },
                    )
                })
                .collect(),
            max_attempts: self.max_attempts,
            backoff_base_ms: self.backoff_base_ms,
            backoff_cap_ms: self.backoff_cap_ms,
            lease_ms: self.lease_ms,
            batch_size: self.batch_size,
            poll_ms: self.poll_ms,
            timeout_ms: self.timeout_ms,
        }
    }
}

/// How long login sessions live.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sessions {
    /// A session ends after this many minutes without a request.
    pub idle_minutes: i64,
    /// A session ends this many hours after login, however busy.
    pub max_hours: i64,
}

impl Default for Sessions {
    fn default() -> Self {
        Self {
            idle_minutes: 30,
            max_hours: 12,
        }
    }
}

/// Shows everything but the database password.
impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("database_url", &crate::redact(&self.database_url))
            .field("listen", &self.listen)
            .field("max_batch_events", &self.max_batch_events)
            .field("max_batch_bytes", &self.max_batch_bytes)
            .field("unknown_hcp", &self.unknown_hcp)
            .field("log", &self.log)
            .field("rules", &self.rules)
            .field("rewards", &self.rewards)
            .field("economics", &self.economics)
            .field("sessions", &self.sessions)
            .field("pharmacovigilance", &self.pharmacovigilance)
            .field("segment", &self.segment)
            .field("sendgrid", &self.sendgrid)
            .field("import", &self.import)
            .field("delivery", &self.delivery)
            .field("connections", &self.connections)
            .finish()
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database_url: "sqlite://openclm.db".into(),
            listen: "127.0.0.1:8080".into(),
            max_batch_events: 10_000,
            max_batch_bytes: 10 * 1024 * 1024,
            unknown_hcp: UnknownHcpPolicy::Reject,
            log: "info".into(),
            rules: Rules::default(),
            rewards: RewardConfig::default(),
            economics: None,
            sessions: Sessions::default(),
            pharmacovigilance: PvConfig::default(),
            segment: SegmentConfig::default(),
            sendgrid: SendGrid::default(),
            import: Import::default(),
            delivery: Delivery::default(),
            connections: Connections::default(),
        }
    }
}

/// The settings' names, as they appear in the file and (upper case) after `OPENCLM_`.
const SETTING_NAMES: [&str; 6] = [
    "database_url",
    "listen",
    "max_batch_events",
    "max_batch_bytes",
    "unknown_hcp",
    "log",
];

/// The commented default configuration printed by `openclm config default`.
pub const DEFAULT_TOML: &str = r#"# OpenCLM settings. Each can also be set as an OPENCLM_* environment variable
# (e.g. OPENCLM_DATABASE_URL) or a command-line flag; flags win over the environment,
# the environment over this file, this file over the defaults shown here.

# Where the data lives: a SQLite file (sqlite://PATH or a plain path) for one machine, or
# PostgreSQL (postgres://USER:PASSWORD@HOST:PORT/DATABASE) for several `openclm serve` nodes
# sharing one database. Add ?options=-c%20search_path%3DNAME to use a schema other than public.
database_url = "sqlite://openclm.db"

# Address the HTTP API and dashboard listen on.
listen = "127.0.0.1:8080"

# Most events accepted in one POST /v1/events; a larger batch gets 413.
max_batch_events = 10000

# Largest request body accepted, in bytes (10 MiB); a larger body gets 413.
max_batch_bytes = 10485760

# An event naming an HCP OpenCLM does not know: "reject" it (naming the hcp field),
# or "create_stub" to accept it under a stub HCP completed by master data later.
unknown_hcp = "reject"

# Log filter, e.g. "info" or "openclm_store=debug,info". Personal data is never logged at info.
log = "info"

# Contact rules: hard constraints on every decision, never mere warnings. Touches count from
# every source (CRM calls, email sends, ...).
[rules]
# No touch on any channel sooner than this many hours after the previous one.
min_gap_hours = 24
# The consent purpose a promotional contact needs.
purpose = "promotional"
# How long a decision not yet reported delivered holds its place under the caps and the gap
# (a rep's planned visit holds it until the end of its week).
reserve_hours = 72
# Countries where promotional email and SMS need no explicit opt-in, only the absence of an
# objection (e.g. ["US"]). Everywhere else they need an opt-in on record.
opt_out_countries = []
# At most `max` touches of any kind in any `days` days.
total_cap = { max = 4, days = 30 }

# At most `max` touches on one channel in any `days` days.
[rules.channel_caps]
face_to_face = { max = 2, days = 30 }
remote_detail = { max = 2, days = 30 }
email = { max = 2, days = 7 }
sms = { max = 1, days = 7 }

# What the engine learns from: an event reporting a decision's delivery (sent, delivered,
# call_logged) is a trial of its arm; the first response within the window is a success. An
# event names its decision by decision_id, or else is credited to the latest decision for the
# same HCP, content and channel within the window.
[rewards]
# Responses later than this many days after the decision are not credited to it.
window_days = 14
# Event types that count as a response (never opens: machines open email too).
responses = ["clicked", "survey_answered", "meeting_attended", "medical_information_requested", "prescription", "slide_viewed", "content_viewed"]
# Slide and page views count when they last at least this many milliseconds.
engaged_dwell_ms = 10000

# What a response is worth and what a touch costs, in one currency. Unset, the engine ranks
# actions by their chance of a response; set, by expected net value (chance × value − cost), and
# it holds back with the probability that no action's sampled net value is above zero.
# [economics]
# response_value = 250.0
# cost = { email = 0.5, face_to_face = 150.0, remote_detail = 40.0 }

# Login sessions end after this many minutes without a request, and this many hours after login.
[sessions]
idle_minutes = 30
max_hours = 12

# Every free text (rep notes, survey answers, email replies, medical-information requests) is
# screened for potential adverse events before anything else reads it; a hit opens a case for PV
# due this many hours after receipt. Name the brands' products (brand and generic names) so that
# reports name the suspect product; extra_terms adds company-specific adverse-event terms.
[pharmacovigilance]
due_hours = 24
extra_terms = []
products = []
# products = [{ brand = "Cardiozen", generics = ["velorapine"] }]
# Post an alert (JSON: case id, source, times; never the text) here when a case passes its
# deadline untriaged; retried with backoff until the receiver answers 2xx.
# alert_webhook = "https://pv.example.org/hooks/openclm"

# The Segment-compatible Tracking API (POST /v1/track, identify, page, screen, group, alias,
# batch): any Segment or RudderStack SDK sends to OpenCLM with an API key of the ingest role as
# its write key. userId is the HCP's external id in the system named by `source` (events are
# stored under that source); anonymous visitors' events are held until an identify or alias
# links them to a user.
[segment]
source = "segment"
# page and screen calls are content_viewed events on these channels.
page_channel = "web"
screen_channel = "mobile_app"
# A group call adds this prefix and the group id to the HCP's segments; "" ignores groups.
group_segment_prefix = "group:"
# Events of a visitor not yet identified are held this many days at most, and at most this many
# per visitor (beyond, refused naming anonymousId): a public write key can invent visitors.
hold_days = 30
hold_per_visitor = 500

# Which identify traits fill which HCP fields: paths tried in order (dots step into objects).
# Without a name trait, firstName and lastName are joined.
[segment.traits]
name = ["name"]
email = ["email"]
specialty = ["specialty", "specialization"]
country = ["address.country", "country"]

# Track event names and what they become, besides (or replacing) the built-in table: Email
# Sent/Delivered/Opened/Link Clicked/Bounced/Marked as Spam/Unsubscribed, Unsubscribed, Page
# Viewed, Screen Viewed, Content Viewed, Banner Clicked, Slide Viewed, Video Playback Started,
# Video Content Playing, Video Playback Completed, Push Notification Received/Tapped, Webinar
# Attended, Survey Answered, Comment Posted, Medical Information Requested. A name mapped
# nowhere is refused, naming the event.
[segment.events]
# "Sample Requested" = { type = "medical_information_requested", channel = "web" }

# SendGrid's Event Webhook, POST /v1/webhooks/sendgrid. Without a key, SendGrid calls with an API
# key of role ingest as the basic-auth user name (https://KEY:@host/v1/webhooks/sendgrid). With
# SendGrid's Signed Event Webhook on, paste its verification key here: every request must then
# carry a valid signature, and no API key is needed.
[sendgrid]
# verification_key = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE..."

# openclm import calls: which column of a CRM call / key-message export holds each field (the
# defaults fit a Veeva CRM Call2_Key_Message_vod__c export); --columns key=Column overrides. An
# empty name leaves an optional field (call_time, presentation, reaction, channel) unread.
[import.calls.columns]
call_id = "Call2_vod__c"
account_id = "Account_vod__c"
call_date = "Call_Date_vod__c"
call_time = "Start_Time_vod__c"
rep_id = "OwnerId"
presentation = "Presentation_ID_vod__c"
key_message = "Key_Message_vod__c"
duration = "Duration_vod__c"
reaction = "Reaction_vod__c"
channel = ""
# The outbound delivery queue. Every decision a delivery system sends (email, SMS, app, web,
# banner, webinar, mail; not reps' visits) is queued with the decision itself. A channel with a
# target is pushed to its webhook (POST, JSON, header Idempotency-Key: <delivery id>; with a
# secret, X-OpenCLM-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">); the others
# wait for a delivery system to pull them (GET /v1/deliveries/next). Content approval and consent
# are checked again before every attempt. Any answer but 2xx is retried after
# backoff_base_ms × 2^(attempt − 1) (drawn in its upper half, at most backoff_cap_ms) until
# max_attempts; then the delivery is a dead letter, to be retried by a person.
[delivery]
max_attempts = 8
backoff_base_ms = 30000
backoff_cap_ms = 3600000
# Leased deliveries not answered within this time are offered again.
lease_ms = 60000
batch_size = 50
poll_ms = 1000
timeout_ms = 10000
# [delivery.targets.email]
# url = "https://esp.example.org/hooks/openclm"
# secret = "a long random string shared with the receiver"

# Connections to the HTTP API, so that slow or idle clients cannot hold the server's sockets.
# A request's line and headers must arrive within header_read_timeout_ms, else the connection is
# closed; its body within body_read_timeout_ms after that, else the answer is 408 naming the body.
# A connection with no request in flight for idle_timeout_ms is closed. At most max_connections
# are served at once (keep it under the process's open-file limit); more wait in the listen
# queue until one ends.
[connections]
header_read_timeout_ms = 10000
body_read_timeout_ms = 30000
idle_timeout_ms = 60000
max_connections = 1024
"#;

/// Values given on the command line; `None` leaves the lower layers in force.
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
}

impl Settings {
    /// Loads the layers. `file` is read when given (it must then exist), else `openclm.toml` if present.
    pub fn load(file: Option<&Path>, overrides: Overrides) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        match file {
            Some(path) => {
                anyhow::ensure!(
                    path.exists(),
                    "settings file {} does not exist",
                    path.display()
                );
                figment = figment.merge(Toml::file(path));
            }
            None => figment = figment.merge(Toml::file("openclm.toml")),
        }
        let settings: Settings = figment
            // Only the variables that name a setting: OPENCLM_CONFIG and others are not settings.
            .merge(Env::prefixed("OPENCLM_").only(&SETTING_NAMES))
            .merge(Serialized::defaults(overrides))
            .extract()
            .context("invalid settings")?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            !self.database_url.trim().is_empty(),
            "database_url: must not be empty"
        );
        self.listen
            .parse::<std::net::SocketAddr>()
            .with_context(|| {
                format!(
                    "listen: {:?} is not an address such as 127.0.0.1:8080",
                    self.listen
                )
            })?;
        anyhow::ensure!(
            self.max_batch_events >= 1,
            "max_batch_events: must be 1 or more"
        );
        anyhow::ensure!(
            self.max_batch_bytes >= 1024,
            "max_batch_bytes: must be 1024 or more"
        );
        self.rewards.validate()?;
        self.pharmacovigilance.validate()?;
        self.segment.validate()?;
        anyhow::ensure!(
            (1..=24 * 60).contains(&self.sessions.idle_minutes),
            "sessions.idle_minutes: must be from 1 to 1440"
        );
        anyhow::ensure!(
            (1..=24 * 7).contains(&self.sessions.max_hours),
            "sessions.max_hours: must be from 1 to 168"
        );
        if let Some(economics) = &self.economics {
            economics.validate()?;
        }
        if let Some(key) = &self.sendgrid.verification_key {
            openclm_server::sendgrid::VerificationKey::from_base64(key)
                .map_err(|reason| anyhow::anyhow!("sendgrid.verification_key: {reason}"))?;
        }
        self.delivery.validate()?;
        self.connections.validate()?;
        Ok(())
    }

    /// The decision engine these settings describe.
    pub fn engine(&self) -> Engine {
        Engine {
            rules: self.rules.clone(),
            economics: self.economics.clone(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's test jail returns its own large error type
mod tests {
    use super::*;

    #[test]
    fn reward_rules_come_from_the_file_and_are_checked() {
        use openclm_core::EventType;
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "brand.toml",
                "[rewards]\nwindow_days = 30\nresponses = [\"prescription\"]\n",
            )?;
            let s = Settings::load(Some(Path::new("brand.toml")), Overrides::default()).unwrap();
            assert_eq!(s.rewards.window_days, 30);
            assert_eq!(s.rewards.responses, [EventType::Prescription]);
            jail.create_file("opens.toml", "[rewards]\nresponses = [\"opened\"]\n")?;
            let e = Settings::load(Some(Path::new("opens.toml")), Overrides::default())
                .unwrap_err()
                .to_string();
            assert_eq!(e, "rewards.responses: opened cannot count as a response");
            Ok(())
        });
    }

    #[test]
    fn economics_come_from_the_file_and_are_checked() {
        use openclm_core::Channel;
        figment::Jail::expect_with(|jail| {
            assert_eq!(Settings::default().engine().economics, None);
            jail.create_file(
                "brand.toml",
                "[economics]\nresponse_value = 250.0\ncost = { email = 0.5, face_to_face = 150.0 }\n",
            )?;
            let s = Settings::load(Some(Path::new("brand.toml")), Overrides::default()).unwrap();
            let economics = s.engine().economics.unwrap();
            assert_eq!(economics.response_value, 250.0);
            assert_eq!(economics.cost_of(Channel::FaceToFace), 150.0);
            assert_eq!(economics.cost_of(Channel::Sms), 0.0);
            jail.create_file(
                "bad.toml",
                "[economics]\nresponse_value = 250.0\ncost = { email = -1.0 }\n",
            )?;
            let e = Settings::load(Some(Path::new("bad.toml")), Overrides::default())
                .unwrap_err()
                .to_string();
            assert_eq!(e, "economics.cost.email: must be a number of 0 or more");
            jail.create_file("free.toml", "[economics]\ncost = { email = 1.0 }\n")?;
            let e = Settings::load(Some(Path::new("free.toml")), Overrides::default())
                .unwrap_err()
                .to_string();
            assert_eq!(e, "economics.response_value: must be a number above 0");
            Ok(())
        });
    }

    #[test]
    fn a_sendgrid_key_that_is_no_p256_public_key_names_the_setting() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "bad.toml",
                "[sendgrid]\nverification_key = \"bm90IGEga2V5\"\n",
            )?;
            let e = Settings::load(Some(Path::new("bad.toml")), Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("sendgrid.verification_key: "), "{e}");
            use base64::Engine;
            use p256::pkcs8::EncodePublicKey;
            let signing = p256::ecdsa::SigningKey::from_slice(&[9u8; 32]).unwrap();
            let der = p256::PublicKey::from(signing.verifying_key())
                .to_public_key_der()
                .unwrap();
            let key = base64::engine::general_purpose::STANDARD.encode(der.as_bytes());
            jail.create_file(
                "good.toml",
                &format!("[sendgrid]\nverification_key = \"{key}\"\n"),
            )?;
            let s = Settings::load(Some(Path::new("good.toml")), Overrides::default()).unwrap();
            assert!(crate::api_config(&s).sendgrid_key.is_some());
            Ok(())
        });
    }

    #[test]
    fn delivery_targets_come_from_the_file_are_checked_and_their_secret_is_not_shown() {
        use openclm_core::Channel;
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "brand.toml",
                "[delivery]\nmax_attempts = 3\n[delivery.targets.email]\nurl = \"https://esp.example.org/in\"\nsecret = \"0123456789abcdef-secret\"\n",
            )?;
            let s = Settings::load(Some(Path::new("brand.toml")), Overrides::default()).unwrap();
            let config = s.delivery.config();
            assert_eq!(config.max_attempts, 3);
            assert_eq!(
                config.targets[&Channel::Email].url,
                "https://esp.example.org/in"
            );
            assert_eq!(config.lease_ms, 60_000);
            let shown = format!("{s:?}");
            assert!(!shown.contains("0123456789abcdef-secret"), "{shown}");
            assert!(shown.contains("[redacted]"), "{shown}");
            jail.create_file(
                "visits.toml",
                "[delivery.targets.face_to_face]\nurl = \"https://crm.example.org\"\n",
            )?;
            let e = Settings::load(Some(Path::new("visits.toml")), Overrides::default())
                .unwrap_err()
                .to_string();
            assert_eq!(
                e,
                "delivery.targets.face_to_face: reps deliver face_to_face; it has no webhook"
            );
            jail.create_file(
                "ftp.toml",
                "[delivery.targets.sms]\nurl = \"ftp://sms.example.org\"\n",
            )?;
            let e = Settings::load(Some(Path::new("ftp.toml")), Overrides::default())
                .unwrap_err()
                .to_string();
            assert_eq!(
                e,
                "delivery.targets.sms.url: must be an http:// or https:// URL"
            );
            jail.create_file(
                "slow.toml",
                "[delivery]\nlease_ms = 1000\ntimeout_ms = 5000\n",
            )?;
            let e = Settings::load(Some(Path::new("slow.toml")), Overrides::default())
                .unwrap_err()
                .to_string();
            assert_eq!(e, "delivery.timeout_ms: must be shorter than lease_ms");
            Ok(())
        });
    }

    #[test]
    fn connection_limits_come_from_the_file_and_are_checked() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "brand.toml",
                "[connections]\nheader_read_timeout_ms = 2000\nmax_connections = 64\n",
            )?;
            let s = Settings::load(Some(Path::new("brand.toml")), Overrides::default()).unwrap();
            let limits = crate::api_config(&s).connections;
            assert_eq!(limits.header_read_timeout.as_millis(), 2000);
            assert_eq!(limits.max_connections, 64);
            assert_eq!(limits.idle_timeout.as_secs(), 60);
            jail.create_file("none.toml", "[connections]\nmax_connections = 0\n")?;
            let e = Settings::load(Some(Path::new("none.toml")), Overrides::default())
                .unwrap_err()
                .to_string();
            assert_eq!(e, "connections.max_connections: must be from 1 to 1000000");
            jail.create_file("fast.toml", "[connections]\nidle_timeout_ms = 5\n")?;
            let e = Settings::load(Some(Path::new("fast.toml")), Overrides::default())
                .unwrap_err()
                .to_string();
            assert_eq!(
                e,
                "connections.idle_timeout_ms: must be from 100 to 3600000 (one hour)"
            );
            Ok(())
        });
    }

    #[test]
    fn printed_defaults_are_the_defaults() {
        let parsed: Settings = toml::from_str(DEFAULT_TOML).unwrap();
        assert_eq!(parsed, Settings::default());
    }

    #[test]
    fn contact_rules_come_from_the_file_channel_by_channel() {
        use openclm_core::Channel;
        use openclm_core::engine::rules::Cap;
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "brand.toml",
                "[rules]\nmin_gap_hours = 48\n[rules.channel_caps]\nemail = { max = 1, days = 14 }\n",
            )?;
            let s = Settings::load(Some(Path::new("brand.toml")), Overrides::default()).unwrap();
            assert_eq!(s.rules.min_gap_hours, 48);
            assert_eq!(
                s.rules.channel_caps[&Channel::Email],
                Cap { max: 1, days: 14 }
            );
            // Channels the file does not name keep their default caps.
            assert_eq!(s.rules.channel_caps[&Channel::Sms], Cap { max: 1, days: 7 });
            jail.create_file(
                "bad.toml",
                "[rules.channel_caps]\npigeon = { max = 1, days = 7 }\n",
            )?;
            let e = Settings::load(Some(Path::new("bad.toml")), Overrides::default()).unwrap_err();
            assert!(format!("{e:#}").contains("pigeon"), "{e:#}");
            Ok(())
        });
    }

    #[test]
    fn layers_apply_in_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "custom.toml",
                "listen = \"127.0.0.1:9000\"\nmax_batch_events = 5\n",
            )?;
            jail.set_env("OPENCLM_MAX_BATCH_EVENTS", "7");
            jail.set_env("OPENCLM_DATABASE_URL", "env.db");
            jail.set_env("OPENCLM_API_KEY", "not a setting, ignored");
            let s = Settings::load(
                Some(Path::new("custom.toml")),
                Overrides {
                    database_url: Some("flag.db".into()),
                    listen: None,
                },
            )
            .unwrap();
            assert_eq!(s.listen, "127.0.0.1:9000");
            assert_eq!(s.max_batch_events, 7);
            assert_eq!(s.database_url, "flag.db");
            Ok(())
        });
    }

    #[test]
    fn bad_values_name_the_setting() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("OPENCLM_LISTEN", "everywhere");
            let e = Settings::load(None, Overrides::default()).unwrap_err();
            assert!(format!("{e:#}").contains("listen"), "{e:#}");
            jail.set_env("OPENCLM_LISTEN", "127.0.0.1:1");
            jail.set_env("OPENCLM_UNKNOWN_HCP", "maybe");
            let e = Settings::load(None, Overrides::default()).unwrap_err();
            assert!(
                format!("{e:#}").to_lowercase().contains("unknown_hcp"),
                "{e:#}"
            );
            Ok(())
        });
    }
}
