//! Master data: HCPs, content items and reps as the systems of record send them, and the HCP
//! export.

use openclm_core::content::{Content, ContentStatus};
use openclm_core::suggest::Rep;
use openclm_core::{FieldError, Hcp, HcpId, Timestamp};

use crate::{ExportHcp, Page, PageRequest, Result, Upserted};

/// Filters of the HCP list; `None` matches all.
#[derive(Debug, Clone, Default)]
pub struct HcpFilter {
    pub territory: Option<String>,
    pub specialty: Option<String>,
    pub country: Option<String>,
}

/// Filters of the content list.
#[derive(Debug, Clone, Default)]
pub struct ContentFilter {
    pub status: Option<ContentStatus>,
    pub product: Option<String>,
}

crate::store::store_trait! {
    /// Master data: HCPs, content items and reps as the systems of record send them, and the HCP
    /// export.
    pub trait MasterData {
        /// Writes HCPs, each on its own: one whose external ids belong to another HCP is refused
        /// with the field at fault, and the others are written.
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

        async fn put_rep(&self, rep: Rep, now: Timestamp) -> Result<Upserted>;
        async fn get_rep(&self, rep_id: String) -> Result<Option<Rep>>;
        /// One page of the HCP export: HCPs (stubs included) by id after `after`, updated at or
        /// after `updated_since`, at most `limit` (1 to
        /// [`MAX_EXPORT_PAGE`](crate::MAX_EXPORT_PAGE)).
        async fn export_hcps(
            &self,
            after: Option<String>,
            updated_since: Option<Timestamp>,
            limit: usize,
        ) -> Result<Vec<ExportHcp>>;
    }
}
