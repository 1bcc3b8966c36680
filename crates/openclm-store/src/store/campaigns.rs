//! Campaigns: definitions, waves and their groups, and the KPIs folded from the stored events.

use openclm_core::campaign::Campaign;
use openclm_core::{Channel, Timestamp};
use serde::Serialize;

use crate::{DecisionRecord, Result, Upserted};

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

crate::store::store_trait! {
    /// Campaigns: definitions, waves and their groups, and the KPIs folded from the stored events.
    pub trait Campaigns {
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
    }
}
