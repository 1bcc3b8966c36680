//! The rows the export reads page by page: flat copies of what is stored, in the order a keyset
//! page continues from.

use openclm_core::hcp::ExternalId;
use openclm_core::{Channel, EventType, Timestamp};

/// The most rows one export page returns.
pub const MAX_EXPORT_PAGE: usize = 10_000;

/// A stored event, flattened, with the OpenCLM id of the HCP it was resolved to.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportEvent {
    /// Storage order: the keyset the next page continues after.
    pub seq: i64,
    pub event_id: String,
    pub hcp_id: String,
    pub occurred_at: Timestamp,
    pub received_at: Timestamp,
    pub channel: Channel,
    pub kind: EventType,
    pub source: String,
    pub content_id: Option<String>,
    pub campaign_id: Option<String>,
    pub decision_id: Option<String>,
    pub rep_id: Option<String>,
    /// The stored JSON text of the event (unknown fields kept, flagged free texts replaced by
    /// their case, an erased HCP's identifiers removed).
    pub payload: String,
}

/// An HCP's master data as stored, stubs included (a stub is an id seen in events before any
/// master data named it).
#[derive(Debug, Clone, PartialEq)]
pub struct ExportHcp {
    pub id: String,
    pub name: String,
    pub specialty: String,
    pub country: String,
    pub territory: Option<String>,
    pub segments: Vec<String>,
    pub email: Option<String>,
    pub external_ids: Vec<ExternalId>,
    pub restricted_products: Vec<String>,
    pub is_stub: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

pub(crate) fn export_limit(limit: usize) -> i64 {
    limit.clamp(1, MAX_EXPORT_PAGE) as i64
}
