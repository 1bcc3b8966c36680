//! The all-activity rollup both backends share: what every stored event adds, campaign or not, to
//! its day and channel's touch counts and to its HCP's deliveries in its week. Each backend reads
//! a batch of events after its own cursor (not the campaign KPIs'), calls [`fold`], and adds the
//! sums with the cursor in one transaction, so every event is counted exactly once; the overview
//! reads the sums, never the events.

use std::collections::HashMap;

use openclm_core::measure::kpi::{Counts, touch_counts};
use openclm_core::state::{Observation, StateConfig};
use openclm_core::{Channel, EventType, FieldError};

use crate::kpi::{SetAside, Stored};
use crate::{
    Activity, ActivityDay, ContentActivity, MAX_ACTIVITY_DAYS, Result, StoreError, WeekReach,
};

const DAY_MS: i64 = 86_400_000;

/// The week of a day (days since 1970-01-01): weeks start on Monday, and 1970-01-01 was a
/// Thursday, so week 0 runs from 1969-12-29 to 1970-01-04.
pub(crate) fn week_of(day: i64) -> i64 {
    day.saturating_add(3).div_euclid(7)
}

/// What a batch of events adds to the rollup.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct ActivityDelta {
    /// (day, channel) → counts to add.
    pub days: HashMap<(i64, Channel), Counts>,
    /// (week, HCP) → deliveries and engaged reactions to add.
    pub reach: HashMap<(i64, i64), (u64, u64)>,
    /// (content, key message or "") → counts to add.
    pub content: HashMap<(String, String), Counts>,
    /// Events whose counts are not finite: left out, to be set aside.
    pub set_aside: Vec<SetAside>,
}

impl ActivityDelta {
    /// The days' counts in key order (the order rows are written in).
    pub fn days_sorted(&self) -> Vec<((i64, Channel), Counts)> {
        let mut days: Vec<_> = self.days.iter().map(|(k, c)| (*k, *c)).collect();
        days.sort_by_key(|(k, _)| *k);
        days
    }

    /// The content's counts in key order.
    pub fn content_sorted(&self) -> Vec<((String, String), Counts)> {
        let mut content: Vec<_> = self.content.iter().map(|(k, c)| (k.clone(), *c)).collect();
        content.sort_by(|(a, _), (b, _)| a.cmp(b));
        content
    }

    /// The deliveries per week and HCP in key order.
    pub fn reach_sorted(&self) -> Vec<((i64, i64), (u64, u64))> {
        let mut reach: Vec<_> = self.reach.iter().map(|(k, n)| (*k, *n)).collect();
        reach.sort_unstable_by_key(|(k, _)| *k);
        reach
    }
}

/// Folds a batch of stored events into day × channel counts and week × HCP deliveries.
///
/// An open is a machine's when a privacy proxy's user agent or address made it
/// ([`Observation::proxy`]). The campaign KPIs also judge an open within seconds of its
/// decision's delivery to be a machine's; the rollup links no event to a decision (it has none),
/// so such an open counts here as a person's.
pub(crate) fn fold(events: &[Stored], config: &StateConfig) -> ActivityDelta {
    let mut out = ActivityDelta::default();
    for stored in events {
        let event = &stored.event;
        let machine_open = event.kind == EventType::Opened && Observation::of(event, config).proxy;
        let counts = touch_counts(event, machine_open, config);
        if counts.is_empty() {
            continue;
        }
        if !counts.is_finite() {
            out.set_aside.push(SetAside {
                seq: stored.seq,
                event_id: Some(event.event_id.clone()),
                reason: "what it adds to the activity is not a finite number".into(),
            });
            continue;
        }
        let day = event.occurred_at.millis().div_euclid(DAY_MS);
        out.days
            .entry((day, event.channel))
            .or_default()
            .add(&counts);
        if counts.delivered > 0 || counts.engaged > 0 {
            let reach = out.reach.entry((week_of(day), stored.hcp_key)).or_default();
            reach.0 += counts.delivered;
            reach.1 += counts.engaged;
        }
        if let Some(content) = &event.content_id {
            let key_message = event.key_message.clone().unwrap_or_default();
            out.content
                .entry((content.clone(), key_message))
                .or_default()
                .add(&counts);
        }
    }
    out
}

/// The first and last week a range of days overlaps; `None` for an empty range. A range longer
/// than [`MAX_ACTIVITY_DAYS`] is the caller's error.
pub(crate) fn weeks_of(from_day: i64, to_day: i64) -> Result<Option<(i64, i64)>> {
    if from_day > to_day {
        return Ok(None);
    }
    if to_day
        .checked_sub(from_day)
        .is_none_or(|span| span >= MAX_ACTIVITY_DAYS)
    {
        return Err(StoreError::Invalid(FieldError::new(
            "to_day",
            format!("is more than {MAX_ACTIVITY_DAYS} days after from_day"),
        )));
    }
    Ok(Some((week_of(from_day), week_of(to_day))))
}

/// The answer from what the rollup holds for the range: `stored_weeks` are the weeks with
/// deliveries as (week, HCPs reached, deliveries, HCPs reached who engaged), sorted; every other week of `first..=last`
/// is listed with zeros.
pub(crate) fn assemble(
    days: Vec<ActivityDay>,
    (first, last): (i64, i64),
    stored_weeks: &[(i64, u64, u64, u64)],
    (reached, engaged): (u64, u64),
) -> Activity {
    let stored: HashMap<i64, (u64, u64, u64)> = stored_weeks
        .iter()
        .map(|&(week, reached, delivered, engaged)| (week, (reached, delivered, engaged)))
        .collect();
    let weeks = (first..=last)
        .map(|week| {
            let (reached, delivered, engaged) = stored.get(&week).copied().unwrap_or_default();
            WeekReach {
                week,
                reached,
                delivered,
                engaged,
            }
        })
        .collect();
    Activity {
        days,
        weeks,
        reached,
        engaged,
    }
}

/// A content row as read back.
pub(crate) fn content_row(
    content_id: String,
    key_message: String,
    counts: &str,
) -> Result<ContentActivity> {
    Ok(ContentActivity {
        content_id,
        key_message,
        counts: serde_json::from_str(counts)
            .map_err(|e| StoreError::Corrupt(format!("activity_content.counts: {e}")))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use openclm_core::Event;
    use serde_json::json;

    fn stored(
        hcp_key: i64,
        day: i64,
        channel: &str,
        kind: &str,
        extra: serde_json::Value,
    ) -> Stored {
        let at = openclm_core::Timestamp::from_millis(day * DAY_MS + 3_600_000);
        let mut v = json!({"event_id": format!("e{hcp_key}{day}{kind}"), "hcp": "h",
            "occurred_at": at.to_string(), "source": "crm", "channel": channel, "type": kind});
        if let (Some(v), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
            v.extend(extra.clone());
        }
        Stored {
            seq: 0,
            hcp_key,
            event: Event::from_json(v).unwrap(),
        }
    }

    #[test]
    fn weeks_start_on_monday() {
        // 1970-01-01, a Thursday, is in week 0, which began on Monday 1969-12-29 (day -3).
        assert_eq!(week_of(0), 0);
        assert_eq!(week_of(-3), 0);
        assert_eq!(week_of(-4), -1);
        // Monday 1970-01-05 begins week 1; Sunday 1970-01-11 ends it.
        assert_eq!(
            (week_of(3), week_of(4), week_of(10), week_of(11)),
            (0, 1, 1, 2)
        );
        let w = WeekReach {
            week: week_of(20_486),
            reached: 0,
            delivered: 0,
            engaged: 0,
        };
        // 2026-02-02 (day 20486) is a Monday.
        assert_eq!(w.first_day(), 20_486);
    }

    #[test]
    fn every_event_counts_on_its_day_and_channel_and_deliveries_per_week() {
        let config = StateConfig::default();
        let events = [
            stored(1, 20_486, "email", "delivered", json!({})),
            stored(1, 20_486, "email", "opened", json!({"ip": "17.58.1.9"})),
            stored(
                1,
                20_487,
                "email",
                "opened",
                json!({"user_agent": "Outlook"}),
            ),
            stored(
                2,
                20_492,
                "face_to_face",
                "call_logged",
                json!({"rep_id": "r1"}),
            ),
            stored(
                2,
                20_493,
                "face_to_face",
                "call_logged",
                json!({"rep_id": "r1"}),
            ),
            // Nothing of a touch: no row.
            stored(2, 20_493, "crm", "prescription", json!({"units": 2})),
        ];
        let out = fold(&events, &config);
        let email = out.days[&(20_486, Channel::Email)];
        assert_eq!(
            (email.delivered, email.opened_machine, email.opened_human),
            (1, 1, 0)
        );
        assert_eq!(out.days[&(20_487, Channel::Email)].opened_human, 1);
        assert_eq!(out.days.len(), 4);
        // Day 20492 is a Sunday (week 2927), 20493 the next Monday.
        assert_eq!(
            out.reach_sorted(),
            [
                ((2927, 1), (1, 0)),
                ((2927, 2), (1, 0)),
                ((2928, 2), (1, 0))
            ]
        );
    }

    #[test]
    fn ranges_list_every_week_they_overlap() {
        assert_eq!(weeks_of(5, 4).unwrap(), None);
        assert_eq!(weeks_of(20_486, 20_493).unwrap(), Some((2927, 2928)));
        let e = weeks_of(0, MAX_ACTIVITY_DAYS).unwrap_err();
        assert!(matches!(e, StoreError::Invalid(f) if f.field == "to_day"));
        assert!(weeks_of(i64::MIN, i64::MAX).is_err());
        let a = assemble(Vec::new(), (10, 12), &[(11, 2, 3, 1)], (2, 1));
        let weeks: Vec<(i64, u64, u64)> = a
            .weeks
            .iter()
            .map(|w| (w.week, w.reached, w.delivered))
            .collect();
        assert_eq!(weeks, [(10, 0, 0), (11, 2, 3), (12, 0, 0)]);
    }
}
