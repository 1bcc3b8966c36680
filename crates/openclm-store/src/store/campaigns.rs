//! Campaigns: definitions, waves and their groups, and the KPIs folded from the stored events.

use crate::GroupMoments;
use crate::KpiFilter;
use crate::NewWave;
use crate::Result;
use crate::SliceRow;
use crate::Upserted;
use crate::WaveMemberRow;
use crate::WaveRecord;
use openclm_core::Timestamp;
use openclm_core::campaign::Campaign;

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
        /// How many HCPs each group of the campaign holds ([`HOLDOUT`](crate::HOLDOUT) or an arm's index).
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
