//! The one definition of a response: which of an HCP's events say that a person responded to the
//! brand. The learned state (responses per touch), decision rewards (`[rewards]`) and campaign
//! KPIs (the objective's responses) all ask [`ResponseRule::is_response`]; only the list of event
//! types differs — `[rewards] responses` for the state and rewards, a campaign's
//! `objective.response` for its KPIs — while the rule below is the same for all.
//!
//! - An event of a listed type is a response, except:
//! - a slide or page view only when it lasted at least the engaged dwell (`[rewards]
//!   engaged_dwell_ms`, 10 s by default; a page view without a dwell never);
//! - a delivery, an open, a bounce or an unsubscribe never: an open may be a machine's (a privacy
//!   proxy fetching images), and the others are the brand's doing or a refusal.

use crate::event::{Details, Event, EventType};

/// Event types that never count as a response, whatever a list names.
pub const NEVER_RESPONSES: [EventType; 6] = [
    EventType::Sent,
    EventType::Delivered,
    EventType::CallLogged,
    EventType::Opened,
    EventType::Bounced,
    EventType::Unsubscribed,
];

/// The response types of `[rewards]` unless the settings say otherwise.
pub const DEFAULT_RESPONSES: [EventType; 7] = [
    EventType::Clicked,
    EventType::SurveyAnswered,
    EventType::MeetingAttended,
    EventType::MedicalInformationRequested,
    EventType::Prescription,
    EventType::SlideViewed,
    EventType::ContentViewed,
];

/// The engaged dwell unless the settings say otherwise, in milliseconds.
pub const DEFAULT_ENGAGED_DWELL_MS: i64 = 10_000;

/// Which event types count, and how long a view must last to count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseRule<'a> {
    pub kinds: &'a [EventType],
    /// Slide and page views count from this dwell on, in milliseconds.
    pub engaged_dwell_ms: i64,
}

impl ResponseRule<'_> {
    /// Whether an event of `kind`, lasting `dwell_ms` (for views), is a response.
    pub fn is_response(&self, kind: EventType, dwell_ms: Option<i64>) -> bool {
        if NEVER_RESPONSES.contains(&kind) || !self.kinds.contains(&kind) {
            return false;
        }
        match kind {
            EventType::SlideViewed | EventType::ContentViewed => {
                dwell_ms.is_some_and(|d| d >= self.engaged_dwell_ms)
            }
            _ => true,
        }
    }

    /// Whether the event is a response.
    pub fn is_response_event(&self, event: &Event) -> bool {
        self.is_response(event.kind, dwell_ms(event))
    }
}

/// How long a slide or page view lasted, if the event says.
pub fn dwell_ms(event: &Event) -> Option<i64> {
    match &event.details {
        Details::SlideViewed { dwell_ms, .. } => Some(*dwell_ms),
        Details::ContentViewed { dwell_ms, .. } => *dwell_ms,
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_count_from_the_engaged_dwell_and_opens_never() {
        let rule = ResponseRule {
            kinds: &DEFAULT_RESPONSES,
            engaged_dwell_ms: DEFAULT_ENGAGED_DWELL_MS,
        };
        assert!(rule.is_response(EventType::Clicked, None));
        assert!(rule.is_response(EventType::SlideViewed, Some(10_000)));
        assert!(!rule.is_response(EventType::SlideViewed, Some(9_999)));
        assert!(!rule.is_response(EventType::ContentViewed, None));
        assert!(
            !rule.is_response(EventType::VideoProgress, None),
            "not listed"
        );
        let opens = [EventType::Opened, EventType::Clicked];
        let listing_opens = ResponseRule {
            kinds: &opens,
            ..rule
        };
        assert!(!listing_opens.is_response(EventType::Opened, None));
    }
}
