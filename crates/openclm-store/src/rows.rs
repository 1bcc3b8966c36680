//! An event flattened into the columns both backends store.

use openclm_core::Event;
use openclm_core::consent::ConsentState;
use openclm_core::state::{Observation, StateConfig};
use std::sync::LazyLock;

/// How events are read into HCP state.
pub(crate) static STATE_CONFIG: LazyLock<StateConfig> = LazyLock::new(StateConfig::default);

/// What a backend stores of an event. Made on the request's thread, so that the parsed JSON is
/// freed there and SQLite's single writer spends its time on the database only.
pub(crate) struct EventRow {
    pub key: i64,
    pub event_id: String,
    pub hcp: String,
    pub source: String,
    pub occurred_at: i64,
    pub channel: i64,
    pub kind: i64,
    pub content_id: Option<String>,
    pub campaign_id: Option<String>,
    pub decision_id: Option<String>,
    pub rep_id: Option<String>,
    pub consent: Option<(ConsentState, String)>,
    pub payload: String,
    /// What the HCP's state folds in.
    pub observation: Observation,
}

impl From<Event> for EventRow {
    fn from(event: Event) -> Self {
        let consent = event.consent_change();
        let observation = Observation::of(&event, &STATE_CONFIG);
        let key = event.key_hash();
        let (occurred_at, channel, kind) = (
            event.occurred_at.millis(),
            event.channel.code(),
            event.kind.code(),
        );
        let event_id = event.event_id.clone();
        let hcp = event.hcp.clone();
        let source = event.source.clone();
        let content_id = event.content_id.clone();
        let campaign_id = event.campaign_id.clone();
        let decision_id = event.decision_id.clone();
        let rep_id = event.rep_id.clone();
        Self {
            key,
            event_id,
            hcp,
            source,
            occurred_at,
            channel,
            kind,
            content_id,
            campaign_id,
            decision_id,
            rep_id,
            consent,
            observation,
            payload: event.into_canonical_payload(),
        }
    }
}
