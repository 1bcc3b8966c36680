//! Master data: HCPs, content items and reps as the systems of record send them, and the HCP
//! export.

use crate::ContentFilter;
use crate::ExportHcp;
use crate::HcpFilter;
use crate::Page;
use crate::PageRequest;
use crate::Result;
use crate::Upserted;
use openclm_core::FieldError;
use openclm_core::Hcp;
use openclm_core::HcpId;
use openclm_core::Timestamp;
use openclm_core::content::Content;
use openclm_core::suggest::Rep;

crate::store::store_trait! {
    /// Master data: HCPs, content items and reps as the systems of record send them, and the HCP
    /// export.
    pub trait MasterData {
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

        async fn put_rep(&self, rep: Rep, now: Timestamp) -> Result<Upserted>;
        async fn get_rep(&self, rep_id: String) -> Result<Option<Rep>>;
        /// One page of the HCP export: HCPs (stubs included) by id after `after`, updated at or
        /// after `updated_since`, at most `limit` (1 to [`MAX_EXPORT_PAGE`](crate::MAX_EXPORT_PAGE)).
        async fn export_hcps(
            &self,
            after: Option<String>,
            updated_since: Option<Timestamp>,
            limit: usize,
        ) -> Result<Vec<ExportHcp>>;
    }
}
