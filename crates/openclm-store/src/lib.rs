//! OpenCLM's storage: the [`Store`] trait every backend implements, the types it speaks, the
//! embedded SQLite backend and the PostgreSQL backend for shared deployments.

mod activity;
mod any;
mod audit;
mod delivery;
mod export;
mod kpi;
mod postgres;
mod rows;
mod sqlite;
mod store;
pub mod transfer;

use openclm_core::auth::User;
use openclm_core::content::ContentStatus;
use openclm_core::pv::AeStatus;
use openclm_core::suggest::{Suggestion, Week};
use openclm_core::{Channel, EventType, FieldError, HcpId, Timestamp};
use serde::Serialize;

pub use any::AnyStore;
pub use delivery::{LeaseAnswer, answer_lease};
pub use export::{ExportEvent, ExportHcp, MAX_EXPORT_PAGE};
pub use postgres::{PgStore, create_schema, drop_schema, is_postgres_url, url_with_schema};
pub use sqlite::{SqliteStore, sqlite_path};
pub use store::{
    Access, Campaigns, Decisions, Deliveries, Events, Governance, Identity, Maintenance,
    MasterData, RepPlans, Reporting, Store,
};
pub use transfer::TableDigest;

/// Errors a store reports. Only [`StoreError::Invalid`] is the client's doing.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The request conflicts with what is stored (e.g. an external id owned by another HCP).
    #[error(transparent)]
    Invalid(#[from] FieldError),
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("database error: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// The database cannot be reached now (no free connection, server down).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("the store is shutting down")]
    Closed,
    #[error("database location: {0}")]
    Location(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    /// Whether the database refused a write for a cause outside OpenCLM that may pass: a
    /// read-only file, directory or file system, a full disk, an I/O error, a read-only
    /// PostgreSQL transaction or server. Such a failure is "unavailable", not corrupt data.
    pub fn cannot_write(&self) -> bool {
        match self {
            StoreError::Database(e) => sqlite::cannot_write(e),
            StoreError::Postgres(e) => {
                e.code() == Some(&tokio_postgres::error::SqlState::READ_ONLY_SQL_TRANSACTION)
            }
            _ => false,
        }
    }
}

/// What to do with an event whose HCP is not known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownHcpPolicy {
    /// Reject the event, naming the `hcp` field.
    #[default]
    Reject,
    /// Create a stub HCP (to be completed by master data later) and accept the event.
    CreateStub,
}

/// The fate of one event of an ingest batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestOutcome {
    /// Stored now.
    Accepted,
    /// Already stored with the same payload: nothing changed.
    Duplicate,
    /// Already stored under the same `event_id` with a different payload: nothing changed.
    Conflict,
    /// Not stored, for this reason.
    Rejected(FieldError),
}

/// A page of results and the cursor for the next one, if any.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Filters of the HCP list; `None` matches all.
#[derive(Debug, Clone, Default)]
pub struct HcpFilter {
    pub territory: Option<String>,
    pub specialty: Option<String>,
    pub country: Option<String>,
}

/// Filters of the decision log; `None` matches all.
#[derive(Debug, Clone, Default)]
pub struct DecisionFilter {
    pub campaign_id: Option<String>,
    /// Made at or after, and before.
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
}

/// Which of a campaign's KPI slices to read.
#[derive(Debug, Clone, Default)]
pub struct KpiFilter {
    pub campaign_id: String,
    /// Days since 1970-01-01 (UTC): from this day, and before that one.
    pub from_day: Option<i64>,
    pub until_day: Option<i64>,
}

/// One slice of a campaign's KPIs: a day × group × wave × channel × content × segment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SliceRow {
    pub day: i64,
    /// [`HOLDOUT`] or the arm's index.
    pub group: i64,
    /// The wave's number; 0 when the event belongs to no wave.
    pub wave: i64,
    pub channel: Channel,
    /// Empty when the events named no content.
    pub content_id: String,
    pub specialty: String,
    pub country: String,
    pub counts: openclm_core::measure::kpi::Counts,
}

/// A campaign group's size and the sums lift needs: members, those reached and responding, and
/// the sum and sum of squares of each member's responses and outcome units.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct GroupMoments {
    pub group: i64,
    pub members: u64,
    pub reached: u64,
    pub responders: u64,
    pub responses: f64,
    pub responses_sq: f64,
    pub outcome: f64,
    pub outcome_sq: f64,
    pub touches: u64,
}

/// The brand's activity on one day and channel, every stored event counted, campaign or not.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActivityDay {
    /// Days since 1970-01-01 (UTC).
    pub day: i64,
    pub channel: Channel,
    /// The touch metrics (`measure::kpi::touch_counts`); responses and outcome units, which
    /// belong to campaigns, stay 0. A machine open is one a privacy proxy made (its user agent or
    /// address): the campaign KPIs also count an open seconds after its decision's delivery as
    /// a machine's, but the rollup links no event to a decision, so such an open counts here as
    /// a person's.
    pub counts: openclm_core::measure::kpi::Counts,
}

/// Reach in one week (Monday to Sunday, UTC).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeekReach {
    /// Weeks since the one of 1970-01-01: `(day + 3).div_euclid(7)` (1970-01-01 was a
    /// Thursday).
    pub week: i64,
    /// Distinct HCPs with at least one delivery (a delivered message or a logged call).
    pub reached: u64,
    /// Deliveries, all HCPs together.
    pub delivered: u64,
    /// HCPs reached that week who also engaged that week (clicked, read, answered, attended).
    pub engaged: u64,
}

impl WeekReach {
    /// The week's Monday, in days since 1970-01-01.
    pub fn first_day(&self) -> i64 {
        self.week * 7 - 3
    }
}

/// The brand's activity over a range of days: what the overview shows.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Activity {
    /// Per day and channel, sorted by day then channel; days and channels with nothing left out.
    pub days: Vec<ActivityDay>,
    /// Every week overlapping the range, sorted, weeks nobody was reached in included (zeros).
    pub weeks: Vec<WeekReach>,
    /// Distinct HCPs with a delivery in any of those weeks.
    pub reached: u64,
    /// Of them, those who engaged in a week they were reached.
    pub engaged: u64,
}

/// What one content item (or one of its slides / key messages) drew, every stored event that
/// names it counted: what the content library shows as its performance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContentActivity {
    pub content_id: String,
    /// The slide or key message; empty for events that name the item only.
    pub key_message: String,
    pub counts: openclm_core::measure::kpi::Counts,
}

/// A fold that reads every stored event after a cursor of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fold {
    /// The campaign KPIs ([`Campaigns::fold_kpis`]).
    CampaignKpis,
    /// The brand's activity rollup ([`Reporting::fold_activity`]).
    Activity,
}

impl Fold {
    /// The name stored in `fold_quarantine.fold` and shown to people.
    pub fn as_str(self) -> &'static str {
        match self {
            Fold::CampaignKpis => "campaign_kpis",
            Fold::Activity => "activity",
        }
    }

    pub(crate) fn from_stored(text: &str) -> Result<Self> {
        match text {
            "campaign_kpis" => Ok(Fold::CampaignKpis),
            "activity" => Ok(Fold::Activity),
            other => Err(StoreError::Corrupt(format!(
                "fold_quarantine.fold: unknown fold {other:?}"
            ))),
        }
    }
}

/// A stored event a fold set aside instead of counting (its payload no longer parses, or what
/// it adds could not be written), so that the fold went on past it. Listed, never counted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuarantinedEvent {
    pub fold: Fold,
    pub seq: i64,
    /// The event's id, when its payload still names one.
    pub event_id: Option<String>,
    /// Why, naming the field when one is at fault; never the payload's text.
    pub reason: String,
    pub quarantined_at: Timestamp,
}

/// Most quarantined events one read lists.
pub const MAX_QUARANTINE_LIST: usize = 1_000;

/// One run of the simulator, kept for the dashboard. Its body holds synthetic HCPs only, never a
/// real person's data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimulationRun {
    pub run_id: String,
    pub ran_at: Timestamp,
    /// The run's results as JSON, stored and returned as given.
    pub body: serde_json::Value,
}

/// Filters of the content list.
#[derive(Debug, Clone, Default)]
pub struct ContentFilter {
    pub status: Option<ContentStatus>,
    pub product: Option<String>,
}

/// Filters of an HCP's timeline.
#[derive(Debug, Clone, Default)]
pub struct TimelineFilter {
    pub channel: Option<Channel>,
    pub kind: Option<EventType>,
}

/// Where a page starts and how long it is.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    pub cursor: Option<String>,
    pub limit: usize,
}

/// An event as stored, with the OpenCLM HCP it was resolved to.
#[derive(Debug, Clone, Serialize)]
pub struct StoredEvent {
    pub seq: i64,
    pub event_id: String,
    pub hcp_id: String,
    pub occurred_at: Timestamp,
    pub received_at: Timestamp,
    pub channel: Channel,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub source: String,
    /// The event object as the source sent it, unknown fields included.
    pub event: serde_json::Value,
}

/// An API key as stored (its hash, never the key).
#[derive(Debug, Clone, Serialize)]
pub struct ApiKeyRecord {
    pub key_id: String,
    #[serde(skip)]
    pub hash: String,
    pub role: String,
    pub label: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// What a store applies to every event it ingests, fixed when it is opened: how outcomes credit
/// decisions, and what adverse-event screening looks for.
#[derive(Debug, Clone, Default)]
pub struct IngestRules {
    pub rewards: openclm_core::engine::reward::RewardConfig,
    pub pv: openclm_core::pv::PvConfig,
}

impl From<openclm_core::engine::reward::RewardConfig> for IngestRules {
    fn from(rewards: openclm_core::engine::reward::RewardConfig) -> Self {
        Self {
            rewards,
            pv: Default::default(),
        }
    }
}

/// A person's account as stored, with what login needs.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub user: User,
    pub password_hash: String,
    pub failed_logins: u32,
    pub locked_until: Option<Timestamp>,
}

/// How long a login session lives.
#[derive(Debug, Clone, Copy)]
pub struct SessionLimits {
    /// Ended after this long without a request.
    pub idle_ms: i64,
    /// Ended this long after login, however busy.
    pub max_ms: i64,
}

impl SessionLimits {
    /// The longest a request may go unrecorded: a request within this of the session's last
    /// recorded use writes nothing, so a busy session (the dashboard polls every 2 s) costs a
    /// write at most this often, not on every request. A 120th of the idle time (0.5 s for one
    /// minute, 15 s for the default 30), never more than a minute.
    pub fn touch_every_ms(self) -> i64 {
        (self.idle_ms / 120).clamp(0, 60_000)
    }

    /// Whether a request at `now` must record itself as the session's last use.
    pub fn needs_touch(self, last_seen: i64, now: i64) -> bool {
        !(0..=self.touch_every_ms()).contains(&(now - last_seen))
    }

    /// Whether a session made at `created` and last recorded as used at `last_seen` is still
    /// live at `now`. A request after `last_seen` may have gone unrecorded (up to
    /// `touch_every_ms` later), so the idle time counts from the latest moment that request can
    /// have been: activity always keeps a session alive, and silence ends it between `idle_ms`
    /// and `idle_ms + touch_every_ms` after the last request.
    pub fn live(self, created: i64, last_seen: i64, now: i64) -> bool {
        now - last_seen <= self.idle_ms + self.touch_every_ms() && now - created <= self.max_ms
    }
}

/// A potential adverse-event case as stored.
#[derive(Debug, Clone, Serialize)]
pub struct AeCase {
    pub case_id: String,
    pub event_id: String,
    /// The reporter: the HCP's OpenCLM id (a pseudonym once erased).
    pub hcp_id: String,
    pub source: String,
    /// The event field the text came from (`text`, `notes`, `answer`).
    pub field: String,
    /// Day zero: when OpenCLM received the text.
    pub received_at: Timestamp,
    pub due_at: Timestamp,
    pub text: String,
    /// What screening found: products, events, special situations, criteria.
    pub findings: serde_json::Value,
    pub status: AeStatus,
    pub triaged_by: Option<String>,
    pub triaged_at: Option<Timestamp>,
    pub external_ref: Option<String>,
    pub triage_note: Option<String>,
    pub alerted_at: Option<Timestamp>,
}

/// A case for a flagged text that came other than as an event.
#[derive(Debug, Clone)]
pub struct NewAeCase {
    pub case_id: String,
    /// What the text came with (a suggestion id), in place of an event id.
    pub event_id: String,
    pub hcp: HcpId,
    pub source: String,
    pub field: String,
    pub text: String,
    /// What screening found, as JSON.
    pub findings: String,
    pub due_hours: i64,
}

/// Which AE cases to list; `None` matches all.
#[derive(Debug, Clone, Default)]
pub struct AeFilter {
    pub status: Option<AeStatus>,
    /// Open cases due before this time (overdue ones, given now).
    pub due_before: Option<Timestamp>,
    /// Only cases not yet alerted.
    pub not_alerted: bool,
    /// Only cases from this source (`crm`, `survey`, ...).
    pub source: Option<String>,
    /// Only cases naming this product, as screening reported it (compared in any case).
    pub product: Option<String>,
    /// Cases of the order skipped before the first returned: a page's start.
    pub offset: u64,
    /// At most this many cases; all when `None`.
    pub limit: Option<u32>,
}

/// How the PV queue stands: what its tiles show, counted in the store rather than by reading
/// every case.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AeCounts {
    pub open: u64,
    /// Open and past their deadline.
    pub overdue: u64,
    /// Decided (any decision).
    pub triaged: u64,
}

/// The reconciliation of screening for one source.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SourceScreening {
    pub source: String,
    /// Free texts screened.
    pub screened: u64,
    /// Cases opened.
    pub flagged: u64,
    /// Cases forwarded to the safety database as adverse events.
    pub forwarded: u64,
    /// Cases PV has triaged (any decision).
    pub acknowledged: u64,
}

/// One content version sent to an HCP.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SendRecord {
    pub decision_id: String,
    pub hcp_id: String,
    pub content_id: String,
    pub content_version: u32,
    pub content_hash: String,
    pub channel: Channel,
    pub sent_at: Timestamp,
}

/// Which sends to list.
#[derive(Debug, Clone, Default)]
pub struct SendFilter {
    pub content_id: Option<String>,
    pub hcp: Option<HcpId>,
}

/// What withdrawing content stopped at once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct WithdrawalEffect {
    /// Pending rep suggestions with the content, cancelled.
    pub suggestions_cancelled: u64,
    /// Decisions with the content not yet delivered, cancelled (they no longer hold a place
    /// under the caps, and a late delivery report no longer credits them).
    pub sends_cancelled: u64,
}

/// What erasing an HCP changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ErasureReport {
    pub pseudonym: String,
    pub events_redacted: u64,
    pub external_ids_removed: u64,
    pub consent_records_removed: u64,
    pub suppressions_added: u64,
    /// Adverse-event cases kept, as pharmacovigilance law requires.
    pub ae_cases_kept: u64,
}

/// A decision of the engine, as logged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecisionRecord {
    pub decision_id: String,
    pub hcp_id: String,
    pub made_at: Timestamp,
    /// Identifies the learned counts the decision was made with.
    pub model_version: i64,
    pub chosen_content: Option<String>,
    pub chosen_channel: Option<Channel>,
    /// The probability with which the chosen action was picked; for a decision that held back
    /// (no action chosen, with economics), the probability of holding back.
    pub propensity: Option<f64>,
    /// The model nodes (global, segment, HCP) of the chosen action's arm, which its outcome
    /// credits.
    pub nodes: Option<[u64; 3]>,
    /// When the chosen action was first reported delivered, and first responded to.
    pub delivered_at: Option<Timestamp>,
    pub rewarded_at: Option<Timestamp>,
    /// Until when the chosen action, while undelivered, holds its place under the caps.
    pub reserved_until: Option<Timestamp>,
    /// The whole decision: ranked actions, blocked candidates, how propensities were obtained.
    pub body: serde_json::Value,
    /// The campaign wave and arm the decision was made for, if any.
    pub campaign: Option<CampaignTag>,
}

/// Which campaign, wave and arm a decision belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CampaignTag {
    pub campaign_id: String,
    /// Index of the wave and of the arm in the campaign's definition.
    pub wave: u32,
    pub arm: u32,
}

/// A campaign wave that ran: stored once, with its decisions and the HCPs it targeted.
#[derive(Debug, Clone)]
pub struct NewWave {
    pub campaign_id: String,
    /// The wave's index in the campaign's definition.
    pub wave: u32,
    pub ran_at: Timestamp,
    /// Every targeted HCP (by OpenCLM id) with their group: [`HOLDOUT`] or the arm's index.
    pub members: Vec<(String, i64)>,
    /// What the wave decided for each treated HCP.
    pub treated: Vec<WaveMember>,
    pub decisions: Vec<DecisionRecord>,
    /// What the wave did, as reported to the marketer (decided, held back, blocked by reason).
    pub summary: serde_json::Value,
}

/// What a wave decided for one treated HCP.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WaveMember {
    pub hcp_id: String,
    pub group: i64,
    pub decision_id: Option<String>,
    pub channel: Option<Channel>,
    pub content_id: Option<String>,
    /// Why nothing was sent: `no_consent`, `capped` or `not_allowed`; `None` when something was.
    pub blocked: Option<String>,
}

/// A treated HCP of a wave, with what came of it so far (every stored event counted).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WaveMemberRow {
    pub member: WaveMember,
    pub specialty: String,
    pub country: String,
    pub delivered: u64,
    pub opened: u64,
    pub engaged: u64,
    pub responses: u64,
    pub first_delivered_at: Option<Timestamp>,
}

/// The longest range of days [`Reporting::activity`] answers for (about a century): its weeks are
/// listed one by one.
pub const MAX_ACTIVITY_DAYS: i64 = 36_525;

/// The group number of a campaign's holdout in `campaign_members`.
pub const HOLDOUT: i64 = -1;

/// A wave as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WaveRecord {
    pub campaign_id: String,
    pub wave: u32,
    pub ran_at: Timestamp,
    pub summary: serde_json::Value,
}

/// A touch decided for an HCP and not yet reported delivered, still holding its place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedTouch {
    pub decision_id: String,
    pub channel: Channel,
    pub at: Timestamp,
    pub content_id: Option<String>,
}

/// A rep's plan for a week, stored with the decisions behind its suggestions.
#[derive(Debug, Clone)]
pub struct NewPlan {
    pub rep_id: String,
    pub week: Week,
    pub decisions: Vec<DecisionRecord>,
    pub suggestions: Vec<Suggestion>,
    pub made_at: Timestamp,
}

impl NewPlan {
    /// The plan's suggestions whose content is all in `usable`, and their decisions.
    pub(crate) fn usable(&self, usable: &[String]) -> (Vec<DecisionRecord>, Vec<Suggestion>) {
        let suggestions: Vec<Suggestion> = self
            .suggestions
            .iter()
            .filter(|s| {
                std::iter::once(&s.content_id)
                    .chain(&s.key_messages)
                    .all(|c| usable.contains(c))
            })
            .cloned()
            .collect();
        let decisions = self
            .decisions
            .iter()
            .filter(|d| suggestions.iter().any(|s| s.decision_id == d.decision_id))
            .cloned()
            .collect();
        (decisions, suggestions)
    }
}

/// Which suggestions to list; `None` matches all.
#[derive(Debug, Clone, Default)]
pub struct SuggestionFilter {
    pub week: Option<Week>,
    pub rep_id: Option<String>,
    /// One HCP's suggestions (by their OpenCLM id), most recently changed first, at most
    /// [`HCP_SUGGESTIONS`] of them.
    pub hcp_id: Option<String>,
}

/// The most suggestions an HCP filter returns.
pub const HCP_SUGGESTIONS: usize = 50;

/// Whether an upsert made a new record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    Created,
    Updated,
}

/// Row counts, for reports and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StoreCounts {
    pub hcps: u64,
    pub content: u64,
    pub events: u64,
    pub consent_records: u64,
    pub api_keys: u64,
}

/// What an integrity check found; empty `problems` means sound.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IntegrityReport {
    pub problems: Vec<String>,
}

/// What became of an event offered to be held for an anonymous visitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parked {
    /// Held until the visitor is linked.
    Held,
    /// Held already (a resend).
    AlreadyHeld,
    /// Not held: the visitor was linked to this user meanwhile, so the event is theirs to store.
    Linked(String),
    /// Not held: the visitor holds as many events as a visitor not yet identified may.
    Full,
}

/// How much a tracking source may hold for visitors not yet identified: anyone with a public
/// write key can invent anonymous ids, so what they hold is bounded per visitor and in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldLimits {
    pub per_visitor: u32,
    pub max_age_ms: i64,
}

/// An event of a visitor a tracking source knows only by an anonymous id, held until the source
/// identifies them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParkedEvent {
    pub anonymous_id: String,
    pub event_id: String,
    /// The OpenCLM event object, whole but for its `hcp`, as JSON text.
    pub payload: String,
}

/// One decision's delivery, as queued.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delivery {
    /// Stable per decision (`dlv_` and the decision's id): what receivers de-duplicate by.
    pub delivery_id: String,
    pub decision_id: String,
    pub hcp_id: String,
    pub channel: Channel,
    pub content_id: String,
    pub campaign_id: Option<String>,
    pub status: openclm_core::delivery::DeliveryStatus,
    /// Attempts made so far (leases taken).
    pub attempts: u32,
    /// When the item may next be offered; while leased, when the lease ends.
    pub due_at: Timestamp,
    /// The lease it was last offered under, shown only to the sender that took it; kept once it
    /// is delivered, or cancelled by a withdrawal while leased, so a repeated or late answer
    /// under it is recognised.
    #[serde(skip)]
    pub lease_token: Option<String>,
    /// The last failure (a status code or an error kind) or why it was cancelled.
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A sender's request for due deliveries.
#[derive(Debug, Clone)]
pub struct DeliveryClaim {
    /// Only these channels.
    pub channels: Vec<Channel>,
    pub limit: usize,
    /// How long the sender holds the items; unanswered, they are offered again after it.
    pub lease_ms: i64,
    /// An item whose lease expired after this many attempts goes to the dead letters instead.
    pub max_attempts: u32,
    /// Names this lease; answers must carry it.
    pub token: String,
    pub now: Timestamp,
}

/// What came of one attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryOutcome {
    Delivered,
    /// Failed; offered again at `at`.
    Retry {
        error: String,
        at: Timestamp,
    },
    /// Failed for the last time.
    Dead {
        error: String,
    },
    /// Must not be sent (content no longer approved, consent gone, no address).
    Cancelled {
        reason: String,
    },
}

/// Which deliveries to list; `None` matches all.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub status: Option<openclm_core::delivery::DeliveryStatus>,
    pub channel: Option<Channel>,
}

/// How many deliveries stand in one status on one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryCount {
    pub status: openclm_core::delivery::DeliveryStatus,
    pub channel: Channel,
    pub count: u64,
}

/// What callers holding a concrete store import to call any of its operations:
/// `use openclm_store::prelude::*;`.
pub mod prelude {
    pub use crate::AnyStore;
    pub use crate::store::{
        Access, Campaigns, Decisions, Deliveries, Events, Governance, Identity, Maintenance,
        MasterData, RepPlans, Reporting, Store,
    };
}

/// Cursor text for keyset pagination: opaque to clients, checked when read back.
pub(crate) mod cursor {
    use openclm_core::FieldError;

    pub fn encode_pair(a: i64, b: i64) -> String {
        format!("{a}_{b}")
    }

    pub fn decode_pair(text: &str) -> Result<(i64, i64), FieldError> {
        text.split_once('_')
            .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
            .ok_or_else(|| FieldError::new("cursor", "is not a cursor this server issued"))
    }

    pub fn decode_text(text: &str) -> Result<String, FieldError> {
        openclm_core::hcp::parse_identifier("cursor", text)
    }
}
