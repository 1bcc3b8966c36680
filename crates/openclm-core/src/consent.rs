//! Consent per HCP, channel and purpose, kept as a history of changes with their evidence.

use serde::{Deserialize, Serialize};

use crate::{Channel, FieldError, Timestamp};

/// The purpose consent is given for when a source names none.
pub const DEFAULT_PURPOSE: &str = "promotional";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentState {
    Granted,
    Withdrawn,
}

impl ConsentState {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentState::Granted => "granted",
            ConsentState::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(field: &str, text: &str) -> Result<Self, FieldError> {
        match text {
            "granted" => Ok(ConsentState::Granted),
            "withdrawn" => Ok(ConsentState::Withdrawn),
            _ => Err(FieldError::new(
                field,
                format!("unknown consent state {text:?}; expected granted or withdrawn"),
            )),
        }
    }
}

/// One change of consent, with where it came from (the evidence).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConsentRecord {
    pub channel: Channel,
    pub purpose: String,
    pub state: ConsentState,
    pub source: String,
    /// The event that carried the change, when it came as an event.
    pub event_id: Option<String>,
    pub changed_at: Timestamp,
    /// What proves the change, as the source gave it.
    pub evidence: Option<String>,
    /// The consent wording or privacy notice version the HCP saw.
    pub notice_version: Option<String>,
}

/// Whether a record changes consent. A grant without evidence that comes after a withdrawal on
/// the same channel and purpose does not: a re-imported contact list must not re-subscribe an
/// HCP who opted out; only their own new opt-in, with its evidence, does.
pub fn counts(record: &ConsentRecord, history: &[ConsentRecord]) -> bool {
    record.state == ConsentState::Withdrawn
        || record.evidence.is_some()
        || !history.iter().any(|w| {
            w.state == ConsentState::Withdrawn
                && w.channel == record.channel
                && w.purpose == record.purpose
                && w.changed_at <= record.changed_at
        })
}

/// The current state per channel and purpose: the latest change by time wins (among those
/// that [`counts`]).
pub fn current(history: &[ConsentRecord]) -> Vec<ConsentRecord> {
    let mut latest: Vec<ConsentRecord> = Vec::new();
    for r in history.iter().filter(|r| counts(r, history)) {
        match latest
            .iter_mut()
            .find(|l| l.channel == r.channel && l.purpose == r.purpose)
        {
            Some(l) if r.changed_at >= l.changed_at => *l = r.clone(),
            Some(_) => {}
            None => latest.push(r.clone()),
        }
    }
    latest.sort_by(|a, b| (a.channel, &a.purpose).cmp(&(b.channel, &b.purpose)));
    latest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(channel: Channel, state: ConsentState, at: i64) -> ConsentRecord {
        ConsentRecord {
            channel,
            purpose: DEFAULT_PURPOSE.into(),
            state,
            source: "crm".into(),
            event_id: None,
            changed_at: Timestamp::from_millis(at),
            evidence: None,
            notice_version: None,
        }
    }

    #[test]
    fn latest_change_wins_even_when_it_arrives_first() {
        let history = vec![
            rec(Channel::Email, ConsentState::Withdrawn, 200),
            rec(Channel::Email, ConsentState::Granted, 100),
            rec(Channel::Sms, ConsentState::Granted, 50),
        ];
        let now = current(&history);
        assert_eq!(now.len(), 2);
        assert_eq!(now[0].channel, Channel::Email);
        assert_eq!(now[0].state, ConsentState::Withdrawn);
        assert_eq!(now[1].state, ConsentState::Granted);
    }

    #[test]
    fn a_re_import_cannot_re_subscribe_only_the_hcps_own_opt_in_can() {
        let mut history = vec![
            rec(Channel::Email, ConsentState::Granted, 100),
            rec(Channel::Email, ConsentState::Withdrawn, 200),
            // A CRM re-import marks everyone opted in again.
            rec(Channel::Email, ConsentState::Granted, 300),
        ];
        assert_eq!(current(&history)[0].state, ConsentState::Withdrawn);
        history.push(ConsentRecord {
            evidence: Some("double opt-in confirmed, form F-77".into()),
            ..rec(Channel::Email, ConsentState::Granted, 400)
        });
        assert_eq!(current(&history)[0].state, ConsentState::Granted);
    }
}
