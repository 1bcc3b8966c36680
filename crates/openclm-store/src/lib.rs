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
pub mod transfer;

use openclm_core::audit::{AuditEntry, NewAudit};
use openclm_core::auth::User;
use openclm_core::campaign::Campaign;
use openclm_core::consent::ConsentRecord;
use openclm_core::content::{Content, ContentStatus};
use openclm_core::engine::model::Counts;
use openclm_core::pv::{AeStatus, Triage};
use openclm_core::state::HcpState;
use openclm_core::suggest::{Feedback, Rep, Suggestion, Week};
use openclm_core::{Channel, Event, EventType, FieldError, Hcp, HcpId, Timestamp};
use serde::Serialize;

pub use any::AnyStore;
pub use delivery::{LeaseAnswer, answer_lease};
pub use export::{ExportEvent, ExportHcp, MAX_EXPORT_PAGE};
pub use postgres::{PgStore, create_schema, drop_schema, is_postgres_url, url_with_schema};
pub use sqlite::{SqliteStore, sqlite_path};
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// The campaign KPIs ([`Store::fold_kpis`]).
    CampaignKpis,
    /// The brand's activity rollup ([`Store::fold_activity`]).
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

/// The longest range of days [`Store::activity`] answers for (about a century): its weeks are
/// listed one by one.
pub const MAX_ACTIVITY_DAYS: i64 = 36_525;

/// The group number of a campaign's holdout in `campaign_members`.
pub const HOLDOUT: i64 = -1;

/// A wave as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

/// The operations OpenCLM needs from a database. Every backend passes the same test suite.
///
/// Writes return only once durable. All times are passed in by the caller.
#[trait_variant::make(Send)]
pub trait Store: Clone + Send + Sync + 'static {
    /// Applies pending migrations; returns the versions applied now.
    async fn migrate(&self) -> Result<Vec<i64>>;

    /// Whether the database can be written now: `Err` with [`StoreError::Unavailable`] naming
    /// the cause when it cannot. Cheap while writes succeed; after a write was refused it probes
    /// with a real write, so that it turns healthy again once the cause is gone.
    async fn check_writable(&self) -> Result<()>;

    /// Stores a batch of parsed events, returning one outcome per event in order.
    async fn ingest(
        &self,
        events: Vec<Event>,
        unknown_hcp: UnknownHcpPolicy,
        now: Timestamp,
    ) -> Result<Vec<IngestOutcome>>;

    /// Writes HCPs, each on its own: one whose external ids belong to another HCP is refused with
    /// the field at fault, and the others are written.
    /// Creates or updates HCPs' master data, each change audited under `actor`.
    async fn put_hcps(
        &self,
        hcps: Vec<Hcp>,
        actor: String,
        now: Timestamp,
    ) -> Result<Vec<std::result::Result<Upserted, FieldError>>>;
    async fn get_hcp(&self, id: HcpId) -> Result<Option<Hcp>>;
    async fn list_hcps(&self, filter: HcpFilter, page: PageRequest) -> Result<Page<Hcp>>;

    /// Creates or replaces content items as given (MLR record included), each with an audit
    /// entry naming `actor` and the old and new item.
    async fn put_content(
        &self,
        items: Vec<Content>,
        actor: String,
        now: Timestamp,
    ) -> Result<Vec<Upserted>>;
    async fn get_content(&self, id: String, now: Timestamp) -> Result<Option<Content>>;
    async fn list_content(
        &self,
        filter: ContentFilter,
        page: PageRequest,
        now: Timestamp,
    ) -> Result<Page<Content>>;

    /// An HCP's events, newest first; `None` when the HCP is unknown.
    async fn timeline(
        &self,
        hcp: HcpId,
        filter: TimelineFilter,
        page: PageRequest,
    ) -> Result<Option<Page<StoredEvent>>>;

    /// An HCP's consent history, oldest first; `None` when the HCP is unknown.
    async fn consent_history(&self, hcp: HcpId) -> Result<Option<Vec<ConsentRecord>>>;

    /// What has been learned about an HCP from every event stored for them (the empty state
    /// before the first); `None` when the HCP is unknown.
    async fn hcp_state(&self, hcp: HcpId) -> Result<Option<HcpState>>;

    /// Stores a new key with its audit entry.
    async fn create_api_key(
        &self,
        key: ApiKeyRecord,
        audit: NewAudit,
        now: Timestamp,
    ) -> Result<()>;
    async fn find_api_key(&self, key_id: String) -> Result<Option<ApiKeyRecord>>;
    async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>>;
    /// Revokes a key; false when there is no such key.
    /// Revokes an active key; `false` if there is no active key with this id.
    async fn revoke_api_key(&self, key_id: String, audit: NewAudit, now: Timestamp)
    -> Result<bool>;

    /// Creates an account; `false` if the id is taken.
    async fn create_user(&self, user: User, password_hash: String, audit: NewAudit)
    -> Result<bool>;
    async fn find_user(&self, user_id: String) -> Result<Option<UserRecord>>;
    async fn list_users(&self) -> Result<Vec<User>>;
    /// Disables an account and ends its sessions; `false` if there is no such account.
    async fn disable_user(&self, user_id: String, audit: NewAudit, now: Timestamp) -> Result<bool>;
    /// Before a password is checked (`succeeded` false): counts the attempt as failed unless the
    /// account is locked or disabled, locking it once too many have failed in a row; `false`
    /// when the attempt may not proceed. After a password matched (`succeeded` true): clears the
    /// count. Counting first means parallel guesses cannot exceed the limit.
    async fn record_login(&self, user_id: String, succeeded: bool, now: Timestamp) -> Result<bool>;
    async fn create_session(
        &self,
        token_hash: String,
        user_id: String,
        now: Timestamp,
    ) -> Result<()>;
    /// The session's user if the session is live (not ended, idle or too old, the account not
    /// disabled), marking it used now; a session found dead is ended.
    async fn touch_session(
        &self,
        token_hash: String,
        now: Timestamp,
        limits: SessionLimits,
    ) -> Result<Option<User>>;
    async fn end_session(&self, token_hash: String, now: Timestamp) -> Result<bool>;

    /// Appends entries to the audit trail, chained after the newest.
    async fn append_audit(&self, entries: Vec<NewAudit>, now: Timestamp) -> Result<()>;
    /// Entries after `after_seq` in order, of one record or all.
    async fn audit_entries(
        &self,
        record: Option<String>,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<AuditEntry>>;

    /// Replaces a content item if its stored status and hash are still `expected` (so two
    /// reviewers never both act on one version), with its audit entry. Withdrawal also cancels
    /// the content's pending suggestions and undelivered decisions in the same transaction.
    /// `None` if the item does not exist, `Some(false)` if it changed meanwhile.
    async fn transition_content(
        &self,
        content: Content,
        expected: (ContentStatus, String),
        audit: NewAudit,
        now: Timestamp,
    ) -> Result<Option<(bool, WithdrawalEffect)>>;
    async fn send_history(&self, filter: SendFilter, limit: usize) -> Result<Vec<SendRecord>>;

    /// Cases in the queue's order: by deadline, then case id.
    async fn ae_cases(&self, filter: AeFilter) -> Result<Vec<AeCase>>;
    async fn ae_case_counts(&self, now: Timestamp) -> Result<AeCounts>;
    async fn get_ae_case(&self, case_id: String) -> Result<Option<AeCase>>;
    /// Records PV's decision on an open case; `None` if there is no such case, `Some(false)` if
    /// it was already triaged.
    async fn triage_ae_case(
        &self,
        case_id: String,
        triage: Triage,
        by: String,
        audit: NewAudit,
        now: Timestamp,
    ) -> Result<Option<bool>>;
    async fn mark_ae_alerted(&self, case_ids: Vec<String>, now: Timestamp) -> Result<()>;
    /// Opens a case for a flagged text that did not come as an event (a rep's note on a
    /// suggestion), counted under its source; `false` if the case exists or the HCP is unknown.
    async fn open_ae_case(&self, case: NewAeCase, now: Timestamp) -> Result<bool>;
    async fn screening_report(&self) -> Result<Vec<SourceScreening>>;

    /// Which of `hashes` are on the suppression list.
    async fn suppressed(&self, hashes: Vec<String>) -> Result<Vec<String>>;
    /// Erases an HCP's personal data: the profile is pseudonymized, external ids and email
    /// removed, event payloads stripped of identifiers and free text, consent records and
    /// cached state removed, `suppress` hashes added to the suppression list. Aggregates, AE
    /// cases and the audit trail are kept. `None` if there is no such HCP.
    async fn erase_hcp(
        &self,
        hcp: HcpId,
        pseudonym: String,
        suppress: Vec<String>,
        audit: NewAudit,
        now: Timestamp,
    ) -> Result<Option<ErasureReport>>;

    async fn counts(&self) -> Result<StoreCounts>;
    /// Checks the database's own integrity and OpenCLM's invariants (each event once, indexes whole).
    async fn check_integrity(&self) -> Result<IntegrityReport>;

    /// Row count and content hash of every table of the logical schema, from one snapshot: equal
    /// on two databases exactly when they hold the same data.
    async fn table_digests(&self) -> Result<Vec<TableDigest>>;

    /// The learned counts of the model nodes with these keys; nodes never updated are left out.
    async fn model_nodes(&self, keys: Vec<u64>) -> Result<Vec<(u64, Counts)>>;
    /// Adds to model counts. Increments commute, so nodes adding at once lose nothing.
    async fn add_model_counts(&self, increments: Vec<(u64, Counts)>) -> Result<()>;
    /// Logs decisions in one durable write; for each, false when its HCP is unknown.
    async fn log_decisions(&self, decisions: Vec<DecisionRecord>) -> Result<Vec<bool>>;
    async fn get_decision(&self, decision_id: String) -> Result<Option<DecisionRecord>>;
    /// The decision log, by decision id, with each decision's whole body.
    async fn list_decisions(
        &self,
        filter: DecisionFilter,
        page: PageRequest,
    ) -> Result<Page<DecisionRecord>>;
    /// The HCP's decisions not yet reported delivered whose hold lasts beyond `now`.
    async fn planned_touches(&self, hcp: HcpId, now: Timestamp) -> Result<Vec<PlannedTouch>>;

    /// Creates or replaces a campaign's definition, audited under `actor` with the old and new.
    async fn put_campaign(
        &self,
        campaign: Campaign,
        actor: String,
        now: Timestamp,
    ) -> Result<Upserted>;
    async fn get_campaign(&self, campaign_id: String) -> Result<Option<Campaign>>;
    /// Every campaign, by id.
    async fn list_campaigns(&self) -> Result<Vec<Campaign>>;
    /// Stores a wave's decisions and members in one transaction, unless the wave already ran
    /// (on any node): then nothing is written. Returns the stored wave and whether this call
    /// stored it.
    async fn save_wave(&self, wave: NewWave) -> Result<(WaveRecord, bool)>;
    async fn list_waves(&self, campaign_id: String) -> Result<Vec<WaveRecord>>;
    /// How many HCPs each group of the campaign holds ([`HOLDOUT`] or an arm's index).
    async fn campaign_groups(&self, campaign_id: String) -> Result<Vec<(i64, u64)>>;
    /// Folds up to `batch` stored events not yet counted into the campaign KPIs; returns how
    /// many it read (0: all are counted).
    async fn fold_kpis(&self, batch: usize) -> Result<usize>;
    /// The campaign's KPI slices, every stored event counted.
    async fn campaign_slices(&self, filter: KpiFilter) -> Result<Vec<SliceRow>>;
    /// Each group's size and sums, every stored event counted.
    async fn campaign_moments(&self, campaign_id: String) -> Result<Vec<GroupMoments>>;
    /// The treated HCPs of one wave, with what came of it, every stored event counted.
    async fn wave_members(&self, campaign_id: String, wave: u32) -> Result<Vec<WaveMemberRow>>;

    /// Folds up to `batch` stored events not yet in the all-activity rollup; returns how many it
    /// read.
    async fn fold_activity(&self, batch: usize) -> Result<usize>;
    /// The events the folds set aside instead of counting, newest first, at most `limit` (and
    /// at most [`MAX_QUARANTINE_LIST`]). An event both folds set aside is listed once per fold.
    /// Catches up both folds first, so an event stored before the call is judged in the answer.
    async fn quarantined_events(&self, limit: usize) -> Result<Vec<QuarantinedEvent>>;
    /// Brand-wide activity over the days `from_day..=to_day`: per day and channel (days with
    /// nothing omitted, sorted by day then channel), per week overlapping the range (sorted,
    /// every such week, zeros included), and `reached` = distinct HCPs with a delivery in any of
    /// those weeks. Catches up the fold first (all pending events), so an event stored before the
    /// call is in the answer (on PostgreSQL, once every transaction older than the event's has
    /// finished, as for the campaign KPIs: the fold never passes one still running). Reads only
    /// the rollup, never the events. An empty range
    /// (`from_day > to_day`) has nothing; one longer than [`MAX_ACTIVITY_DAYS`] is refused,
    /// naming `to_day`.
    async fn activity(&self, from_day: i64, to_day: i64) -> Result<Activity>;
    /// What each content item (or only `content_id`) drew, per slide / key message, sorted by
    /// item then key message; catches up the fold first, as [`Store::activity`] does.
    async fn content_activity(&self, content_id: Option<String>) -> Result<Vec<ContentActivity>>;
    /// Keeps a simulation run (the latest is what the dashboard shows); a run recorded again
    /// under its id replaces the one kept.
    async fn record_simulation(&self, run: SimulationRun) -> Result<()>;
    /// The most recent simulation run (by ran_at, then run_id), if any.
    async fn last_simulation(&self) -> Result<Option<SimulationRun>>;

    async fn put_rep(&self, rep: Rep, now: Timestamp) -> Result<Upserted>;
    async fn get_rep(&self, rep_id: String) -> Result<Option<Rep>>;
    /// Stores a rep's weekly plan and its decisions in one write, unless a plan for that rep and
    /// week is stored already (by another request or node): then nothing is written. Returns the
    /// stored plan either way.
    async fn save_plan(&self, plan: NewPlan) -> Result<Vec<Suggestion>>;
    /// A rep's plan for a week; `None` when none was made yet.
    async fn get_plan(&self, rep_id: String, week: Week) -> Result<Option<Vec<Suggestion>>>;
    async fn list_suggestions(&self, filter: SuggestionFilter) -> Result<Vec<Suggestion>>;
    async fn get_suggestion(&self, suggestion_id: String) -> Result<Option<Suggestion>>;
    /// Records a rep's feedback, in one write: a dismissal releases the decision's hold on the
    /// caps and, when its reason says the action was wrong for the HCP, counts as a failed trial
    /// of the decision's arm. The inner error is the client's (feedback that does not apply to
    /// the suggestion's status); `None` when there is no such suggestion.
    async fn suggestion_feedback(
        &self,
        suggestion_id: String,
        feedback: Feedback,
        now: Timestamp,
    ) -> Result<Option<std::result::Result<Suggestion, FieldError>>>;
    /// Cancels open suggestions, each with why, releasing their decisions' holds; returns how
    /// many were still open.
    async fn cancel_suggestions(
        &self,
        cancellations: Vec<(String, String)>,
        now: Timestamp,
    ) -> Result<usize>;

    /// The user ids these anonymous ids of `source` are linked to, as (anonymous id, user id);
    /// ids never linked are left out.
    async fn resolve_anonymous(
        &self,
        source: String,
        anonymous_ids: Vec<String>,
    ) -> Result<Vec<(String, String)>>;
    /// Holds events of visitors not yet identified, each unless its visitor is linked by now (a
    /// link and a hold of the same visitor never interleave, so no event is held after its
    /// visitor's link released the others).
    /// Events held longer than `limits.max_age_ms` are dropped first; a visitor already holding
    /// `limits.per_visitor` events gets [`Parked::Full`].
    async fn park_anonymous(
        &self,
        source: String,
        events: Vec<ParkedEvent>,
        limits: HoldLimits,
        now: Timestamp,
    ) -> Result<Vec<Parked>>;
    /// Links an anonymous id of `source` to a user id (replacing an earlier link) and returns the
    /// events held for it, oldest first, which stay held until [`Store::unpark`] removes them:
    /// the caller ingests them first, so a crash between the two loses nothing.
    async fn link_anonymous(
        &self,
        source: String,
        anonymous_id: String,
        user_id: String,
        now: Timestamp,
    ) -> Result<Vec<ParkedEvent>>;
    /// The HCP (not a stub) whose external id in `system` is `id`.
    async fn hcp_by_external_id(&self, system: String, id: String) -> Result<Option<Hcp>>;
    /// Removes held events once ingested; returns how many were held.
    async fn unpark(
        &self,
        source: String,
        anonymous_id: String,
        event_ids: Vec<String>,
    ) -> Result<usize>;
    /// The HCPs (not erased, not stubs) each address belongs to, as `(email, HCP id)` pairs, in
    /// one query for a whole batch. Addresses are compared as given: pass them lower-cased, as
    /// HCPs' addresses are stored. An address held by several HCPs gives several pairs.
    async fn hcps_by_email(&self, emails: Vec<String>) -> Result<Vec<(String, HcpId)>>;

    /// Leases up to `limit` due pending deliveries on the claim's channels (oldest due first) to
    /// one sender: each counts an attempt and is hidden from other senders until the lease ends.
    /// Items whose lease expired after the last allowed attempt go to the dead letters instead.
    /// On PostgreSQL, concurrent claimers skip each other's rows, so no item is leased twice.
    async fn claim_deliveries(&self, claim: DeliveryClaim) -> Result<Vec<Delivery>>;
    /// Records the outcome of a leased attempt, as [`answer_lease`] decides: a repeated
    /// `Delivered` and a failure of an item cancelled under the lease change nothing, a
    /// `Delivered` of such an item makes it delivered. The inner error names `lease_token` when
    /// the lease is not the item's (it expired and the item was leased again, or the item was
    /// finished otherwise); `None` when there is no such delivery.
    async fn finish_delivery(
        &self,
        delivery_id: String,
        lease_token: String,
        outcome: DeliveryOutcome,
        now: Timestamp,
    ) -> Result<Option<std::result::Result<Delivery, FieldError>>>;
    async fn get_delivery(&self, delivery_id: String) -> Result<Option<Delivery>>;
    /// Deliveries by id, filtered.
    async fn list_deliveries(
        &self,
        filter: DeliveryFilter,
        page: PageRequest,
    ) -> Result<Page<Delivery>>;
    /// Puts a dead letter back in the queue, due now, with its attempts counted afresh. The inner
    /// error says the delivery is not dead; `None` when there is no such delivery.
    async fn retry_delivery(
        &self,
        delivery_id: String,
        now: Timestamp,
    ) -> Result<Option<std::result::Result<Delivery, FieldError>>>;
    /// How many deliveries stand in each status on each channel (combinations with none left
    /// out), sorted by status then channel.
    async fn delivery_counts(&self) -> Result<Vec<DeliveryCount>>;

    /// One page of the event export: stored events after the one numbered `after_seq`, in
    /// storage order, received at or after `received_since` (so a load that starts again from
    /// its last run's time also gets events that arrived late), at most `limit` (1 to
    /// [`MAX_EXPORT_PAGE`]). The next page starts after the last `seq` returned; a short page is
    /// the last.
    async fn export_events(
        &self,
        after_seq: i64,
        received_since: Option<Timestamp>,
        limit: usize,
    ) -> Result<Vec<ExportEvent>>;
    /// One page of the HCP export: HCPs (stubs included) by id after `after`, updated at or
    /// after `updated_since`, at most `limit` (1 to [`MAX_EXPORT_PAGE`]).
    async fn export_hcps(
        &self,
        after: Option<String>,
        updated_since: Option<Timestamp>,
        limit: usize,
    ) -> Result<Vec<ExportHcp>>;
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
