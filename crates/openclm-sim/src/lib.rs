//! A synthetic HCP world, seeded and reproducible: master data, a content library and months of multichannel interaction history.
//!
//! Pure like the core: no I/O, no clock (the caller passes `now`), and every random draw comes
//! from a ChaCha stream keyed by the seed, so one configuration always yields the same world.
//! Each HCP has hidden traits (channel affinity, topic interest, prescribing response) that drive
//! their history and that OpenCLM has to learn from the events alone.
//!
//! ```
//! use openclm_core::Timestamp;
//! use openclm_sim::{World, WorldConfig};
//!
//! let now = Timestamp::parse("now", "2026-04-01T00:00:00Z").unwrap();
//! let world = World::generate(WorldConfig { hcps: 20, months: 2, seed: 1, now });
//! assert_eq!(world.hcps[0].id.as_str(), "hcp-000001");
//! assert!(world.history().all(|e| e.occurred_at < now));
//! ```

#![forbid(unsafe_code)]

mod calendar;
mod catalog;
mod history;
mod ideal;
mod people;
mod random;
pub mod simulate;
mod texts;

use openclm_core::content::Content;
use openclm_core::suggest::Rep;
use openclm_core::{Event, FieldError, Hcp, Timestamp};

use calendar::DAY_MS;
use catalog::Library;
use history::Context;
use people::Persona;

/// The brands the world promotes, written as their makers write them ("Cardiozan"): what
/// adverse-event screening has to recognise in the world's free texts.
pub fn brands() -> Vec<&'static str> {
    catalog::PRODUCTS.iter().map(|p| p.brand).collect()
}

/// What world to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorldConfig {
    pub hcps: usize,
    /// Length of the history; a month counts as 30 days.
    pub months: u32,
    pub seed: u64,
    /// The end of the history (exclusive) and the reference for content dates.
    pub now: Timestamp,
}

impl WorldConfig {
    /// The world `openclm demo` shows: 5,000 HCPs and six months of history.
    pub fn demo(now: Timestamp) -> Self {
        Self {
            hcps: 5_000,
            months: 6,
            seed: 7,
            now,
        }
    }
}

/// A generated world. The master data and library are public; the personas behind the history
/// stay private, as they would be in the field.
#[derive(Debug, Clone)]
pub struct World {
    pub config: WorldConfig,
    pub hcps: Vec<Hcp>,
    pub content: Vec<Content>,
    personas: Vec<Persona>,
    /// The history's own copy, so that edits to the public fields cannot unsettle it.
    library: Library,
    seed: u64,
    start: i64,
    end: i64,
}

/// Latest `now` accepted: content expiry dates lie up to a year after it.
const LATEST_NOW_MS: i64 = 253_370_764_800_000; // 9999-01-01

/// HCPs counted to estimate the size of a large world's history.
const ESTIMATE_SAMPLE: usize = 400;

impl World {
    /// Generates the world.
    ///
    /// # Panics
    ///
    /// When `try_generate` fails: `now` closer to 1970 than `months`, or beyond the year 9998.
    pub fn generate(config: WorldConfig) -> World {
        match Self::try_generate(config) {
            Ok(world) => world,
            Err(e) => panic!("cannot generate the world: {e}"),
        }
    }

    /// Generates the world, refusing a `now` whose history or content dates would fall outside
    /// the range a timestamp can hold.
    pub fn try_generate(config: WorldConfig) -> Result<World, FieldError> {
        let end = config.now.millis();
        let start = end - i64::from(config.months) * 30 * DAY_MS;
        // Content was approved up to 400 days before now.
        if start < 0 || end - 400 * DAY_MS < 0 {
            return Err(FieldError::new(
                "now",
                format!(
                    "must leave {} months of history and the content library after 1970",
                    config.months
                ),
            ));
        }
        if end > LATEST_NOW_MS {
            return Err(FieldError::new("now", "must be before the year 9999"));
        }
        let library = Library::build(config.now)?;
        let mut hcps = Vec::with_capacity(config.hcps);
        let mut personas = Vec::with_capacity(config.hcps);
        for index in 0..config.hcps {
            let (hcp, persona) = people::generate(config.seed, index)?;
            hcps.push(hcp);
            personas.push(persona);
        }
        Ok(World {
            content: library.content.clone(),
            seed: config.seed,
            config,
            hcps,
            personas,
            library,
            start,
            end,
        })
    }

    /// The field force: one rep per territory (the rep every HCP of the territory is called on
    /// by), each with 30 visits a week — about six calls a day, a common field-force norm.
    pub fn reps(&self) -> Vec<Rep> {
        let territories: std::collections::BTreeSet<&str> = self
            .hcps
            .iter()
            .filter_map(|h| h.territory.as_deref())
            .collect();
        territories
            .into_iter()
            .map(|t| Rep {
                id: format!("rep-{t}"),
                name: format!("Rep {t}"),
                territories: vec![t.to_owned()],
                visits_per_week: 30,
            })
            .collect()
    }

    /// The hidden chance that the HCP at `index` responds to content on `topic` sent on
    /// `channel`: their engagement × channel affinity × interest in the topic. What a demo's
    /// simulated outcomes are drawn from; never shown to the engine.
    pub fn response_chance(
        &self,
        index: usize,
        channel: openclm_core::Channel,
        topic: &str,
    ) -> f64 {
        use openclm_core::Channel;
        let Some(p) = self.personas.get(index) else {
            return 0.0;
        };
        let affinity = match channel {
            Channel::Email => p.affinity.email,
            Channel::FaceToFace => p.affinity.face_to_face,
            Channel::RemoteDetail => p.affinity.remote,
            Channel::Web | Channel::Banner | Channel::MobileApp => p.affinity.web,
            Channel::Webinar => p.affinity.webinar,
            Channel::Survey => p.affinity.survey,
            _ => 0.2,
        };
        let interest = catalog::Topic::ALL
            .iter()
            .find(|t| t.as_str() == topic)
            .map_or(0.3, |t| p.topics[t.index()]);
        (p.engagement * affinity * interest).clamp(0.0, 0.9)
    }

    /// The first instant the history may cover: `now` minus `months` × 30 days.
    pub fn history_start(&self) -> Timestamp {
        Timestamp::from_millis(self.start)
    }

    /// Every event of the history, deterministically from the seed, produced lazily HCP by HCP:
    /// only one HCP's events are held at a time. Each HCP's events come in time order; across
    /// HCPs there is no global order. All fall within `[history_start, now)`.
    pub fn history(&self) -> impl Iterator<Item = Event> + '_ {
        (0..self.personas.len()).flat_map(move |index| {
            let ctx = self.context(index);
            history::finish(&ctx, history::drafts(&ctx))
        })
    }

    /// About how many events `history` yields (exact for small worlds, sampled for large ones).
    pub fn estimated_events(&self) -> u64 {
        let n = self.personas.len();
        let count = |index: usize| history::drafts(&self.context(index)).len() as u64;
        if n <= ESTIMATE_SAMPLE {
            return (0..n).map(count).sum();
        }
        let sampled: u64 = (0..ESTIMATE_SAMPLE)
            .map(|k| count(k * n / ESTIMATE_SAMPLE))
            .sum();
        sampled * n as u64 / ESTIMATE_SAMPLE as u64
    }

    fn context(&self, index: usize) -> Context<'_> {
        Context {
            seed: self.seed,
            index,
            persona: &self.personas[index],
            library: &self.library,
            start: self.start,
            end: self.end,
        }
    }
}
