//! Who an incoming record is: external ids and addresses resolved to HCPs, and the events of
//! anonymous visitors held until a tracking source identifies them.

use openclm_core::{Hcp, HcpId, Timestamp};

use crate::Result;

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

crate::store::store_trait! {
    /// Who an incoming record is: external ids and addresses resolved to HCPs, and the events of
    /// anonymous visitors held until a tracking source identifies them.
    pub trait Identity {
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
        /// `limits.per_visitor` events gets [`Parked::Full`](crate::Parked::Full).
        async fn park_anonymous(
            &self,
            source: String,
            events: Vec<ParkedEvent>,
            limits: HoldLimits,
            now: Timestamp,
        ) -> Result<Vec<Parked>>;
        /// Links an anonymous id of `source` to a user id (replacing an earlier link) and returns
        /// the events held for it, oldest first, which stay held until
        /// [`Identity::unpark`] removes them: the caller ingests
        /// them first, so a crash between the two loses nothing.
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
    }
}
