//! What counts as the outcome of a delivered decision: the first delivery event reporting it is
//! a trial of its arm; the first response within the attribution window is a success.

use serde::{Deserialize, Serialize};

use crate::FieldError;
use crate::event::{Event, EventType};
use crate::response::{DEFAULT_ENGAGED_DWELL_MS, DEFAULT_RESPONSES, NEVER_RESPONSES, ResponseRule};
use crate::state::StateConfig;

/// What an event says about the decision it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The chosen action reached the HCP (sent, delivered, a call made).
    Delivery,
    /// The HCP responded in a way that counts as a reward.
    Response,
}

/// Which reactions count as a response — for rewards and for the learned state alike (see
/// [`crate::response`]) — and for how long after the decision (the `[rewards]` settings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RewardConfig {
    /// Responses later than this after the decision are not credited to it.
    pub window_days: u32,
    /// Event types that count as a response (opens never do: machines open email too).
    pub responses: Vec<EventType>,
    /// Slide and content views count when they last at least this long.
    pub engaged_dwell_ms: i64,
}

impl Default for RewardConfig {
    fn default() -> Self {
        Self {
            window_days: 14,
            responses: DEFAULT_RESPONSES.to_vec(),
            engaged_dwell_ms: DEFAULT_ENGAGED_DWELL_MS,
        }
    }
}

impl RewardConfig {
    /// Checks the rules, naming the setting at fault.
    pub fn validate(&self) -> Result<(), FieldError> {
        if !(1..=365).contains(&self.window_days) {
            return Err(FieldError::new(
                "rewards.window_days",
                "must be between 1 and 365",
            ));
        }
        if self.responses.is_empty() {
            return Err(FieldError::new(
                "rewards.responses",
                "name at least one event type that counts as a response",
            ));
        }
        if let Some(t) = self.responses.iter().find(|t| NEVER_RESPONSES.contains(t)) {
            return Err(FieldError::new(
                "rewards.responses",
                format!("{} cannot count as a response", t.as_str()),
            ));
        }
        if !(0..=3_600_000).contains(&self.engaged_dwell_ms) {
            return Err(FieldError::new(
                "rewards.engaged_dwell_ms",
                "must be between 0 and 3600000 (an hour)",
            ));
        }
        Ok(())
    }

    pub fn window_ms(&self) -> i64 {
        i64::from(self.window_days) * 86_400_000
    }

    /// What counts as a response by these settings.
    pub fn rule(&self) -> ResponseRule<'_> {
        ResponseRule {
            kinds: &self.responses,
            engaged_dwell_ms: self.engaged_dwell_ms,
        }
    }

    /// How events are read into HCP state, counting responses by these settings.
    pub fn state_config(&self) -> StateConfig {
        StateConfig {
            responses: self.responses.clone(),
            engaged_dwell_ms: self.engaged_dwell_ms,
            ..StateConfig::default()
        }
    }

    /// The outcome an event reports for a decision: the one it names by `decision_id`, else the
    /// latest decision for the same HCP, content and channel within the attribution window
    /// (found by the store). An event naming neither a decision nor content reports none.
    pub fn outcome_of(&self, event: &Event) -> Option<Outcome> {
        if event.decision_id.is_none() && event.content_id.is_none() {
            return None;
        }
        match event.kind {
            EventType::Sent | EventType::Delivered | EventType::CallLogged => {
                Some(Outcome::Delivery)
            }
            _ if self.rule().is_response_event(event) => Some(Outcome::Response),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(kind: &str, extra: serde_json::Value) -> Event {
        let mut v = json!({"event_id": "e", "occurred_at": "2026-03-01T00:00:00Z", "hcp": "h",
            "source": "crm", "channel": "email", "type": kind, "decision_id": "dec_1"});
        if let (Some(o), Some(m)) = (v.as_object_mut(), extra.as_object()) {
            o.extend(m.clone());
        }
        Event::from_json(v).unwrap()
    }

    #[test]
    fn deliveries_and_engaged_responses_count_opens_and_short_views_do_not() {
        let config = RewardConfig::default();
        assert_eq!(
            config.outcome_of(&event("delivered", json!({}))),
            Some(Outcome::Delivery)
        );
        assert_eq!(
            config.outcome_of(&event("clicked", json!({}))),
            Some(Outcome::Response)
        );
        assert_eq!(config.outcome_of(&event("opened", json!({}))), None);
        let long = event("content_viewed", json!({"dwell_ms": 30_000}));
        let short = event("content_viewed", json!({"dwell_ms": 2_000}));
        assert_eq!(config.outcome_of(&long), Some(Outcome::Response));
        assert_eq!(config.outcome_of(&short), None);
        let mut unnamed = event("clicked", json!({}));
        unnamed.decision_id = None;
        assert_eq!(config.outcome_of(&unnamed), None);
    }
}
