//! The hard constraints, in one place: nothing the engine proposes may break one, and every
//! candidate they remove is reported with the reason.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::consent::{ConsentRecord, ConsentState, DEFAULT_PURPOSE};
use crate::content::{Content, ContentStatus};
use crate::state::HcpState;
use crate::{Channel, Hcp, Timestamp};

const HOUR_MS: i64 = 3_600_000;

/// At most `max` touches in any `days` days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cap {
    pub max: u32,
    pub days: u32,
}

/// Contact rules, configurable per brand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rules {
    /// Caps per channel, counting touches from every source.
    pub channel_caps: BTreeMap<Channel, Cap>,
    /// A cap on touches of any kind together.
    pub total_cap: Option<Cap>,
    /// No touch on any channel sooner than this after the previous one.
    pub min_gap_hours: u32,
    /// The consent purpose a promotional contact needs.
    pub purpose: String,
    /// How long a decision not yet reported delivered holds its place under the caps and the
    /// gap (see [`Planned`]).
    pub reserve_hours: u32,
    /// Countries (ISO 3166-1 alpha-2) whose law lets promotional email and SMS go to an HCP
    /// without an explicit opt-in, until they object. Everywhere else they need one.
    pub opt_out_countries: Vec<String>,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            channel_caps: BTreeMap::from([
                (Channel::Email, Cap { max: 2, days: 7 }),
                (Channel::Sms, Cap { max: 1, days: 7 }),
                (Channel::FaceToFace, Cap { max: 2, days: 30 }),
                (Channel::RemoteDetail, Cap { max: 2, days: 30 }),
            ]),
            total_cap: Some(Cap { max: 4, days: 30 }),
            min_gap_hours: 24,
            purpose: DEFAULT_PURPOSE.to_owned(),
            reserve_hours: 72,
            opt_out_countries: Vec::new(),
        }
    }
}

/// Channels that reach the HCP electronically and need their explicit opt-in (e-privacy);
/// on the others, contact is allowed unless they opted out.
pub fn needs_opt_in(channel: Channel) -> bool {
    matches!(
        channel,
        Channel::Email | Channel::Sms | Channel::MobileApp | Channel::Webinar
    )
}

/// Why a candidate may not be used. `code` is stable for machines; `reason` is for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub code: &'static str,
    pub reason: String,
}

fn violation(code: &'static str, reason: impl Into<String>) -> Violation {
    Violation {
        code,
        reason: reason.into(),
    }
}

/// A touch decided but not yet reported delivered (an earlier decision, a rep's planned visit):
/// it holds its place under the caps and the gap until it is delivered or released, so that two
/// decisions in a row cannot both take the last slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Planned {
    pub channel: Channel,
    pub at: Timestamp,
}

/// What the rules look at for one HCP.
#[derive(Debug, Clone, Copy)]
pub struct HcpFacts<'a> {
    /// Master data, including the products that must not be promoted to this HCP.
    pub hcp: &'a Hcp,
    /// The HCP's consent history (any order).
    pub consent: &'a [ConsentRecord],
    pub state: &'a HcpState,
    /// Touches decided and not yet delivered.
    pub planned: &'a [Planned],
}

impl HcpFacts<'_> {
    /// Touches delivered in the `days` days up to `now` (and any dated after it: clocks differ),
    /// and touches planned less than `days` days before or after `now` (a window of that length
    /// holding now would hold them too), on one channel or all.
    pub fn touches_within(&self, now: Timestamp, days: i64, channel: Option<Channel>) -> usize {
        let span = days * 86_400_000;
        let (from, until) = (now.millis() - span, now.millis() + span);
        let planned = self
            .planned
            .iter()
            .filter(|p| (from + 1..until).contains(&p.at.millis()))
            .filter(|p| channel.is_none_or(|c| c == p.channel))
            .count();
        self.state.touches_within(now, days, channel) + planned
    }

    /// A delivered or planned touch less than `gap_ms` from `now`.
    pub fn touch_near(&self, now: Timestamp, gap_ms: i64) -> Option<Timestamp> {
        self.state.touch_near(now, gap_ms).or_else(|| {
            self.planned
                .iter()
                .map(|p| p.at)
                .find(|t| (now.millis() - t.millis()).abs() < gap_ms)
        })
    }
}

impl Rules {
    /// Checks one content × channel for an HCP at `now`: `Ok` only if every hard constraint holds.
    pub fn check(
        &self,
        facts: &HcpFacts<'_>,
        content: &Content,
        channel: Channel,
        now: Timestamp,
    ) -> Result<(), Violation> {
        self.check_content(facts, content, now)?;
        self.check_contact(facts, channel, now)
    }

    /// The constraints on the content alone (status, window, country, specialty, product).
    pub fn check_content(
        &self,
        facts: &HcpFacts<'_>,
        content: &Content,
        now: Timestamp,
    ) -> Result<(), Violation> {
        match content.status_at(now) {
            ContentStatus::Approved => {}
            ContentStatus::Expired => {
                return Err(violation(
                    "content_expired",
                    "the content's approval has expired",
                ));
            }
            ContentStatus::Withdrawn => {
                return Err(violation("content_withdrawn", "the content was withdrawn"));
            }
            other => {
                return Err(violation(
                    "content_not_approved",
                    format!("the content is {other}, not approved"),
                ));
            }
        }
        if let Some(from) = content.valid_from
            && now < from
        {
            return Err(violation(
                "content_not_yet_valid",
                format!("the content may be used from {from}"),
            ));
        }
        let country = &facts.hcp.country;
        if !content.countries.is_empty() && !content.countries.iter().any(|c| c == country) {
            return Err(violation(
                "content_country",
                format!("the content is not approved for {country}"),
            ));
        }
        let specialty = &facts.hcp.specialty;
        if !content.specialties.is_empty() && !content.specialties.iter().any(|s| s == specialty) {
            return Err(violation(
                "content_specialty",
                format!("the content is not meant for {specialty}"),
            ));
        }
        if facts.hcp.restricted_products.contains(&content.product) {
            return Err(violation(
                "product_restricted",
                format!("{} may not be promoted to this HCP", content.product),
            ));
        }
        Ok(())
    }

    /// The constraints on contacting the HCP on a channel now (consent, caps, gap).
    pub fn check_contact(
        &self,
        facts: &HcpFacts<'_>,
        channel: Channel,
        now: Timestamp,
    ) -> Result<(), Violation> {
        self.check_consent(facts, channel, now)?;
        self.check_frequency(facts, channel, now)
    }

    /// Consent and opt-outs on a channel: what must still hold when a planned touch is made.
    pub fn check_consent(
        &self,
        facts: &HcpFacts<'_>,
        channel: Channel,
        now: Timestamp,
    ) -> Result<(), Violation> {
        // A withdrawal counts at once, even one stamped ahead of `now` (clocks differ); a grant
        // only from its time. At the same instant, the withdrawal wins.
        let consent = facts
            .consent
            .iter()
            .filter(|r| r.channel == channel && r.purpose == self.purpose)
            .filter(|r| r.state == ConsentState::Withdrawn || r.changed_at <= now)
            .filter(|r| crate::consent::counts(r, facts.consent))
            .max_by_key(|r| (r.changed_at, r.state == ConsentState::Withdrawn))
            .map(|r| r.state);
        match consent {
            Some(ConsentState::Withdrawn) => {
                return Err(violation(
                    "consent_withdrawn",
                    format!("consent for {channel} ({}) is withdrawn", self.purpose),
                ));
            }
            None if needs_opt_in(channel)
                && !(matches!(channel, Channel::Email | Channel::Sms)
                    && self
                        .opt_out_countries
                        .iter()
                        .any(|c| c.eq_ignore_ascii_case(&facts.hcp.country))) =>
            {
                return Err(violation(
                    "consent_missing",
                    format!("no consent on record for {channel} ({})", self.purpose),
                ));
            }
            _ => {}
        }
        if facts.state.opted_out(channel).is_some() {
            return Err(violation(
                "opted_out",
                format!("the HCP unsubscribed from {channel}"),
            ));
        }
        Ok(())
    }

    /// Caps and the minimum gap, counting delivered and planned touches.
    pub fn check_frequency(
        &self,
        facts: &HcpFacts<'_>,
        channel: Channel,
        now: Timestamp,
    ) -> Result<(), Violation> {
        if let Some(cap) = self.channel_caps.get(&channel) {
            let used = facts.touches_within(now, cap.days.into(), Some(channel));
            if used >= cap.max as usize {
                return Err(violation(
                    "channel_cap",
                    format!(
                        "{used} {channel} touches made or planned in the last {} days (cap {})",
                        cap.days, cap.max
                    ),
                ));
            }
        }
        if let Some(cap) = self.total_cap {
            let used = facts.touches_within(now, cap.days.into(), None);
            if used >= cap.max as usize {
                return Err(violation(
                    "total_cap",
                    format!(
                        "{used} touches on all channels made or planned in the last {} days (cap {})",
                        cap.days, cap.max
                    ),
                ));
            }
        }
        let gap_ms = i64::from(self.min_gap_hours) * HOUR_MS;
        if let Some(near) = facts.touch_near(now, gap_ms) {
            let hours = (now.millis() - near.millis()).abs() / HOUR_MS;
            return Err(violation(
                "min_gap",
                format!(
                    "a touch {hours} h from now; at least {} h must pass between touches",
                    self.min_gap_hours
                ),
            ));
        }
        Ok(())
    }
}
