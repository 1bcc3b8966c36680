//! Compliance records: the audit trail, MLR transitions of content and what was sent, adverse-event
//! cases for pharmacovigilance, the suppression list and erasure.

use openclm_core::audit::{AuditEntry, NewAudit};
use openclm_core::content::{Content, ContentStatus};
use openclm_core::pv::{AeStatus, Triage};
use openclm_core::{Channel, HcpId, Timestamp};
use serde::Serialize;

use crate::Result;

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

crate::store::store_trait! {
    /// Compliance records: the audit trail, MLR transitions of content and what was sent,
    /// adverse-event cases for pharmacovigilance, the suppression list and erasure.
    pub trait Governance {
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
    }
}
