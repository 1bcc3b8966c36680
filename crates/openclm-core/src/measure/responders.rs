//! Responders and non-responders of a campaign wave: why each treated HCP did or did not
//! respond, and what the next wave should do differently for each group — a plan the next wave
//! adopts per HCP when the campaign is adaptive.

use serde::Serialize;

use crate::Channel;

/// What a wave did for one treated HCP and what came of it.
#[derive(Debug, Clone, PartialEq)]
pub struct WaveOutcome {
    pub channel: Option<Channel>,
    pub content_id: Option<String>,
    /// Why nothing was sent (`no_consent`, `capped`, `held_back`, `not_allowed`).
    pub blocked: Option<String>,
    pub delivered: u64,
    pub opened: u64,
    pub engaged: u64,
    pub responses: u64,
}

/// Why an HCP responded or not, checked in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Responded,
    /// Nothing could be sent: no opt-in for the channels the arm allows, or withdrawn.
    NoConsent,
    /// Nothing could be sent: frequency caps or the minimum gap.
    Capped,
    /// Nothing was sent for another reason (held back as not worth its cost; no content the
    /// rules allow).
    NotSent,
    NotDelivered,
    /// Delivered, never opened by a person (messages only).
    DeliveredNotOpened,
    /// Opened (or, for visits, seen), not engaged with.
    OpenedNotEngaged,
}

impl Reason {
    pub const ALL: [Reason; 7] = [
        Reason::Responded,
        Reason::NoConsent,
        Reason::Capped,
        Reason::NotSent,
        Reason::NotDelivered,
        Reason::DeliveredNotOpened,
        Reason::OpenedNotEngaged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Responded => "responded",
            Reason::NoConsent => "no_consent",
            Reason::Capped => "capped",
            Reason::NotSent => "not_sent",
            Reason::NotDelivered => "not_delivered",
            Reason::DeliveredNotOpened => "delivered_not_opened",
            Reason::OpenedNotEngaged => "opened_not_engaged",
        }
    }
}

/// The reason a wave's decision left nothing to send, from the rule codes that removed every
/// candidate: consent first, then caps.
pub fn blocked_reason(codes: &[&str], held_back: bool) -> &'static str {
    if held_back {
        "held_back"
    } else if codes
        .iter()
        .any(|c| matches!(*c, "consent_missing" | "consent_withdrawn" | "opted_out"))
    {
        "no_consent"
    } else if codes
        .iter()
        .any(|c| matches!(*c, "channel_cap" | "total_cap" | "min_gap"))
    {
        "capped"
    } else {
        "not_allowed"
    }
}

pub fn classify(o: &WaveOutcome) -> Reason {
    if o.responses > 0 {
        return Reason::Responded;
    }
    match o.blocked.as_deref() {
        Some("no_consent") => return Reason::NoConsent,
        Some("capped") => return Reason::Capped,
        Some(_) => return Reason::NotSent,
        None => {}
    }
    let Some(channel) = o.channel else {
        return Reason::NotSent;
    };
    if o.delivered == 0 {
        Reason::NotDelivered
    } else if channel.is_outbound_message() && o.opened == 0 && o.engaged == 0 {
        Reason::DeliveredNotOpened
    } else {
        Reason::OpenedNotEngaged
    }
}

/// What the next wave does for an HCP of a group.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Adapt {
    /// Only these channels (empty: any the arm allows).
    pub only_channels: Vec<Channel>,
    pub exclude_channels: Vec<Channel>,
    pub exclude_content: Vec<String>,
}

/// The next wave's action for a group, in words and as an adaptation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub reason: Reason,
    pub action: &'static str,
}

pub fn step(reason: Reason) -> Step {
    let action = match reason {
        Reason::Responded => {
            "follow up on the channel that worked, with an item they have not had (the next topic)"
        }
        Reason::NoConsent => {
            "ask for consent in person: a rep visit or remote detail, which need no opt-in"
        }
        Reason::Capped => "nothing to change: the caps hold; they come back when the window passes",
        Reason::NotSent => "nothing to change: no allowed action was worth sending",
        Reason::NotDelivered => "try another channel (and check the address on record)",
        Reason::DeliveredNotOpened => {
            "try another channel, at the HCP's own moment (the engine aims for it)"
        }
        Reason::OpenedNotEngaged => {
            "keep the channel, change the message: another item, another topic"
        }
    };
    Step { reason, action }
}

/// The adaptation for one HCP, from their reason and what the wave sent them.
pub fn adapt(reason: Reason, o: &WaveOutcome) -> Adapt {
    let content: Vec<String> = o.content_id.iter().cloned().collect();
    let channel: Vec<Channel> = o.channel.into_iter().collect();
    match reason {
        Reason::Responded => Adapt {
            only_channels: channel,
            exclude_content: content,
            ..Adapt::default()
        },
        Reason::NoConsent => Adapt {
            only_channels: vec![Channel::FaceToFace, Channel::RemoteDetail],
            ..Adapt::default()
        },
        Reason::NotDelivered | Reason::DeliveredNotOpened => Adapt {
            exclude_channels: channel,
            ..Adapt::default()
        },
        Reason::OpenedNotEngaged => Adapt {
            exclude_content: content,
            ..Adapt::default()
        },
        Reason::Capped | Reason::NotSent => Adapt::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(delivered: u64, opened: u64, engaged: u64, responses: u64) -> WaveOutcome {
        WaveOutcome {
            channel: Some(Channel::Email),
            content_id: Some("EM-1".into()),
            blocked: None,
            delivered,
            opened,
            engaged,
            responses,
        }
    }

    #[test]
    fn each_treated_hcp_gets_the_first_reason_that_fits() {
        assert_eq!(classify(&email(1, 1, 1, 1)), Reason::Responded);
        assert_eq!(classify(&email(0, 0, 0, 0)), Reason::NotDelivered);
        assert_eq!(classify(&email(1, 0, 0, 0)), Reason::DeliveredNotOpened);
        assert_eq!(classify(&email(1, 2, 0, 0)), Reason::OpenedNotEngaged);
        // A visit has no opens: delivered and not engaged is "seen, not engaged".
        let visit = WaveOutcome {
            channel: Some(Channel::FaceToFace),
            ..email(1, 0, 0, 0)
        };
        assert_eq!(classify(&visit), Reason::OpenedNotEngaged);
        let blocked = |why: &str| WaveOutcome {
            channel: None,
            content_id: None,
            blocked: Some(why.into()),
            ..email(0, 0, 0, 0)
        };
        assert_eq!(classify(&blocked("no_consent")), Reason::NoConsent);
        assert_eq!(classify(&blocked("capped")), Reason::Capped);
        assert_eq!(classify(&blocked("held_back")), Reason::NotSent);
        // A response from any source counts, even without a delivery of the wave's own.
        assert_eq!(classify(&blocked("no_consent")).as_str(), "no_consent");
        assert_eq!(
            classify(&WaveOutcome {
                responses: 1,
                ..blocked("capped")
            }),
            Reason::Responded
        );
        assert_eq!(
            blocked_reason(&["content_expired", "consent_missing", "total_cap"], false),
            "no_consent"
        );
        assert_eq!(blocked_reason(&["min_gap"], false), "capped");
        assert_eq!(blocked_reason(&[], true), "held_back");
    }

    #[test]
    fn the_plan_keeps_what_worked_and_changes_what_did_not() {
        let o = email(1, 1, 0, 0);
        let keep = adapt(Reason::Responded, &o);
        assert_eq!(keep.only_channels, vec![Channel::Email]);
        assert_eq!(keep.exclude_content, vec!["EM-1".to_owned()]);
        assert_eq!(
            adapt(Reason::DeliveredNotOpened, &o).exclude_channels,
            vec![Channel::Email]
        );
        assert_eq!(
            adapt(Reason::OpenedNotEngaged, &o).exclude_content,
            vec!["EM-1".to_owned()]
        );
        assert_eq!(adapt(Reason::Capped, &o), Adapt::default());
        assert!(!step(Reason::NoConsent).action.is_empty());
    }
}
