//! The store a database URL names: SQLite for a path or `sqlite://…`, PostgreSQL for
//! `postgres://…`. One concrete type for the binary and the server, so both are built once.

use openclm_core::consent::ConsentRecord;
use openclm_core::content::Content;
use openclm_core::engine::model::Counts;
use openclm_core::engine::reward::RewardConfig;
use openclm_core::state::HcpState;
use openclm_core::suggest::{Feedback, Rep, Suggestion, Week};
use openclm_core::{Event, FieldError, Hcp, HcpId, Timestamp};

use crate::{
    AeCase, AeCounts, AeFilter, ErasureReport, SendFilter, SendRecord, SessionLimits,
    SourceScreening, UserRecord, WithdrawalEffect,
};
use crate::{
    ApiKeyRecord, ContentFilter, DecisionRecord, HcpFilter, IngestOutcome, IntegrityReport,
    NewPlan, Page, PageRequest, PgStore, PlannedTouch, Result, SqliteStore, Store, StoreCounts,
    StoredEvent, SuggestionFilter, TableDigest, TimelineFilter, UnknownHcpPolicy, Upserted,
    is_postgres_url,
};
use crate::{
    DecisionFilter, GroupMoments, KpiFilter, NewWave, SliceRow, WaveMemberRow, WaveRecord,
};
use openclm_core::audit::{AuditEntry, NewAudit};
use openclm_core::auth::User;
use openclm_core::campaign::Campaign;
use openclm_core::content::ContentStatus;
use openclm_core::pv::Triage;

/// Either backend.
#[derive(Clone)]
pub enum AnyStore {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

impl AnyStore {
    /// Opens the database `url` names, applying pending migrations.
    pub async fn open(url: &str) -> Result<Self> {
        Self::open_with(url, RewardConfig::default()).await
    }

    /// Opens the database `url` names, ingesting by these rules (reward rules, screening).
    pub async fn open_with(url: &str, rules: impl Into<crate::IngestRules>) -> Result<Self> {
        let rules = rules.into();
        if is_postgres_url(url) {
            Ok(Self::Postgres(PgStore::open_with(url, rules).await?))
        } else {
            Ok(Self::Sqlite(SqliteStore::open_with(url, rules)?))
        }
    }

    /// The backend's name, for messages.
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }

    /// The migration versions opening this store applied, oldest first.
    pub fn applied_at_open(&self) -> &[i64] {
        match self {
            Self::Sqlite(s) => s.applied_at_open(),
            Self::Postgres(s) => s.applied_at_open(),
        }
    }

    /// Brings every lookup structure up to date with the stored events now. SQLite merges its
    /// unindexed tail; PostgreSQL indexes each event as it commits, so there is nothing to do.
    pub async fn merge_index(&self) -> Result<usize> {
        match self {
            Self::Sqlite(s) => s.merge_index().await,
            Self::Postgres(_) => Ok(0),
        }
    }
}

/// Calls the same method on whichever backend this is.
macro_rules! delegate {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        match $self {
            AnyStore::Sqlite(s) => s.$method($($arg),*).await,
            AnyStore::Postgres(s) => s.$method($($arg),*).await,
        }
    };
}

impl Store for AnyStore {
    async fn migrate(&self) -> Result<Vec<i64>> {
        delegate!(self.migrate())
    }

    async fn check_writable(&self) -> Result<()> {
        delegate!(self.check_writable())
    }

    async fn ingest(
        &self,
        events: Vec<Event>,
        unknown_hcp: UnknownHcpPolicy,
        now: Timestamp,
    ) -> Result<Vec<IngestOutcome>> {
        delegate!(self.ingest(events, unknown_hcp, now))
    }

    async fn put_hcps(
        &self,
        hcps: Vec<Hcp>,
        actor: String,
        now: Timestamp,
    ) -> Result<Vec<std::result::Result<Upserted, FieldError>>> {
        delegate!(self.put_hcps(hcps, actor, now))
    }

    async fn get_hcp(&self, id: HcpId) -> Result<Option<Hcp>> {
        delegate!(self.get_hcp(id))
    }

    async fn list_hcps(&self, filter: HcpFilter, page: PageRequest) -> Result<Page<Hcp>> {
        delegate!(self.list_hcps(filter, page))
    }

    async fn put_content(
        &self,
        items: Vec<Content>,
        actor: String,
        now: Timestamp,
    ) -> Result<Vec<Upserted>> {
        delegate!(self.put_content(items, actor, now))
    }

    async fn get_content(&self, id: String, now: Timestamp) -> Result<Option<Content>> {
        delegate!(self.get_content(id, now))
    }

    async fn list_content(
        &self,
        filter: ContentFilter,
        page: PageRequest,
        now: Timestamp,
    ) -> Result<Page<Content>> {
        delegate!(self.list_content(filter, page, now))
    }

    async fn timeline(
        &self,
        hcp: HcpId,
        filter: TimelineFilter,
        page: PageRequest,
    ) -> Result<Option<Page<StoredEvent>>> {
        delegate!(self.timeline(hcp, filter, page))
    }

    async fn consent_history(&self, hcp: HcpId) -> Result<Option<Vec<ConsentRecord>>> {
        delegate!(self.consent_history(hcp))
    }

    async fn hcp_state(&self, hcp: HcpId) -> Result<Option<HcpState>> {
        delegate!(self.hcp_state(hcp))
    }

    async fn create_api_key(
        &self,
        key: ApiKeyRecord,
        audit: NewAudit,
        now: Timestamp,
    ) -> Result<()> {
        delegate!(self.create_api_key(key, audit, now))
    }

    async fn create_user(
        &self,
        user: User,
        password_hash: String,
        audit: NewAudit,
    ) -> Result<bool> {
        delegate!(self.create_user(user, password_hash, audit))
    }

    async fn find_user(&self, user_id: String) -> Result<Option<UserRecord>> {
        delegate!(self.find_user(user_id))
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        delegate!(self.list_users())
    }

    async fn disable_user(&self, user_id: String, audit: NewAudit, now: Timestamp) -> Result<bool> {
        delegate!(self.disable_user(user_id, audit, now))
    }

    async fn record_login(&self, user_id: String, succeeded: bool, now: Timestamp) -> Result<bool> {
        delegate!(self.record_login(user_id, succeeded, now))
    }

    async fn create_session(
        &self,
        token_hash: String,
        user_id: String,
        now: Timestamp,
    ) -> Result<()> {
        delegate!(self.create_session(token_hash, user_id, now))
    }

    async fn touch_session(
        &self,
        token_hash: String,
        now: Timestamp,
        limits: SessionLimits,
    ) -> Result<Option<User>> {
        delegate!(self.touch_session(token_hash, now, limits))
    }

    async fn end_session(&self, token_hash: String, now: Timestamp) -> Result<bool> {
        delegate!(self.end_session(token_hash, now))
    }

    async fn append_audit(&self, entries: Vec<NewAudit>, now: Timestamp) -> Result<()> {
        delegate!(self.append_audit(entries, now))
    }

    async fn audit_entries(
        &self,
        record: Option<String>,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<AuditEntry>> {
        delegate!(self.audit_entries(record, after_seq, limit))
    }

    async fn transition_content(
        &self,
        content: Content,
        expected: (ContentStatus, String),
        audit: NewAudit,
        now: Timestamp,
    ) -> Result<Option<(bool, WithdrawalEffect)>> {
        delegate!(self.transition_content(content, expected, audit, now))
    }

    async fn send_history(&self, filter: SendFilter, limit: usize) -> Result<Vec<SendRecord>> {
        delegate!(self.send_history(filter, limit))
    }

    async fn ae_cases(&self, filter: AeFilter) -> Result<Vec<AeCase>> {
        delegate!(self.ae_cases(filter))
    }

    async fn get_ae_case(&self, case_id: String) -> Result<Option<AeCase>> {
        delegate!(self.get_ae_case(case_id))
    }

    async fn ae_case_counts(&self, now: Timestamp) -> Result<AeCounts> {
        delegate!(self.ae_case_counts(now))
    }

    async fn triage_ae_case(
        &self,
        case_id: String,
        triage: Triage,
        by: String,
        audit: NewAudit,
        now: Timestamp,
    ) -> Result<Option<bool>> {
        delegate!(self.triage_ae_case(case_id, triage, by, audit, now))
    }

    async fn mark_ae_alerted(&self, case_ids: Vec<String>, now: Timestamp) -> Result<()> {
        delegate!(self.mark_ae_alerted(case_ids, now))
    }

    async fn open_ae_case(&self, case: crate::NewAeCase, now: Timestamp) -> Result<bool> {
        delegate!(self.open_ae_case(case, now))
    }

    async fn screening_report(&self) -> Result<Vec<SourceScreening>> {
        delegate!(self.screening_report())
    }

    async fn suppressed(&self, hashes: Vec<String>) -> Result<Vec<String>> {
        delegate!(self.suppressed(hashes))
    }

    async fn erase_hcp(
        &self,
        hcp: HcpId,
        pseudonym: String,
        suppress: Vec<String>,
        audit: NewAudit,
        now: Timestamp,
    ) -> Result<Option<ErasureReport>> {
        delegate!(self.erase_hcp(hcp, pseudonym, suppress, audit, now))
    }

    async fn find_api_key(&self, key_id: String) -> Result<Option<ApiKeyRecord>> {
        delegate!(self.find_api_key(key_id))
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>> {
        delegate!(self.list_api_keys())
    }

    async fn revoke_api_key(
        &self,
        key_id: String,
        audit: NewAudit,
        now: Timestamp,
    ) -> Result<bool> {
        delegate!(self.revoke_api_key(key_id, audit, now))
    }

    async fn counts(&self) -> Result<StoreCounts> {
        delegate!(self.counts())
    }

    async fn check_integrity(&self) -> Result<IntegrityReport> {
        delegate!(self.check_integrity())
    }

    async fn table_digests(&self) -> Result<Vec<TableDigest>> {
        delegate!(self.table_digests())
    }

    async fn model_nodes(&self, keys: Vec<u64>) -> Result<Vec<(u64, Counts)>> {
        delegate!(self.model_nodes(keys))
    }

    async fn add_model_counts(&self, increments: Vec<(u64, Counts)>) -> Result<()> {
        delegate!(self.add_model_counts(increments))
    }

    async fn log_decisions(&self, decisions: Vec<DecisionRecord>) -> Result<Vec<bool>> {
        delegate!(self.log_decisions(decisions))
    }

    async fn get_decision(&self, decision_id: String) -> Result<Option<DecisionRecord>> {
        delegate!(self.get_decision(decision_id))
    }

    async fn list_decisions(
        &self,
        filter: DecisionFilter,
        page: PageRequest,
    ) -> Result<Page<DecisionRecord>> {
        delegate!(self.list_decisions(filter, page))
    }

    async fn planned_touches(&self, hcp: HcpId, now: Timestamp) -> Result<Vec<PlannedTouch>> {
        delegate!(self.planned_touches(hcp, now))
    }

    async fn put_campaign(
        &self,
        campaign: Campaign,
        actor: String,
        now: Timestamp,
    ) -> Result<Upserted> {
        delegate!(self.put_campaign(campaign, actor, now))
    }

    async fn get_campaign(&self, campaign_id: String) -> Result<Option<Campaign>> {
        delegate!(self.get_campaign(campaign_id))
    }

    async fn list_campaigns(&self) -> Result<Vec<Campaign>> {
        delegate!(self.list_campaigns())
    }

    async fn save_wave(&self, wave: NewWave) -> Result<(WaveRecord, bool)> {
        delegate!(self.save_wave(wave))
    }

    async fn list_waves(&self, campaign_id: String) -> Result<Vec<WaveRecord>> {
        delegate!(self.list_waves(campaign_id))
    }

    async fn campaign_groups(&self, campaign_id: String) -> Result<Vec<(i64, u64)>> {
        delegate!(self.campaign_groups(campaign_id))
    }

    async fn fold_kpis(&self, batch: usize) -> Result<usize> {
        delegate!(self.fold_kpis(batch))
    }

    async fn campaign_slices(&self, filter: KpiFilter) -> Result<Vec<SliceRow>> {
        delegate!(self.campaign_slices(filter))
    }

    async fn campaign_moments(&self, campaign_id: String) -> Result<Vec<GroupMoments>> {
        delegate!(self.campaign_moments(campaign_id))
    }

    async fn wave_members(&self, campaign_id: String, wave: u32) -> Result<Vec<WaveMemberRow>> {
        delegate!(self.wave_members(campaign_id, wave))
    }

    async fn fold_activity(&self, batch: usize) -> Result<usize> {
        delegate!(self.fold_activity(batch))
    }

    async fn quarantined_events(&self, limit: usize) -> Result<Vec<crate::QuarantinedEvent>> {
        delegate!(self.quarantined_events(limit))
    }

    async fn activity(&self, from_day: i64, to_day: i64) -> Result<crate::Activity> {
        delegate!(self.activity(from_day, to_day))
    }

    async fn content_activity(
        &self,
        content_id: Option<String>,
    ) -> Result<Vec<crate::ContentActivity>> {
        delegate!(self.content_activity(content_id))
    }

    async fn record_simulation(&self, run: crate::SimulationRun) -> Result<()> {
        delegate!(self.record_simulation(run))
    }

    async fn last_simulation(&self) -> Result<Option<crate::SimulationRun>> {
        delegate!(self.last_simulation())
    }

    async fn put_rep(&self, rep: Rep, now: Timestamp) -> Result<Upserted> {
        delegate!(self.put_rep(rep, now))
    }

    async fn get_rep(&self, rep_id: String) -> Result<Option<Rep>> {
        delegate!(self.get_rep(rep_id))
    }

    async fn save_plan(&self, plan: NewPlan) -> Result<Vec<Suggestion>> {
        delegate!(self.save_plan(plan))
    }

    async fn get_plan(&self, rep_id: String, week: Week) -> Result<Option<Vec<Suggestion>>> {
        delegate!(self.get_plan(rep_id, week))
    }

    async fn list_suggestions(&self, filter: SuggestionFilter) -> Result<Vec<Suggestion>> {
        delegate!(self.list_suggestions(filter))
    }

    async fn get_suggestion(&self, suggestion_id: String) -> Result<Option<Suggestion>> {
        delegate!(self.get_suggestion(suggestion_id))
    }

    async fn suggestion_feedback(
        &self,
        suggestion_id: String,
        feedback: Feedback,
        now: Timestamp,
    ) -> Result<Option<std::result::Result<Suggestion, FieldError>>> {
        delegate!(self.suggestion_feedback(suggestion_id, feedback, now))
    }

    async fn cancel_suggestions(
        &self,
        cancellations: Vec<(String, String)>,
        now: Timestamp,
    ) -> Result<usize> {
        delegate!(self.cancel_suggestions(cancellations, now))
    }

    async fn resolve_anonymous(
        &self,
        source: String,
        anonymous_ids: Vec<String>,
    ) -> Result<Vec<(String, String)>> {
        delegate!(self.resolve_anonymous(source, anonymous_ids))
    }

    async fn park_anonymous(
        &self,
        source: String,
        events: Vec<crate::ParkedEvent>,
        limits: crate::HoldLimits,
        now: Timestamp,
    ) -> Result<Vec<crate::Parked>> {
        delegate!(self.park_anonymous(source, events, limits, now))
    }

    async fn link_anonymous(
        &self,
        source: String,
        anonymous_id: String,
        user_id: String,
        now: Timestamp,
    ) -> Result<Vec<crate::ParkedEvent>> {
        delegate!(self.link_anonymous(source, anonymous_id, user_id, now))
    }

    async fn unpark(
        &self,
        source: String,
        anonymous_id: String,
        event_ids: Vec<String>,
    ) -> Result<usize> {
        delegate!(self.unpark(source, anonymous_id, event_ids))
    }

    async fn hcp_by_external_id(&self, system: String, id: String) -> Result<Option<Hcp>> {
        delegate!(self.hcp_by_external_id(system, id))
    }

    async fn hcps_by_email(&self, emails: Vec<String>) -> Result<Vec<(String, HcpId)>> {
        delegate!(self.hcps_by_email(emails))
    }

    async fn claim_deliveries(&self, claim: crate::DeliveryClaim) -> Result<Vec<crate::Delivery>> {
        delegate!(self.claim_deliveries(claim))
    }

    async fn finish_delivery(
        &self,
        delivery_id: String,
        lease_token: String,
        outcome: crate::DeliveryOutcome,
        now: Timestamp,
    ) -> Result<Option<std::result::Result<crate::Delivery, FieldError>>> {
        delegate!(self.finish_delivery(delivery_id, lease_token, outcome, now))
    }

    async fn get_delivery(&self, delivery_id: String) -> Result<Option<crate::Delivery>> {
        delegate!(self.get_delivery(delivery_id))
    }

    async fn list_deliveries(
        &self,
        filter: crate::DeliveryFilter,
        page: PageRequest,
    ) -> Result<Page<crate::Delivery>> {
        delegate!(self.list_deliveries(filter, page))
    }

    async fn retry_delivery(
        &self,
        delivery_id: String,
        now: Timestamp,
    ) -> Result<Option<std::result::Result<crate::Delivery, FieldError>>> {
        delegate!(self.retry_delivery(delivery_id, now))
    }

    async fn delivery_counts(&self) -> Result<Vec<crate::DeliveryCount>> {
        delegate!(self.delivery_counts())
    }

    async fn export_events(
        &self,
        after_seq: i64,
        received_since: Option<Timestamp>,
        limit: usize,
    ) -> Result<Vec<crate::ExportEvent>> {
        delegate!(self.export_events(after_seq, received_since, limit))
    }

    async fn export_hcps(
        &self,
        after: Option<String>,
        updated_since: Option<Timestamp>,
        limit: usize,
    ) -> Result<Vec<crate::ExportHcp>> {
        delegate!(self.export_hcps(after, updated_since, limit))
    }
}
