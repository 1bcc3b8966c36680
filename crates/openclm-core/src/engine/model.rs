//! What the engine has learned: a hierarchical Beta-Bernoulli model of the chance that an HCP
//! responds to an action, pooled from all HCPs through their peer group to the HCP alone.
//!
//! An action's arm is its channel and the topic of its content. Counts of deliveries and
//! responses are kept at three levels — the arm over everyone, the arm within a peer group
//! (specialty × country), the arm for one HCP — and each level's estimate is the level above
//! taken as a prior of fixed strength, moved by its own evidence. An HCP with no history gets
//! their peer group's rate; one with many responses gets their own. Thompson sampling draws from the
//! HCP-level posterior.

use rand::Rng;
use rand_distr::Distribution;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::Channel;

/// Counts at one node of the hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Counts {
    pub trials: f64,
    pub successes: f64,
}

/// How strongly each level's prior (the level above) weighs, in pseudo-observations.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Strengths {
    /// The prior of every arm over everyone: a rate of `global_rate` from this many trials.
    pub global: f64,
    pub global_rate: f64,
    /// The prior of an arm within a peer group (specialty × country).
    #[serde(alias = "segment")]
    pub peer_group: f64,
    pub hcp: f64,
}

impl Default for Strengths {
    fn default() -> Self {
        Self {
            global: 2.0,
            global_rate: 0.1,
            peer_group: 20.0,
            // The HCP-level prior is informed by the HCP's own topic engagement and channel
            // attention, so it weighs as 30 of their outcomes on the arm: in the simulator's
            // three worlds, 4–5 points more of the oracle's engagement by week 16 than 10.
            hcp: 30.0,
        }
    }
}

/// The context an estimate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ArmContext<'a> {
    pub channel: Channel,
    pub topic: &'a str,
    pub specialty: &'a str,
    pub country: &'a str,
    pub hcp: &'a str,
}

/// The estimate for one arm and HCP, level by level.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Estimate {
    pub global: (f64, Counts),
    /// The arm within the HCP's peer group (specialty × country).
    pub peer_group: (f64, Counts),
    /// The HCP-level posterior: Beta(alpha, beta).
    pub alpha: f64,
    pub beta: f64,
    pub hcp_counts: Counts,
}

impl Estimate {
    pub fn mean(&self) -> f64 {
        self.alpha / (self.alpha + self.beta)
    }

    /// A draw from the posterior.
    pub fn sample(&self, rng: &mut impl Rng) -> f64 {
        match rand_distr::Beta::new(self.alpha, self.beta) {
            Ok(beta) => beta.sample(rng),
            Err(_) => self.mean(),
        }
    }
}

/// The learned model. Each node of the hierarchy is keyed by a 64-bit hash of its level and
/// context (see [`node_key`]), so a lookup allocates nothing and a database can hold the model
/// row by row under the same keys.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Model {
    pub strengths: Strengths,
    pub counts: FxHashMap<u64, Counts>,
    /// Bumped by every update: decisions record the version they were made with.
    pub version: u64,
}

/// A level of the hierarchy. The discriminant is hashed into every stored node key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Global = 0,
    /// HCPs of one specialty in one country.
    PeerGroup = 1,
    Hcp = 2,
}

/// The key of one node: the level and the parts of the context that level uses, hashed with
/// separators so that no two contexts share a key by concatenation. Keys are stored, so the
/// bytes hashed never change: `[level, channel] 0xff topic 0xff` then `specialty 0xff country
/// 0xff` (peer group) or `hcp 0xff` (HCP).
pub fn node_key(level: Level, c: &ArmContext<'_>) -> u64 {
    let mut parts: [&[u8]; 4] = [&[], &[], &[], &[]];
    let head = [level as u8, c.channel.code() as u8];
    parts[0] = &head;
    parts[1] = c.topic.as_bytes();
    let used = match level {
        Level::Global => 2,
        Level::PeerGroup => {
            parts[2] = c.specialty.as_bytes();
            parts[3] = c.country.as_bytes();
            4
        }
        Level::Hcp => {
            parts[2] = c.hcp.as_bytes();
            3
        }
    };
    let len: usize = parts[..used].iter().map(|p| p.len() + 1).sum();
    // One-shot hashing of the joined bytes (the same digest as streaming them), on the stack
    // for the usual lengths.
    let mut stack = [0u8; 320];
    let mut heap = Vec::new();
    let buffer: &mut [u8] = if len <= stack.len() {
        &mut stack[..len]
    } else {
        heap.resize(len, 0);
        &mut heap
    };
    let mut at = 0;
    for part in &parts[..used] {
        buffer[at..at + part.len()].copy_from_slice(part);
        buffer[at + part.len()] = 0xff;
        at += part.len() + 1;
    }
    xxhash_rust::xxh3::xxh3_64(buffer)
}

fn global_key(c: &ArmContext<'_>) -> u64 {
    node_key(Level::Global, c)
}

fn peer_group_key(c: &ArmContext<'_>) -> u64 {
    node_key(Level::PeerGroup, c)
}

fn hcp_key(c: &ArmContext<'_>) -> u64 {
    node_key(Level::Hcp, c)
}

impl Model {
    pub fn new(strengths: Strengths) -> Self {
        Self {
            strengths,
            ..Self::default()
        }
    }

    fn get(&self, key: u64) -> Counts {
        self.counts.get(&key).copied().unwrap_or_default()
    }

    /// The estimate for an arm and HCP, level by level.
    pub fn estimate(&self, c: &ArmContext<'_>) -> Estimate {
        let keys = [global_key(c), peer_group_key(c), hcp_key(c)];
        self.estimate_from(keys.map(|k| self.get(k)))
    }

    /// The estimates of several arms: every key first, then every lookup, so that the lookups
    /// (cache misses in a large model) overlap.
    pub fn estimates(&self, contexts: &[ArmContext<'_>]) -> Vec<Estimate> {
        let keys: Vec<[u64; 3]> = contexts
            .iter()
            .map(|c| [global_key(c), peer_group_key(c), hcp_key(c)])
            .collect();
        let counts: Vec<[Counts; 3]> = keys.iter().map(|k| k.map(|k| self.get(k))).collect();
        counts.into_iter().map(|c| self.estimate_from(c)).collect()
    }

    fn estimate_from(&self, [g, peers, own]: [Counts; 3]) -> Estimate {
        let s = self.strengths;
        let shrink = |prior: f64, strength: f64, counts: Counts| {
            (prior * strength + counts.successes) / (strength + counts.trials)
        };
        let global = shrink(s.global_rate, s.global, g);
        let peer_group = shrink(global, s.peer_group, peers);
        Estimate {
            global: (global, g),
            peer_group: (peer_group, peers),
            alpha: peer_group * s.hcp + own.successes,
            beta: (1.0 - peer_group) * s.hcp + (own.trials - own.successes),
            hcp_counts: own,
        }
    }

    /// Records the outcome of one delivered action at every level.
    pub fn record(&mut self, c: &ArmContext<'_>, responded: bool) {
        for key in [global_key(c), peer_group_key(c), hcp_key(c)] {
            let counts = self.counts.entry(key).or_default();
            counts.trials += 1.0;
            if responded {
                counts.successes += 1.0;
            }
        }
        self.version += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// Keys are stored: they are what streaming the parts with separators always gave.
    #[test]
    fn node_keys_never_change() {
        let streamed = |level: Level, c: &ArmContext<'_>| {
            let mut h = xxhash_rust::xxh3::Xxh3::new();
            let mut part = |bytes: &[u8]| {
                h.update(bytes);
                h.update(&[0xff]);
            };
            part(&[level as u8, c.channel.code() as u8]);
            part(c.topic.as_bytes());
            match level {
                Level::Global => {}
                Level::PeerGroup => {
                    part(c.specialty.as_bytes());
                    part(c.country.as_bytes());
                }
                Level::Hcp => part(c.hcp.as_bytes()),
            }
            h.digest()
        };
        let long = "x".repeat(400);
        for (hcp, topic) in [
            ("hcp-1", "efficacy"),
            (long.as_str(), "t"),
            ("h", long.as_str()),
        ] {
            let c = ArmContext {
                channel: Channel::Email,
                topic,
                specialty: "cardiology",
                country: "DE",
                hcp,
            };
            for level in [Level::Global, Level::PeerGroup, Level::Hcp] {
                assert_eq!(node_key(level, &c), streamed(level, &c));
            }
        }
    }

    /// The peer-group level was once called the segment level; the keys it wrote then are stored
    /// and must be found again, byte for byte.
    #[test]
    fn node_keys_are_the_stored_ones() {
        let cases = [
            (
                (Channel::Email, "efficacy", "cardiology", "DE", "hcp-1"),
                [0xa171330897fb0127, 0x2e6e1a15b2deb881, 0x1466cb14c9079fcc],
            ),
            (
                (Channel::FaceToFace, "safety", "oncology", "FR", "h2"),
                [0x113bc5d70e272320, 0x82ff4d43c8ee9ce0, 0x47654f0ba064d277],
            ),
            (
                (Channel::Email, "", "", "", ""),
                [0xf643ec19276bc80d, 0xae6a1fc0ad71fc92, 0x311fbba0ba725fea],
            ),
        ];
        for ((channel, topic, specialty, country, hcp), expected) in cases {
            let c = ArmContext {
                channel,
                topic,
                specialty,
                country,
                hcp,
            };
            let keys =
                [Level::Global, Level::PeerGroup, Level::Hcp].map(|level| node_key(level, &c));
            assert_eq!(keys, expected, "{c:?}");
        }
    }

    #[test]
    fn strengths_read_the_peer_group_under_either_name() {
        for name in ["peer_group", "segment"] {
            let json =
                format!(r#"{{"global": 2.0, "global_rate": 0.1, "{name}": 12.5, "hcp": 30.0}}"#);
            let strengths: Strengths = serde_json::from_str(&json).unwrap();
            assert_eq!(strengths.peer_group, 12.5, "{name}");
        }
    }

    fn ctx<'a>(hcp: &'a str, country: &'a str) -> ArmContext<'a> {
        ArmContext {
            channel: Channel::Email,
            topic: "efficacy",
            specialty: "cardiology",
            country,
            hcp,
        }
    }

    #[test]
    fn a_new_hcp_borrows_their_peer_groups_rate_and_a_known_one_their_own() {
        let mut m = Model::default();
        // German cardiologists respond to 40% of efficacy emails; French ones to 5%.
        for i in 0..500 {
            let hcp = format!("de-{}", i % 50);
            m.record(&ctx(&hcp, "DE"), i % 5 < 2);
            let hcp = format!("fr-{}", i % 50);
            m.record(&ctx(&hcp, "FR"), i % 20 == 0);
        }
        let newcomer_de = m.estimate(&ctx("de-new", "DE")).mean();
        let newcomer_fr = m.estimate(&ctx("fr-new", "FR")).mean();
        assert!((newcomer_de - 0.4).abs() < 0.03, "{newcomer_de}");
        assert!((newcomer_fr - 0.05).abs() < 0.03, "{newcomer_fr}");
        // A French cardiologist who answered 30 of 30 is no longer average: halfway from the
        // peer group's 5% to their own 100% (the HCP-level prior weighs as 30 outcomes).
        for _ in 0..30 {
            m.record(&ctx("fr-keen", "FR"), true);
        }
        let keen = m.estimate(&ctx("fr-keen", "FR")).mean();
        assert!((0.5..0.6).contains(&keen), "{keen}");
        for _ in 0..60 {
            m.record(&ctx("fr-keen", "FR"), true);
        }
        let keener = m.estimate(&ctx("fr-keen", "FR")).mean();
        assert!(keener > 0.75, "{keener}");
        assert_eq!(m.version, 1090);
    }

    #[test]
    fn beta_draws_have_the_posterior_mean() {
        let e = Estimate {
            global: (0.0, Counts::default()),
            peer_group: (0.0, Counts::default()),
            alpha: 3.0,
            beta: 7.0,
            hcp_counts: Counts::default(),
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let n = 20_000;
        let mean = (0..n).map(|_| e.sample(&mut rng)).sum::<f64>() / n as f64;
        assert!((mean - 0.3).abs() < 0.01, "{mean}");
        let small = Estimate {
            alpha: 0.3,
            beta: 0.4,
            ..e
        };
        let mean = (0..n).map(|_| small.sample(&mut rng)).sum::<f64>() / n as f64;
        assert!((mean - 0.3 / 0.7).abs() < 0.02, "{mean}");
    }
}
