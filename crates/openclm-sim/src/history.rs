//! One HCP's interaction history, drawn from their hidden persona: consent, rep calls with
//! e-detailing, email funnels, web and banner visits, webinars, surveys, medical-information
//! requests and the weekly prescriptions those touches move.

use openclm_core::content::ContentKind;
use openclm_core::{Channel, Event, EventType, Timestamp};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};

use crate::calendar::{DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS, day_of, is_weekend, iso_week_label};
use crate::catalog::{CAMPAIGNS, ITEMS, Library, PRODUCTS, SURVEYS, Topic};
use crate::people::Persona;
use crate::random::{Stream, between, chance, lognormal, pick, poisson, rng_for, unit, weighted};
use crate::texts;

/// Everything one HCP's history is drawn from.
pub(crate) struct Context<'w> {
    pub seed: u64,
    pub index: usize,
    pub persona: &'w Persona,
    pub library: &'w Library,
    /// The history covers `[start, end)`, in milliseconds.
    pub start: i64,
    pub end: i64,
}

/// An event before it has its id: when it happened, and its fields.
pub(crate) struct Draft {
    at: i64,
    fields: Map<String, Value>,
}

/// Which id space an event names the HCP in.
#[derive(Clone, Copy)]
enum Source {
    Crm,
    /// The email provider's id (the address) when the provider knows the HCP; otherwise OpenCLM
    /// sent the email itself and names the HCP by its own id.
    Email,
    Web,
    OpenClm,
}

/// An interaction that nudges the HCP's prescribing for a few weeks, by its weight.
struct Touch {
    at: i64,
    weight: f64,
}

/// An email queued by a campaign wave or by a rep after a call.
struct EmailSend {
    at: i64,
    template: usize,
    campaign: Option<&'static str>,
    rep_triggered: bool,
}

/// The drafts of one HCP's history, in no particular order.
pub(crate) fn drafts(ctx: &Context) -> Vec<Draft> {
    let mut t = Timeline {
        ctx,
        p: ctx.persona,
        rng: rng_for(ctx.seed, Stream::History, ctx.index as u64),
        drafts: Vec::new(),
        touches: Vec::new(),
        sends: Vec::new(),
        sequence: 0,
        consent: None,
    };
    if ctx.end <= ctx.start {
        return t.drafts;
    }
    t.consent();
    t.calls();
    t.campaign_emails();
    t.deliver_emails();
    t.web_visits();
    t.banner_clicks();
    t.webinars();
    t.survey_waves();
    t.medical_information();
    t.prescriptions();
    t.drafts
}

/// Orders drafts in time and turns them into validated events with deterministic ids.
pub(crate) fn finish(ctx: &Context, mut drafts: Vec<Draft>) -> Vec<Event> {
    drafts.sort_by_key(|d| d.at);
    let number = ctx.index + 1;
    drafts
        .into_iter()
        .enumerate()
        .map(|(n, mut d)| {
            let id = format!("evt-{}-{number:06}-{n:04}", ctx.seed);
            d.fields.insert("event_id".into(), Value::String(id));
            d.fields.insert(
                "occurred_at".into(),
                Value::String(Timestamp::from_millis(d.at).to_string()),
            );
            Event::from_json(Value::Object(d.fields))
                .expect("the simulator only builds events that satisfy the data contract")
        })
        .collect()
}

struct Timeline<'c, 'w> {
    ctx: &'c Context<'w>,
    p: &'w Persona,
    rng: ChaCha8Rng,
    drafts: Vec<Draft>,
    touches: Vec<Touch>,
    sends: Vec<EmailSend>,
    /// Numbers calls, messages and responses so their events can be joined.
    sequence: u32,
    /// When email consent holds: `[granted, withdrawn)`.
    consent: Option<(i64, i64)>,
}

fn put(map: &mut Map<String, Value>, key: &str, value: impl Into<Value>) {
    map.insert(key.to_owned(), value.into());
}

impl Timeline<'_, '_> {
    fn emit(
        &mut self,
        at: i64,
        source: Source,
        channel: Channel,
        kind: EventType,
    ) -> Option<&mut Map<String, Value>> {
        if at < self.ctx.start || at >= self.ctx.end {
            return None;
        }
        let openclm = || ("openclm", self.p.hcp_id.as_str());
        let (source, hcp) = match source {
            Source::Crm => ("crm", self.p.crm_id.as_str()),
            Source::Email => self
                .p
                .email_id
                .as_deref()
                .map_or_else(openclm, |id| ("email", id)),
            Source::Web => self
                .p
                .web_id
                .as_deref()
                .map_or_else(openclm, |id| ("web", id)),
            Source::OpenClm => openclm(),
        };
        let mut fields = Map::new();
        put(&mut fields, "hcp", hcp);
        put(&mut fields, "source", source);
        put(&mut fields, "channel", channel.as_str());
        put(&mut fields, "type", kind.as_str());
        self.drafts.push(Draft { at, fields });
        self.drafts.last_mut().map(|d| &mut d.fields)
    }

    fn next_id(&mut self, prefix: &str) -> String {
        self.sequence += 1;
        format!("{prefix}-{}-{}", self.ctx.index + 1, self.sequence)
    }

    fn months(&self) -> f64 {
        (self.ctx.end - self.ctx.start) as f64 / (30.0 * DAY_MS as f64)
    }

    fn first_day(&self) -> i64 {
        day_of(self.ctx.start)
    }

    fn last_day(&self) -> i64 {
        day_of(self.ctx.end - 1)
    }

    /// A day of the window; a working day when asked (a few tries, then any day).
    fn random_day(&mut self, working_day: bool) -> i64 {
        let (first, last) = (self.first_day(), self.last_day());
        let mut day = between(&mut self.rng, first, last + 1);
        for _ in 0..6 {
            if !(working_day && is_weekend(day)) {
                break;
            }
            day = between(&mut self.rng, first, last + 1);
        }
        day
    }

    /// The UTC instant of a local hour of the HCP's day.
    fn local(&self, day: i64, hour: f64) -> i64 {
        day * DAY_MS + ((hour - self.p.utc_offset_hours as f64) * HOUR_MS as f64) as i64
    }

    /// A UTC instant in the `span` hours after local `from` o'clock, uniformly.
    fn local_between(&mut self, day: i64, from: f64, span: f64) -> i64 {
        let hour = from + span * unit(&mut self.rng);
        self.local(day, hour)
    }

    fn at_fraction(&self, fraction: f64) -> i64 {
        self.ctx.start + ((self.ctx.end - self.ctx.start) as f64 * fraction) as i64
    }

    fn interest(&self, topics: &[Topic]) -> f64 {
        topics
            .iter()
            .map(|t| self.p.topics[t.index()])
            .fold(0.0, f64::max)
    }

    fn pick_product(&mut self) -> Option<usize> {
        weighted(&mut self.rng, &self.p.relevance)
    }

    fn pick_topic(&mut self) -> Topic {
        let weights = self.p.topics.map(|x| x * x + 0.02);
        Topic::ALL[weighted(&mut self.rng, &weights).unwrap_or(0)]
    }

    /// The first library item of this kind and product (covering `topic`, if given) that may be
    /// used with this HCP at `at`.
    fn usable(
        &self,
        kind: ContentKind,
        product: usize,
        topic: Option<Topic>,
        at: i64,
    ) -> Option<usize> {
        ITEMS.iter().enumerate().find_map(|(i, item)| {
            (item.kind == kind
                && item.product == product
                && topic.is_none_or(|t| item.topics.contains(&t))
                && self.ctx.library.usable(i, self.p.country, at))
            .then_some(i)
        })
    }

    fn touch(&mut self, at: i64, weight: f64) {
        self.touches.push(Touch { at, weight });
    }

    fn consent(&mut self) {
        let Some(plan) = self.p.consent.clone() else {
            return;
        };
        let granted_day = day_of(self.at_fraction(plan.granted)).max(self.first_day() + 1);
        let hour = 8.0 + 10.0 * unit(&mut self.rng);
        let granted = self.local(granted_day, hour);
        let evidence = *pick(
            &mut self.rng,
            &[
                "signed consent form",
                "double opt-in confirmed",
                "captured during rep visit",
            ],
        )
        .unwrap_or(&"signed consent form");
        let Some(e) = self.emit(
            granted,
            Source::Crm,
            Channel::Email,
            EventType::ConsentChanged,
        ) else {
            return;
        };
        put(e, "state", "granted");
        put(e, "purpose", "promotional");
        put(e, "evidence", evidence);
        let mut until = self.ctx.end;
        if let Some(fraction) = plan.withdrawn {
            let day = day_of(self.at_fraction(fraction)).max(granted_day + 1);
            let at = self.local_between(day, 8.0, 10.0);
            if let Some(e) = self.emit(at, Source::Crm, Channel::Email, EventType::ConsentChanged) {
                put(e, "state", "withdrawn");
                put(e, "purpose", "promotional");
                put(e, "evidence", "asked the rep to stop promotional emails");
                until = at;
            }
        }
        self.consent = Some((granted, until));
    }

    fn calls(&mut self) {
        let months = self.months();
        let mut taken: Vec<i64> = Vec::new();
        let visits = poisson(&mut self.rng, self.p.visits_per_month * months);
        for _ in 0..visits {
            if let Some(day) = self.free_working_day(&mut taken) {
                let at = self.local_between(day, 8.5, 9.0);
                self.call(Channel::FaceToFace, at);
            }
        }
        let remote = poisson(&mut self.rng, self.p.remote_calls_per_month * months);
        for _ in 0..remote {
            if let Some(day) = self.free_working_day(&mut taken) {
                let at = self.local_between(day, 8.0, 10.0);
                self.call(Channel::RemoteDetail, at);
            }
        }
    }

    /// A working day with no call yet, marked as taken: a rep contacts an HCP at most once a
    /// day. `None` after a few collisions, as a full calendar would give.
    fn free_working_day(&mut self, taken: &mut Vec<i64>) -> Option<i64> {
        for _ in 0..5 {
            let day = self.random_day(true);
            if !taken.contains(&day) {
                taken.push(day);
                return Some(day);
            }
        }
        None
    }

    fn call(&mut self, channel: Channel, at: i64) {
        let Some(product) = self.pick_product() else {
            return;
        };
        let call_id = self.next_id("call");
        let rep = self.p.rep_id.clone();
        let remote = channel == Channel::RemoteDetail;
        let deck = self.usable(ContentKind::SlideDeck, product, None, at);
        let slides = PRODUCTS[product].slides;
        let mut shown: Vec<usize> = Vec::new();
        if deck.is_some() {
            let most = if remote { 5 } else { 6 }.min(slides.len());
            let count = between(&mut self.rng, 2, most as i64 + 1) as usize;
            let mut order: Vec<usize> = (0..slides.len()).collect();
            for i in 0..count {
                let j = between(&mut self.rng, i as i64, order.len() as i64) as usize;
                order.swap(i, j);
            }
            shown = order[..count].to_vec();
            shown.sort_unstable();
        }

        let mut cursor = at;
        let mut key_messages: Vec<String> = Vec::new();
        let mut engaged_topic: Option<(Topic, i64)> = None;
        let pace = if remote { 12_000.0 } else { 20_000.0 };
        for &s in &shown {
            let (slide, topic) = slides[s];
            let interest = self.p.topics[topic.index()];
            let dwell = (lognormal(&mut self.rng, pace, 0.6)
                * (0.4 + 1.6 * interest)
                * self.p.engagement.powf(0.3))
            .clamp(1_500.0, 600_000.0) as i64;
            let key_message = self
                .usable(ContentKind::KeyMessage, product, Some(topic), cursor)
                .map(|i| ITEMS[i].id);
            if let Some(e) = self.emit(cursor, Source::Crm, channel, EventType::SlideViewed) {
                put(e, "dwell_ms", dwell);
                put(e, "slide", slide);
                if let Some(d) = deck {
                    put(e, "content_id", ITEMS[d].id);
                }
                put(e, "rep_id", rep.as_str());
                put(e, "call_id", call_id.as_str());
                put(e, "product", PRODUCTS[product].key);
                if let Some(km) = key_message {
                    put(e, "key_message", km);
                    if !key_messages.iter().any(|k| k == km) {
                        key_messages.push(km.to_owned());
                    }
                }
            }
            if engaged_topic.is_none_or(|(_, d)| dwell > d) {
                engaged_topic = Some((topic, dwell));
            }
            cursor += dwell + between(&mut self.rng, 1_000, 15_000);
        }
        if key_messages.is_empty()
            && let Some(km) = self.usable(ContentKind::KeyMessage, product, None, at)
        {
            key_messages.push(ITEMS[km].id.to_owned());
        }

        let topic = match engaged_topic {
            Some((t, _)) => t,
            None => self.pick_topic(),
        };
        let mut notes = pick(&mut self.rng, texts::call_notes(topic))
            .copied()
            .unwrap_or("Routine call")
            .to_owned();
        if chance(&mut self.rng, 0.2) {
            let objection = pick(&mut self.rng, texts::OBJECTIONS)
                .copied()
                .unwrap_or_default();
            notes = format!("{notes}. {objection}");
        }
        if chance(&mut self.rng, 0.008) {
            notes = pick(&mut self.rng, texts::ADVERSE_EVENT_NOTES)
                .copied()
                .unwrap_or_default()
                .to_owned();
        }
        let talk = between(&mut self.rng, 2, if remote { 10 } else { 15 }) * MINUTE_MS;
        let minutes = (cursor - at + talk) / MINUTE_MS;
        // Reps log the call once they are back in the car or between meetings.
        let logged = cursor + talk + between(&mut self.rng, 5, 180) * MINUTE_MS;
        let interest = self.p.topics[topic.index()];
        let Some(e) = self.emit(logged, Source::Crm, channel, EventType::CallLogged) else {
            return;
        };
        put(e, "rep_id", rep.as_str());
        put(e, "call_id", call_id.as_str());
        put(e, "product", PRODUCTS[product].key);
        put(e, "key_messages", key_messages);
        put(e, "notes", notes);
        put(e, "duration_min", minutes);
        if let Some(d) = deck {
            put(e, "content_id", ITEMS[d].id);
        }
        self.touch(at, if remote { 0.6 } else { 1.0 } * (0.5 + interest));

        // Reps often follow a call with an approved email on the same product.
        if chance(&mut self.rng, 0.25) {
            // Within office hours: later the same day, or the next morning.
            let local_hour =
                (logged + self.p.utc_offset_hours * HOUR_MS).rem_euclid(DAY_MS) / HOUR_MS;
            let send_at = if local_hour < 16 {
                logged + between(&mut self.rng, 20, 120) * MINUTE_MS
            } else {
                let next = day_of(logged + self.p.utc_offset_hours * HOUR_MS) + 1;
                self.local_between(next, 8.0, 3.0)
            };
            if let Some(template) = self.usable(ContentKind::EmailTemplate, product, None, send_at)
            {
                self.sends.push(EmailSend {
                    at: send_at,
                    template,
                    campaign: None,
                    rep_triggered: true,
                });
            }
        }
    }

    fn campaign_emails(&mut self) {
        let today = day_of(self.ctx.end);
        for campaign in CAMPAIGNS {
            let relevance = self.p.relevance[campaign.product];
            if !chance(&mut self.rng, relevance.sqrt() * 0.9) {
                continue;
            }
            for &days_ago in campaign.waves {
                // Sends are spread over a couple of days per wave.
                let mut day = today - days_ago + between(&mut self.rng, 0, 3);
                if is_weekend(day) {
                    day += 2;
                }
                let at = self.local_between(day, 7.0, 3.0);
                let template = campaign.templates.iter().find_map(|id| {
                    let i = self.ctx.library.index_of(id)?;
                    self.ctx.library.usable(i, self.p.country, at).then_some(i)
                });
                if let Some(template) = template {
                    self.sends.push(EmailSend {
                        at,
                        template,
                        campaign: Some(campaign.id),
                        rep_triggered: false,
                    });
                }
            }
        }
    }

    /// Plays the queued sends in time order, so that a bounce or an unsubscribe stops the ones
    /// after it, and recent sends tire the reader.
    fn deliver_emails(&mut self) {
        let mut sends = std::mem::take(&mut self.sends);
        sends.sort_by_key(|s| s.at);
        let Some((from, until)) = self.consent else {
            return;
        };
        let mut suppressed = false;
        let mut recent: Vec<i64> = Vec::new();
        for send in sends {
            if suppressed || send.at < from || send.at >= until {
                continue;
            }
            recent.retain(|t| send.at - t < 14 * DAY_MS);
            let fatigue = 0.8f64.powi(recent.len() as i32);
            recent.push(send.at);
            suppressed = self.email(&send, fatigue);
        }
    }

    /// One email's funnel; returns whether later sends must stop (hard bounce, unsubscribe).
    fn email(&mut self, send: &EmailSend, fatigue: f64) -> bool {
        let item = &ITEMS[send.template];
        let message_id = self.next_id("msg");
        let rep = send.rep_triggered.then(|| self.p.rep_id.clone());
        let common = |e: &mut Map<String, Value>| {
            put(e, "content_id", item.id);
            put(e, "message_id", message_id.as_str());
            if let Some(c) = send.campaign {
                put(e, "campaign_id", c);
            }
            if let Some(r) = &rep {
                put(e, "rep_id", r.as_str());
            }
        };
        let Some(e) = self.emit(send.at, Source::Email, Channel::Email, EventType::Sent) else {
            return false;
        };
        common(e);
        put(e, "subject", item.title);

        let bounce_at = send.at + between(&mut self.rng, 2, 40) * SECOND_MS;
        if self.p.bad_address || chance(&mut self.rng, 0.005) {
            let hard = self.p.bad_address;
            if let Some(e) = self.emit(bounce_at, Source::Email, Channel::Email, EventType::Bounced)
            {
                common(e);
                put(e, "bounce_type", if hard { "hard" } else { "soft" });
                put(
                    e,
                    "reason",
                    if hard {
                        "550 5.1.1 mailbox unavailable"
                    } else {
                        "452 4.2.2 mailbox full"
                    },
                );
            }
            return hard;
        }
        let delivered = send.at + between(&mut self.rng, 1, 20) * SECOND_MS;
        let Some(e) = self.emit(
            delivered,
            Source::Email,
            Channel::Email,
            EventType::Delivered,
        ) else {
            return false;
        };
        common(e);

        if self.p.machine_opens {
            let at = delivered + between(&mut self.rng, 1, 8) * SECOND_MS;
            if let Some(e) = self.emit(at, Source::Email, Channel::Email, EventType::Opened) {
                common(e);
                put(e, "user_agent", texts::MACHINE_USER_AGENT);
                put(e, "sg_machine_open", true);
            }
        }

        let fit = self.interest(item.topics);
        let relevance = self.p.relevance[item.product];
        let p_open = (0.08
            + 0.7
                * self.p.affinity.email
                * (0.4 + 0.6 * fit)
                * (0.5 + 0.5 * relevance)
                * self.p.engagement.min(1.6)
                * fatigue)
            .min(0.9);
        let read_at =
            delivered + lognormal(&mut self.rng, 3.0 * HOUR_MS as f64, 1.2).max(60_000.0) as i64;
        let mut opened = false;
        if chance(&mut self.rng, p_open) {
            opened = true;
            // Apple's proxy has already fetched the pixel; the real read is invisible.
            if !self.p.machine_opens {
                let agent = pick(&mut self.rng, texts::HUMAN_USER_AGENTS)
                    .copied()
                    .unwrap_or_default();
                if let Some(e) =
                    self.emit(read_at, Source::Email, Channel::Email, EventType::Opened)
                {
                    common(e);
                    put(e, "user_agent", agent);
                    put(e, "sg_machine_open", false);
                }
                if chance(&mut self.rng, 0.2) {
                    let again =
                        read_at + lognormal(&mut self.rng, 20.0 * HOUR_MS as f64, 1.0) as i64;
                    if let Some(e) =
                        self.emit(again, Source::Email, Channel::Email, EventType::Opened)
                    {
                        common(e);
                        put(e, "user_agent", agent);
                        put(e, "sg_machine_open", false);
                    }
                }
            }
            self.touch(read_at, 0.3);
            let p_click = (0.08 + 0.4 * fit * self.p.engagement.min(1.0)).min(0.6);
            if chance(&mut self.rng, p_click) {
                let at = read_at + between(&mut self.rng, 5, 180) * SECOND_MS;
                let topic = item.topics.first().copied().unwrap_or(Topic::Efficacy);
                let campaign = send.campaign.unwrap_or("rep-email");
                let url = format!(
                    "{}/{}?utm_source=email&utm_campaign={campaign}",
                    PRODUCTS[item.product].site(),
                    topic.path()
                );
                if let Some(e) = self.emit(at, Source::Email, Channel::Email, EventType::Clicked) {
                    common(e);
                    put(e, "url", url.as_str());
                    self.touch(at, 0.8);
                    let landed = at + between(&mut self.rng, 2, 10) * SECOND_MS;
                    self.page_view(landed, item.product, topic, "email");
                }
            }
        }

        let p_unsubscribe = 0.002 + 0.02 * (1.0 - fatigue) * (1.0 - self.p.affinity.email);
        if chance(&mut self.rng, p_unsubscribe) {
            let at = if opened {
                read_at + 40 * SECOND_MS
            } else {
                read_at
            };
            if let Some(e) = self.emit(at, Source::Email, Channel::Email, EventType::Unsubscribed) {
                common(e);
                return true;
            }
        }
        false
    }

    /// A web page view of `topic` on a brand site; the page is a library item when one is live.
    fn page_view(&mut self, at: i64, product: usize, topic: Topic, referrer: &str) -> i64 {
        if self.p.web_id.is_none() {
            return at;
        }
        let interest = self.p.topics[topic.index()];
        let dwell = (lognormal(&mut self.rng, 40_000.0, 0.9) * (0.4 + 1.4 * interest))
            .clamp(2_000.0, 1_800_000.0) as i64;
        let page = self.usable(ContentKind::WebPage, product, Some(topic), at);
        let url = format!("{}/{}", PRODUCTS[product].site(), topic.path());
        if let Some(e) = self.emit(at, Source::Web, Channel::Web, EventType::ContentViewed) {
            put(e, "url", url);
            put(e, "dwell_ms", dwell);
            put(e, "referrer", referrer);
            put(e, "product", PRODUCTS[product].key);
            if let Some(p) = page {
                put(e, "content_id", ITEMS[p].id);
            }
            self.touch(at, 0.15 + 0.3 * interest);
        }
        at + dwell
    }

    fn web_visits(&mut self) {
        if self.p.web_id.is_none() {
            return;
        }
        let rate = 0.6 * self.p.affinity.web * self.p.engagement;
        let expected = rate * self.months();
        let visits = poisson(&mut self.rng, expected);
        for _ in 0..visits {
            let Some(product) = self.pick_product() else {
                return;
            };
            let working_day = chance(&mut self.rng, 0.8);
            let day = self.random_day(working_day);
            let mut at = self.local_between(day, 7.0, 15.0);
            let pages = 1 + poisson(&mut self.rng, 0.8 * self.p.engagement.min(2.0));
            for n in 0..pages {
                let topic = self.pick_topic();
                let referrer = if n == 0 { "search" } else { "internal" };
                let left = self.page_view(at, product, topic, referrer);
                at = left + between(&mut self.rng, 2, 20) * SECOND_MS;
            }
            if chance(&mut self.rng, 0.25)
                && let Some(video) = self.usable(ContentKind::Video, product, None, at)
            {
                self.watch(video, at);
            }
        }
    }

    fn watch(&mut self, video: usize, start: i64) {
        let fit = self.interest(ITEMS[video].topics);
        let watched = 100.0 * unit(&mut self.rng).powf(1.0 / (0.4 + 1.5 * fit));
        let length = 180 * SECOND_MS;
        for percent in [0u32, 25, 50, 75, 100] {
            if f64::from(percent) > watched {
                break;
            }
            let at = start + length * i64::from(percent) / 100;
            if let Some(e) = self.emit(at, Source::Web, Channel::Web, EventType::VideoProgress) {
                put(e, "percent", percent);
                put(e, "content_id", ITEMS[video].id);
                put(e, "product", PRODUCTS[ITEMS[video].product].key);
            }
        }
        self.touch(start, 0.2 + 0.5 * watched / 100.0);
    }

    fn banner_clicks(&mut self) {
        if self.p.web_id.is_none() {
            return;
        }
        let expected = 0.08 * self.p.affinity.web * self.months();
        let clicks = poisson(&mut self.rng, expected);
        for _ in 0..clicks {
            let Some(product) = self.pick_product() else {
                return;
            };
            let day = self.random_day(false);
            let at = self.local_between(day, 7.0, 15.0);
            let Some(banner) = self.usable(ContentKind::Banner, product, None, at) else {
                continue;
            };
            let topic = ITEMS[banner]
                .topics
                .first()
                .copied()
                .unwrap_or(Topic::Efficacy);
            let url = format!(
                "{}/{}?utm_source=banner",
                PRODUCTS[product].site(),
                topic.path()
            );
            if let Some(e) = self.emit(at, Source::Web, Channel::Banner, EventType::Clicked) {
                put(e, "url", url);
                put(e, "content_id", ITEMS[banner].id);
                put(e, "placement", "medical-news-site");
                self.page_view(at + 3 * SECOND_MS, product, topic, "banner");
            }
        }
    }

    fn webinars(&mut self) {
        let today = day_of(self.ctx.end);
        for (i, item) in ITEMS.iter().enumerate() {
            let relevance = self.p.relevance[item.product];
            if item.kind != ContentKind::Webinar || relevance <= 0.0 {
                continue;
            }
            for (n, &days_ago) in item.sessions.iter().enumerate() {
                // Live sessions are global, at 17:00 UTC.
                let at = (today - days_ago) * DAY_MS + 17 * HOUR_MS;
                if !self.ctx.library.usable(i, self.p.country, at) {
                    continue;
                }
                let p = (0.02 + 0.2 * self.p.affinity.webinar * self.interest(item.topics))
                    * relevance
                    * self.p.engagement.min(2.0);
                if !chance(&mut self.rng, p) {
                    continue;
                }
                let joined = at + between(&mut self.rng, -3, 12) * MINUTE_MS;
                let minutes = between(&mut self.rng, 10, 61);
                if let Some(e) = self.emit(
                    joined,
                    Source::OpenClm,
                    Channel::Webinar,
                    EventType::MeetingAttended,
                ) {
                    put(e, "content_id", item.id);
                    put(e, "session_id", format!("{}-S{}", item.id, n + 1));
                    put(e, "duration_min", minutes);
                    self.touch(joined, 0.5 + minutes as f64 / 60.0);
                } else {
                    continue;
                }
                if chance(&mut self.rng, 0.2 + 0.5 * self.p.affinity.survey)
                    && let Some(q) = self.usable(ContentKind::Questionnaire, item.product, None, at)
                {
                    let answered = joined + (minutes + between(&mut self.rng, 1, 30)) * MINUTE_MS;
                    self.survey(q, answered, Channel::Webinar);
                }
            }
        }
    }

    fn survey_waves(&mut self) {
        let today = day_of(self.ctx.end);
        for wave in SURVEYS {
            let Some(q) = self.ctx.library.index_of(wave.questionnaire) else {
                continue;
            };
            let relevance = self.p.relevance[ITEMS[q].product];
            let p = (0.03 + 0.35 * self.p.affinity.survey * self.p.engagement.min(1.5)) * relevance;
            if relevance <= 0.0 || !chance(&mut self.rng, p) {
                continue;
            }
            let delay = lognormal(&mut self.rng, 1.5, 0.8).min(20.0);
            let day = today - wave.days_ago + delay as i64;
            let at = self.local_between(day, 8.0, 12.0);
            if self.ctx.library.usable(q, self.p.country, at) {
                self.survey(q, at, Channel::Survey);
            }
        }
    }

    /// One questionnaire response: a recommendation score with its reason, the topic the HCP
    /// wants more of (their true interest, most of the time), and sometimes a free comment.
    fn survey(&mut self, questionnaire: usize, at: i64, via: Channel) {
        let item = &ITEMS[questionnaire];
        let brand = PRODUCTS[item.product].brand;
        let response_id = self.next_id("resp");
        let favourite = self.p.favourite_topic();
        let satisfaction = 0.45 * self.p.relevance[item.product]
            + 0.35 * self.interest(&Topic::ALL)
            + 0.2 * unit(&mut self.rng);
        let score = (10.0 * satisfaction + 1.5 * (unit(&mut self.rng) - 0.5))
            .round()
            .clamp(0.0, 10.0) as u32;
        let reason = pick(&mut self.rng, texts::nps_reasons(score))
            .copied()
            .unwrap_or_default();
        let wanted = if chance(&mut self.rng, 0.8) {
            favourite
        } else {
            self.pick_topic()
        };
        let source = if via == Channel::Webinar {
            "webinar"
        } else {
            "survey_invitation"
        };
        let questions: [(String, Option<u32>, &str); 2] = [
            (
                format!(
                    "How likely are you to recommend the {brand} materials to a colleague? (0-10)"
                ),
                Some(score),
                reason,
            ),
            (
                "Which topic would you like to hear more about?".to_owned(),
                None,
                wanted.label(),
            ),
        ];
        for (n, (question, score, answer)) in questions.into_iter().enumerate() {
            let at = at + n as i64 * between(&mut self.rng, 5, 40) * SECOND_MS;
            if let Some(e) = self.emit(
                at,
                Source::OpenClm,
                Channel::Survey,
                EventType::SurveyAnswered,
            ) {
                put(e, "question", question);
                put(e, "answer", answer);
                if let Some(s) = score {
                    put(e, "score", s);
                }
                put(e, "content_id", item.id);
                put(e, "response_id", response_id.as_str());
                put(e, "invited_via", source);
            }
        }
        self.touch(at, 0.3);
        if chance(&mut self.rng, 0.25) {
            let text = if chance(&mut self.rng, 0.06) {
                pick(&mut self.rng, texts::ADVERSE_EVENT_COMMENTS)
            } else {
                pick(&mut self.rng, texts::COMMENTS)
            }
            .copied()
            .unwrap_or("Thank you");
            if let Some(e) = self.emit(
                at + 90 * SECOND_MS,
                Source::OpenClm,
                Channel::Survey,
                EventType::Comment,
            ) {
                put(e, "text", text);
                put(e, "content_id", item.id);
                put(e, "response_id", response_id.as_str());
            }
        }
    }

    fn medical_information(&mut self) {
        let specialist_bonus = if self.p.kol { 2.0 } else { 1.0 };
        let rate = 0.012 * self.p.engagement * specialist_bonus;
        let expected = rate * self.months();
        let requests = poisson(&mut self.rng, expected);
        for _ in 0..requests {
            let Some(product) = self.pick_product() else {
                return;
            };
            let topic = if chance(&mut self.rng, 0.6) {
                self.p.favourite_topic()
            } else {
                self.pick_topic()
            };
            let template = if chance(&mut self.rng, 0.08) {
                pick(&mut self.rng, texts::ADVERSE_EVENT_QUESTIONS)
            } else {
                pick(&mut self.rng, texts::medical_questions(topic))
            }
            .copied()
            .unwrap_or("Please send the prescribing information for {brand}");
            let text = template.replace("{brand}", PRODUCTS[product].brand);
            let day = self.random_day(true);
            let at = self.local_between(day, 8.0, 11.0);
            let via =
                *pick(&mut self.rng, &["phone", "web form", "email", "rep"]).unwrap_or(&"phone");
            if let Some(e) = self.emit(
                at,
                Source::Crm,
                Channel::MedicalInformation,
                EventType::MedicalInformationRequested,
            ) {
                put(e, "text", text);
                put(e, "product", PRODUCTS[product].key);
                put(e, "topic", topic.as_str());
                put(e, "received_via", via);
                self.touch(at, 0.4);
            }
        }
    }

    /// Weekly packs dispensed on the HCP's prescriptions, reported the Monday after each ISO
    /// week: a baseline with a trend and noise, lifted by recent touches.
    fn prescriptions(&mut self) {
        let Some(rx) = self.p.rx.clone() else {
            return;
        };
        let product = &PRODUCTS[rx.product];
        let persona = self.p;
        let first_monday = {
            let d = self.first_day();
            d - crate::calendar::weekday(d)
        };
        let span = (self.ctx.end - self.ctx.start) as f64;
        let mut week = first_monday;
        while week * DAY_MS < self.ctx.end {
            let week_end = (week + 7) * DAY_MS;
            let progress = ((week_end - self.ctx.start) as f64 / span).clamp(0.0, 1.0);
            let effect: f64 = self
                .touches
                .iter()
                .filter(|t| t.at < week_end)
                .map(|t| t.weight * (-((week_end - t.at) as f64) / (21.0 * DAY_MS as f64)).exp())
                .sum();
            let rate = rx.weekly_packs
                * (1.0 + rx.growth * progress).max(0.1)
                * (1.0 + rx.responsiveness * effect)
                * lognormal(&mut self.rng, 1.0, 0.15);
            let packs = poisson(&mut self.rng, rate);
            let reported = week_end + 3 * HOUR_MS + between(&mut self.rng, 0, 120) * MINUTE_MS;
            if packs > 0
                && let Some(e) =
                    self.emit(reported, Source::Crm, Channel::Crm, EventType::Prescription)
            {
                let value = (f64::from(packs) * product.pack_price * persona.price_factor * 100.0)
                    .round()
                    / 100.0;
                put(e, "units", packs);
                put(e, "value", value);
                put(e, "currency", persona.currency);
                put(e, "period", iso_week_label(week));
                put(e, "product", product.key);
            }
            week += 7;
        }
    }
}
