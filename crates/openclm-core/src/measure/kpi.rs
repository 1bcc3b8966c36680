//! Campaign KPIs as additive counts: what one event adds to its campaign's slice (a day × group ×
//! wave × channel × content × segment), summed by the store as events arrive, and the rates a
//! marketer reads, derived from any sum of slices.
//!
//! Two kinds of event count for a campaign:
//!
//! - **Linked** events belong to one of its touches: they name the campaign, or a decision of its
//!   waves, or match such a decision's HCP, content and channel within the attribution window.
//!   They give the touch metrics: touches, deliveries, opens (a person's and a machine's apart),
//!   clicks, engaged reads, dwell, unsubscribes, bounces, survey scores ([`touch_counts`], which
//!   knows nothing of campaigns and also gives the brand's activity over every event).
//! - **Member** events are any event of an HCP the campaign targeted (holdout included), between
//!   its first wave and the end of its attribution window: responses (the objective's event types
//!   by the one rule of [`crate::response`]: a slide or page view from the engaged dwell on, never
//!   an open; whatever their source) and outcome units (e.g. prescriptions). Measured alike in
//!   both groups, they are what lift compares.

use serde::{Deserialize, Serialize};

use crate::campaign::Campaign;
use crate::event::{Details, Event};
use crate::response::dwell_ms as dwell;
use crate::state::StateConfig;
use crate::{Channel, EventType};

/// Upper bounds, in seconds, of the dwell histogram's buckets (the last is open): medians are
/// read from it by interpolation within the bucket.
pub const DWELL_BUCKETS_S: [f64; 12] = [
    1.0,
    2.0,
    4.0,
    8.0,
    16.0,
    32.0,
    64.0,
    128.0,
    256.0,
    512.0,
    1024.0,
    f64::INFINITY,
];

/// Additive counts of one slice of a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Counts {
    /// Contacts made: sends and calls.
    pub touches: u64,
    pub delivered: u64,
    pub opened_human: u64,
    pub opened_machine: u64,
    pub clicked: u64,
    /// Clicks, slides or pages read past the engaged dwell, videos half watched, surveys
    /// answered, meetings attended.
    pub engaged: u64,
    pub dwell_ms: f64,
    pub dwell_n: u64,
    pub dwell_histogram: [u64; 12],
    pub unsubscribes: u64,
    pub bounces: u64,
    /// Responses of members: events of the objective's types, by the one rule of
    /// [`crate::response`] (views from the engaged dwell on).
    pub responses: u64,
    pub nps_promoters: u64,
    pub nps_passives: u64,
    pub nps_detractors: u64,
    /// Units of the objective's outcome, from members.
    pub outcome_units: f64,
}

impl Counts {
    pub fn add(&mut self, o: &Counts) {
        self.touches += o.touches;
        self.delivered += o.delivered;
        self.opened_human += o.opened_human;
        self.opened_machine += o.opened_machine;
        self.clicked += o.clicked;
        self.engaged += o.engaged;
        self.dwell_ms += o.dwell_ms;
        self.dwell_n += o.dwell_n;
        for (a, b) in self.dwell_histogram.iter_mut().zip(o.dwell_histogram) {
            *a += b;
        }
        self.unsubscribes += o.unsubscribes;
        self.bounces += o.bounces;
        self.responses += o.responses;
        self.nps_promoters += o.nps_promoters;
        self.nps_passives += o.nps_passives;
        self.nps_detractors += o.nps_detractors;
        self.outcome_units += o.outcome_units;
    }

    pub fn is_empty(&self) -> bool {
        *self == Counts::default()
    }

    /// Whether every sum is a finite number (what a store can keep and read back).
    pub fn is_finite(&self) -> bool {
        self.dwell_ms.is_finite() && self.outcome_units.is_finite()
    }
}

/// How an event relates to a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Relation {
    /// It belongs to one of the campaign's touches.
    pub linked: bool,
    /// Its HCP is a member and it falls inside the campaign's measurement window.
    pub member: bool,
    /// Judged a machine's open (a proxy's signature, or within seconds of its delivery).
    pub machine_open: bool,
}

/// Whether the event shows a person engaging, as the HCP state judges it.
pub fn is_engaged(event: &Event, config: &StateConfig) -> bool {
    match (&event.kind, &event.details) {
        (EventType::Clicked, _)
        | (EventType::SurveyAnswered, _)
        | (EventType::MeetingAttended, _)
        | (EventType::MedicalInformationRequested, _) => true,
        (EventType::VideoProgress, Details::VideoProgress { percent }) => *percent >= 50.0,
        (EventType::SlideViewed | EventType::ContentViewed, _) => {
            dwell(event).is_some_and(|d| d >= config.engaged_dwell_ms)
        }
        _ => false,
    }
}

/// What one event adds to the touch metrics of whatever it belongs to — a campaign's linked
/// touch, or the brand's activity of its day and channel: touches, deliveries, opens (a person's
/// or, when `machine_open`, a machine's), clicks, engaged reactions, dwell, unsubscribes, bounces
/// and survey scores. Independent of any campaign: how an open is judged a machine's is the
/// caller's business.
pub fn touch_counts(event: &Event, machine_open: bool, config: &StateConfig) -> Counts {
    let mut c = Counts::default();
    match event.kind {
        EventType::Sent => c.touches = 1,
        // A call is a contact delivered in person (or on screen).
        EventType::CallLogged => {
            c.touches = 1;
            c.delivered = 1;
        }
        EventType::Delivered => c.delivered = 1,
        EventType::Opened if machine_open => c.opened_machine = 1,
        EventType::Opened => c.opened_human = 1,
        EventType::Clicked => c.clicked = 1,
        EventType::Unsubscribed => c.unsubscribes = 1,
        EventType::Bounced => c.bounces = 1,
        _ => {}
    }
    if is_engaged(event, config) {
        c.engaged = 1;
    }
    if let Some(ms) = dwell(event).filter(|d| *d >= 0) {
        c.dwell_ms = ms as f64;
        c.dwell_n = 1;
        let seconds = ms as f64 / 1000.0;
        let bucket = DWELL_BUCKETS_S
            .iter()
            .position(|&b| seconds < b)
            .unwrap_or(DWELL_BUCKETS_S.len() - 1);
        c.dwell_histogram[bucket] = 1;
    }
    if let Details::SurveyAnswered {
        score: Some(score), ..
    } = event.details
        && (0.0..=10.0).contains(&score)
    {
        match score {
            s if s >= 9.0 => c.nps_promoters = 1,
            s if s >= 7.0 => c.nps_passives = 1,
            _ => c.nps_detractors = 1,
        }
    }
    c
}

/// What one event adds to its campaign's slice.
pub fn contribution(
    event: &Event,
    campaign: &Campaign,
    relation: Relation,
    config: &StateConfig,
) -> Counts {
    let mut c = if relation.linked {
        touch_counts(event, relation.machine_open, config)
    } else {
        Counts::default()
    };
    if relation.member {
        if campaign
            .response_rule(config.engaged_dwell_ms)
            .is_response_event(event)
        {
            c.responses = 1;
        }
        if event.kind == campaign.objective.outcome {
            c.outcome_units = match &event.details {
                Details::Prescription { units, .. } => *units,
                _ => 1.0,
            };
        }
    }
    c
}

/// The rates a marketer reads, from a sum of slices.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rates {
    /// Deliveries per touch.
    pub delivery_rate: Option<f64>,
    /// Opens by a person per delivery (machine opens excluded).
    pub open_rate: Option<f64>,
    /// Share of all opens made by machines.
    pub machine_open_share: Option<f64>,
    pub click_rate: Option<f64>,
    /// Engaged reactions per delivery.
    pub engagement_rate: Option<f64>,
    pub dwell_mean_s: Option<f64>,
    /// Interpolated within the histogram's bucket.
    pub dwell_median_s: Option<f64>,
    /// Promoters' share minus detractors', in points (−100 to 100).
    pub nps: Option<f64>,
    pub nps_answers: u64,
}

fn ratio(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

/// The median of the histogram, linear within its bucket (the open last bucket reads as its
/// lower bound).
pub fn histogram_median(histogram: &[u64; 12]) -> Option<f64> {
    let total: u64 = histogram.iter().sum();
    if total == 0 {
        return None;
    }
    let half = total as f64 / 2.0;
    let mut below = 0.0;
    for (i, &n) in histogram.iter().enumerate() {
        let n = n as f64;
        if below + n >= half && n > 0.0 {
            let low = if i == 0 { 0.0 } else { DWELL_BUCKETS_S[i - 1] };
            let high = DWELL_BUCKETS_S[i];
            if !high.is_finite() {
                return Some(low);
            }
            return Some(low + (high - low) * (half - below) / n);
        }
        below += n;
    }
    None
}

impl Counts {
    pub fn rates(&self) -> Rates {
        let answers = self.nps_promoters + self.nps_passives + self.nps_detractors;
        Rates {
            delivery_rate: ratio(self.delivered, self.touches),
            open_rate: ratio(self.opened_human, self.delivered),
            machine_open_share: ratio(self.opened_machine, self.opened_human + self.opened_machine),
            click_rate: ratio(self.clicked, self.delivered),
            engagement_rate: ratio(self.engaged, self.delivered),
            dwell_mean_s: (self.dwell_n > 0).then(|| self.dwell_ms / self.dwell_n as f64 / 1000.0),
            dwell_median_s: histogram_median(&self.dwell_histogram),
            nps: (answers > 0).then(|| {
                (self.nps_promoters as f64 - self.nps_detractors as f64) / answers as f64 * 100.0
            }),
            nps_answers: answers,
        }
    }
}

/// Whether a channel's touches are messages a person opens (so open rates apply).
pub fn has_opens(channel: Channel) -> bool {
    channel.is_outbound_message()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn campaign() -> Campaign {
        crate::campaign::parse_file(
            "id: c\nname: C\nproduct: p\ntarget: {countries: [DE]}\nwaves: [{at: 2026-01-01T00:00:00Z}]\n",
        )
        .unwrap()
    }

    fn event(kind: &str, extra: serde_json::Value) -> Event {
        let mut v = json!({"event_id": "e", "occurred_at": "2026-01-02T00:00:00Z", "hcp": "h",
            "source": "crm", "channel": "email", "type": kind});
        if let (Some(o), Some(x)) = (v.as_object_mut(), extra.as_object()) {
            o.extend(x.clone());
        }
        Event::from_json(v).unwrap()
    }

    const LINKED: Relation = Relation {
        linked: true,
        member: true,
        machine_open: false,
    };

    #[test]
    fn each_event_adds_what_it_is() {
        let (c, config) = (campaign(), StateConfig::default());
        let of =
            |kind: &str, extra, relation| contribution(&event(kind, extra), &c, relation, &config);
        assert_eq!(of("sent", json!({}), LINKED).touches, 1);
        assert_eq!(of("opened", json!({}), LINKED).opened_human, 1);
        let machine = Relation {
            machine_open: true,
            ..LINKED
        };
        let m = of("opened", json!({}), machine);
        assert_eq!((m.opened_machine, m.opened_human, m.responses), (1, 0, 0));
        // A click is engaged, a response (by default) and counted once each.
        let click = of("clicked", json!({}), LINKED);
        assert_eq!((click.clicked, click.engaged, click.responses), (1, 1, 1));
        // A slide read 45 s: engaged, in the 32–64 s bucket; a 4 s glance is not engaged.
        let read = of("slide_viewed", json!({"dwell_ms": 45_000}), LINKED);
        assert_eq!(
            (read.engaged, read.dwell_n, read.dwell_histogram[6]),
            (1, 1, 1)
        );
        assert_eq!(
            of("slide_viewed", json!({"dwell_ms": 4_000}), LINKED).engaged,
            0
        );
        // A member's prescription from any source is outcome units; a non-member's is nothing.
        let rx = json!({"units": 3});
        assert_eq!(of("prescription", rx.clone(), LINKED).outcome_units, 3.0);
        let outsider = Relation {
            linked: false,
            member: false,
            machine_open: false,
        };
        assert!(of("prescription", rx, outsider).is_empty());
        // A member's click on something else is a response, not a campaign touch metric.
        let unlinked = Relation {
            linked: false,
            ..LINKED
        };
        let other = of("clicked", json!({}), unlinked);
        assert_eq!((other.clicked, other.responses), (0, 1));
        let nps = of(
            "survey_answered",
            json!({"question": "nps", "score": 9}),
            LINKED,
        );
        assert_eq!(nps.nps_promoters, 1);
    }

    /// Campaign responses follow the one definition: a slide view is a response from the
    /// engaged dwell on, as it is for rewards; a person's open never is.
    #[test]
    fn a_short_slide_view_is_no_campaign_response_and_a_long_one_is() {
        let (c, config) = (campaign(), StateConfig::default());
        let of = |kind: &str, extra| contribution(&event(kind, extra), &c, LINKED, &config);
        let glance = of("slide_viewed", json!({"dwell_ms": 3_000}));
        let read = of("slide_viewed", json!({"dwell_ms": 12_000}));
        assert_eq!((glance.responses, glance.engaged), (0, 0));
        assert_eq!((read.responses, read.engaged), (1, 1));
        assert_eq!(of("content_viewed", json!({})).responses, 0, "no dwell");
        assert_eq!(of("opened", json!({})).responses, 0);
        // The threshold is the settings' (`[rewards] engaged_dwell_ms`).
        let quick = StateConfig {
            engaged_dwell_ms: 2_000,
            ..StateConfig::default()
        };
        let glance = contribution(
            &event("slide_viewed", json!({"dwell_ms": 3_000})),
            &c,
            LINKED,
            &quick,
        );
        assert_eq!(glance.responses, 1);
    }

    #[test]
    fn touch_counts_count_what_the_event_is_whatever_it_belongs_to() {
        let config = StateConfig::default();
        let of = |kind: &str, extra, machine| touch_counts(&event(kind, extra), machine, &config);
        let call = of("call_logged", json!({"rep_id": "r1"}), false);
        assert_eq!((call.touches, call.delivered, call.engaged), (1, 1, 0));
        let sent = of("sent", json!({}), false);
        assert_eq!((sent.touches, sent.delivered), (1, 0));
        assert_eq!(of("delivered", json!({}), false).delivered, 1);
        // The caller judges the open; a machine's is never engagement.
        let human = of("opened", json!({}), false);
        let machine = of("opened", json!({}), true);
        assert_eq!((human.opened_human, human.opened_machine), (1, 0));
        assert_eq!(
            (
                machine.opened_human,
                machine.opened_machine,
                machine.engaged
            ),
            (0, 1, 0)
        );
        // The flag means nothing to anything but an open.
        assert_eq!(
            of("clicked", json!({}), true),
            Counts {
                clicked: 1,
                engaged: 1,
                ..Counts::default()
            }
        );
        let read = of("slide_viewed", json!({"dwell_ms": 12_000}), false);
        assert_eq!(
            (
                read.engaged,
                read.dwell_ms,
                read.dwell_n,
                read.dwell_histogram[3]
            ),
            (1, 12_000.0, 1, 0)
        );
        assert_eq!(read.dwell_histogram[4], 1, "12 s falls in [8, 16)");
        assert_eq!(of("unsubscribed", json!({}), false).unsubscribes, 1);
        assert_eq!(of("bounced", json!({}), false).bounces, 1);
        let detractor = of(
            "survey_answered",
            json!({"question": "nps", "score": 3}),
            false,
        );
        assert_eq!((detractor.nps_detractors, detractor.engaged), (1, 1));
        // Responses and outcomes belong to campaigns, never to touch counts.
        assert!(of("prescription", json!({"units": 3}), false).is_empty());
        // Exactly the linked part of a campaign's contribution.
        let c = campaign();
        let linked_only = Relation {
            linked: true,
            member: false,
            machine_open: true,
        };
        for (kind, extra) in [
            ("opened", json!({})),
            ("clicked", json!({})),
            ("slide_viewed", json!({"dwell_ms": 45_000})),
            ("survey_answered", json!({"question": "nps", "score": 8})),
        ] {
            let e = event(kind, extra);
            assert_eq!(
                contribution(&e, &c, linked_only, &config),
                touch_counts(&e, true, &config),
                "{kind}"
            );
        }
    }

    #[test]
    fn rates_and_the_median_come_from_the_sums() {
        let mut total = Counts {
            touches: 10,
            delivered: 8,
            opened_human: 4,
            opened_machine: 4,
            clicked: 2,
            nps_promoters: 3,
            nps_passives: 1,
            nps_detractors: 1,
            ..Counts::default()
        };
        // Dwell: 1, 1 and 2 reads in the buckets [1, 2), [2, 4) and [4, 8): the median (2 of 4)
        // falls at the end of [2, 4).
        total.dwell_histogram[1] = 1;
        total.dwell_histogram[2] = 1;
        total.dwell_histogram[3] = 2;
        let r = total.rates();
        assert_eq!(r.delivery_rate, Some(0.8));
        assert_eq!(r.open_rate, Some(0.5));
        assert_eq!(r.machine_open_share, Some(0.5));
        assert_eq!(r.click_rate, Some(0.25));
        assert_eq!(r.nps, Some(40.0));
        assert_eq!(r.dwell_median_s, Some(4.0));
        assert_eq!(Counts::default().rates().open_rate, None);
        let mut sum = Counts::default();
        sum.add(&total);
        sum.add(&total);
        assert_eq!(sum.touches, 20);
        assert_eq!(sum.dwell_histogram[3], 4);
    }
}
