//! Compliance records: the audit trail, MLR transitions of content and what was sent, adverse-event
//! cases for pharmacovigilance, the suppression list and erasure.

use crate::AeCase;
use crate::AeCounts;
use crate::AeFilter;
use crate::ErasureReport;
use crate::NewAeCase;
use crate::Result;
use crate::SendFilter;
use crate::SendRecord;
use crate::SourceScreening;
use crate::WithdrawalEffect;
use openclm_core::HcpId;
use openclm_core::Timestamp;
use openclm_core::audit::AuditEntry;
use openclm_core::audit::NewAudit;
use openclm_core::content::Content;
use openclm_core::content::ContentStatus;
use openclm_core::pv::Triage;

crate::store::store_trait! {
    /// Compliance records: the audit trail, MLR transitions of content and what was sent, adverse-event
    /// cases for pharmacovigilance, the suppression list and erasure.
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
