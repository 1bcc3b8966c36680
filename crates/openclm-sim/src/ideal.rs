//! The ideal learner: what the best learner could reach in a world, as a yardstick for the
//! closed loop that is fairer than the oracle.
//!
//! The oracle knows every HCP's hidden reach and interests, which no learner can. The ideal
//! learner knows only the world's laws — how reach, the favourite topic and noise are drawn, the
//! funnel of attention then engagement, the off-day factor and fatigue — and infers each HCP's
//! hidden values from what it observes by Bayes' rule: a posterior over the reach of every
//! channel (on a grid, with the world's mass at "never" for email and remote detailing) and over
//! the favourite topic. Like the engine, it explores by Thompson sampling from its posteriors and
//! picks its weekday from the HCP's state. The closed loop's gap to it is what the engine's
//! general model costs; its own gap to the oracle is what learning at all costs.
//!
//! The posteriors are updated one factor at a time (reach with the topic's expected engagement,
//! the topic with the reach's expected value) and the channels are taken as independent, so the
//! inference is very nearly, not exactly, Bayes-optimal.

use openclm_core::engine::Economics;
use rand::Rng;

use crate::simulate::{CHANNELS, TOPICS, WorldParams};

/// Points of the reach grid: 0 (never attends) and `REACH_POINTS` midpoints of [0.2, 1], the
/// range reach is drawn from.
const REACH_POINTS: usize = 20;
const GRID: usize = REACH_POINTS + 1;

fn reach_at(i: usize) -> f64 {
    if i == 0 {
        0.0
    } else {
        0.2 + 0.8 * ((i - 1) as f64 + 0.5) / REACH_POINTS as f64
    }
}

/// What the ideal learner believes about one HCP.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Belief {
    /// Per channel of [`CHANNELS`], the probability of each reach of the grid.
    reach: [[f64; GRID]; 3],
    /// The probability of each topic of [`TOPICS`] being the favourite.
    favourite: [f64; 6],
}

/// One touch as the learner saw it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Seen {
    pub channel: usize,
    pub topic: usize,
    /// What the learner expects of the touch's moment: the off-day factor, fatigue.
    pub factor: f64,
    /// A person's reaction of any kind (an open, a glance), and an engaged one.
    pub attended: bool,
    pub responded: bool,
}

impl Belief {
    /// The world's prior for an HCP whose specialty's usual favourite topic is `typical`.
    pub fn new(world: &WorldParams, typical: usize) -> Self {
        let never = [
            world.reps_only + (1.0 - world.reps_only) * world.email_unreachable,
            0.0,
            world.reps_only,
        ];
        let mut reach = [[0.0; GRID]; 3];
        for (row, never) in reach.iter_mut().zip(never) {
            row[0] = never;
            for p in &mut row[1..] {
                *p = (1.0 - never) / REACH_POINTS as f64;
            }
        }
        let n = TOPICS.len() as f64;
        let mut favourite = [(1.0 - world.specialty_typical) / n; 6];
        favourite[typical] += world.specialty_typical;
        Self { reach, favourite }
    }

    /// A page the HCP read on their own: the favourite topic half the time, else any topic.
    pub fn observe_visit(&mut self, topic: usize) {
        let n = TOPICS.len() as f64;
        for (k, p) in self.favourite.iter_mut().enumerate() {
            *p *= if k == topic {
                (n + 1.0) / (2.0 * n)
            } else {
                1.0 / (2.0 * n)
            };
        }
        normalize(&mut self.favourite);
    }

    /// The engagement chance of `topic` once attended, were `favourite` the favourite.
    fn engage(world: &WorldParams, topic: usize, favourite: usize) -> f64 {
        let interest = if topic == favourite {
            1.0
        } else {
            (world.other_topic_interest.0 + world.other_topic_interest.1) / 2.0
        };
        (world.best_response * interest).clamp(0.0, 0.95)
    }

    /// The chance of what was seen, given the reach and the engagement chance.
    fn likelihood(world: &WorldParams, seen: &Seen, reach: f64, engage: f64) -> f64 {
        let attention = (reach * seen.factor).clamp(0.0, 1.0);
        let (noise, rate) = (world.noise, world.noise_rate);
        match (seen.attended, seen.responded) {
            (_, true) => noise * rate + (1.0 - noise) * attention * engage,
            (true, false) => {
                noise * (1.0 - rate) * attention + (1.0 - noise) * attention * (1.0 - engage)
            }
            (false, false) => (1.0 - attention) * (noise * (1.0 - rate) + (1.0 - noise)),
        }
    }

    pub fn observe_touch(&mut self, world: &WorldParams, seen: &Seen) {
        let engage: f64 = (0..TOPICS.len())
            .map(|f| self.favourite[f] * Self::engage(world, seen.topic, f))
            .sum();
        let row = &mut self.reach[seen.channel];
        for (i, p) in row.iter_mut().enumerate() {
            *p *= Self::likelihood(world, seen, reach_at(i), engage);
        }
        normalize(row);
        let reach = self.mean_reach(seen.channel);
        for f in 0..TOPICS.len() {
            self.favourite[f] *=
                Self::likelihood(world, seen, reach, Self::engage(world, seen.topic, f));
        }
        normalize(&mut self.favourite);
    }

    fn mean_reach(&self, channel: usize) -> f64 {
        self.reach[channel]
            .iter()
            .enumerate()
            .map(|(i, p)| p * reach_at(i))
            .sum()
    }

    /// Thompson sampling: a reach per channel and a favourite drawn from the posteriors, then
    /// the allowed channel × topic with the best chance (or net value, holding back when none is
    /// worth its cost). `factor` is what the learner expects of the moment.
    pub fn choose(
        &self,
        world: &WorldParams,
        factor: f64,
        economics: Option<&Economics>,
        allowed: impl Fn(usize, usize) -> bool,
        rng: &mut impl Rng,
    ) -> Option<(usize, usize)> {
        let reach: Vec<f64> = self
            .reach
            .iter()
            .map(|row| reach_at(draw(row, rng)))
            .collect();
        let favourite = draw(&self.favourite, rng);
        let mut best: Option<(f64, (usize, usize))> = None;
        for (channel, &medium) in CHANNELS.iter().enumerate() {
            for topic in 0..TOPICS.len() {
                let chance = reach[channel] * factor * Self::engage(world, topic, favourite);
                let value = economics.map_or(chance, |e| e.net_value(medium, chance));
                if (economics.is_some() && value <= 0.0)
                    || best.is_some_and(|(b, _)| value <= b)
                    || !allowed(channel, topic)
                {
                    continue;
                }
                best = Some((value, (channel, topic)));
            }
        }
        best.map(|(_, arm)| arm)
    }

    #[cfg(test)]
    fn never(&self, channel: usize) -> f64 {
        self.reach[channel][0]
    }
}

fn normalize(p: &mut [f64]) {
    let total: f64 = p.iter().sum();
    if total > 0.0 {
        p.iter_mut().for_each(|x| *x /= total);
    }
}

/// An index drawn with the given probabilities.
fn draw(p: &[f64], rng: &mut impl Rng) -> usize {
    let mut u = rng.random::<f64>() * p.iter().sum::<f64>();
    for (i, &x) in p.iter().enumerate() {
        if u < x {
            return i;
        }
        u -= x;
    }
    p.len() - 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn quiet() -> WorldParams {
        WorldParams {
            noise: 0.0,
            ..WorldParams::default()
        }
    }

    #[test]
    fn each_page_read_multiplies_the_odds_of_its_topic_by_seven() {
        let world = WorldParams::default();
        let mut belief = Belief::new(&world, 0);
        // Prior: 0.6 + 0.4/6 on the specialty's usual topic, 0.4/6 on each other.
        assert!((belief.favourite[0] - (0.6 + 0.4 / 6.0)).abs() < 1e-12);
        let before = belief.favourite[3] / belief.favourite[0];
        belief.observe_visit(3);
        belief.observe_visit(3);
        let after = belief.favourite[3] / belief.favourite[0];
        assert!((after / before - 49.0).abs() < 1e-9, "{after} / {before}");
    }

    #[test]
    fn three_unread_emails_make_never_reading_email_likely() {
        let world = quiet();
        let mut belief = Belief::new(&world, 0);
        // Prior of never: reps only (0.1) or unreachable by email (0.9 × 0.2).
        let prior = 0.1 + 0.9 * 0.2;
        assert!((belief.never(0) - prior).abs() < 1e-12);
        for _ in 0..3 {
            belief.observe_touch(
                &world,
                &Seen {
                    channel: 0,
                    topic: 0,
                    factor: 1.0,
                    attended: false,
                    responded: false,
                },
            );
        }
        // Hand-computed: a reachable HCP leaves three emails unread with the mean of (1 − r)³
        // over the grid of r in [0.2, 1]; a never-reachable one always does.
        let unread: f64 =
            (1..GRID).map(|i| (1.0 - reach_at(i)).powi(3)).sum::<f64>() / REACH_POINTS as f64;
        let expected = prior / (prior + (1.0 - prior) * unread);
        assert!((belief.never(0) - expected).abs() < 1e-9);
        assert!(expected > 0.7, "{expected}");
        // Visits were not touched.
        assert_eq!(belief.never(1), 0.0);
    }

    #[test]
    fn it_picks_what_it_has_learned_and_only_what_is_allowed() {
        let world = quiet();
        let mut belief = Belief::new(&world, 0);
        for _ in 0..30 {
            belief.observe_visit(4);
        }
        for attended in [true; 8] {
            belief.observe_touch(
                &world,
                &Seen {
                    channel: 2,
                    topic: 4,
                    factor: 1.0,
                    attended,
                    responded: true,
                },
            );
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let picks: Vec<_> = (0..50)
            .filter_map(|_| belief.choose(&world, 1.0, None, |c, _| c != 0, &mut rng))
            .collect();
        assert_eq!(picks.len(), 50);
        assert!(picks.iter().all(|&(c, _)| c != 0));
        let favourite = picks.iter().filter(|&&(_, t)| t == 4).count();
        assert!(favourite >= 48, "{favourite} of 50 on the favourite topic");
        assert!(
            belief
                .choose(&world, 1.0, None, |_, _| false, &mut rng)
                .is_none()
        );
    }
}
