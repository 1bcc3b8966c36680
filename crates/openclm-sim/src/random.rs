//! The random draws the simulator needs, from one ChaCha stream per HCP and purpose.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What a random stream is used for. Separate streams keep an HCP's master data stable when the
/// history generator changes, and every HCP independent of how many others the world holds.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stream {
    MasterData = 1,
    History = 2,
}

/// The generator for one HCP and purpose: the seed, purpose and index form the ChaCha key, so
/// distinct triples never share a stream.
pub(crate) fn rng_for(seed: u64, stream: Stream, index: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&(stream as u64).to_le_bytes());
    key[16..24].copy_from_slice(&index.to_le_bytes());
    ChaCha8Rng::from_seed(key)
}

/// A uniform draw in `[0, 1)`.
pub(crate) fn unit(rng: &mut impl Rng) -> f64 {
    rng.random::<f64>()
}

/// True with probability `p`; `p` outside `[0, 1]` is clamped rather than rejected.
pub(crate) fn chance(rng: &mut impl Rng, p: f64) -> bool {
    unit(rng) < p
}

/// A standard normal draw (Box–Muller).
pub(crate) fn normal(rng: &mut impl Rng) -> f64 {
    let u1 = 1.0 - unit(rng);
    let u2 = unit(rng);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A log-normal draw with the given median: the long right tail real engagement data shows.
pub(crate) fn lognormal(rng: &mut impl Rng, median: f64, sigma: f64) -> f64 {
    median * (sigma * normal(rng)).exp()
}

/// A Poisson count: exact for the small rates the simulator uses, normal beyond.
pub(crate) fn poisson(rng: &mut impl Rng, lambda: f64) -> u32 {
    if lambda <= 0.0 || !lambda.is_finite() {
        return 0;
    }
    if lambda > 30.0 {
        return (lambda + lambda.sqrt() * normal(rng)).round().max(0.0) as u32;
    }
    let limit = (-lambda).exp();
    let mut product = unit(rng);
    let mut count = 0;
    while product > limit {
        product *= unit(rng);
        count += 1;
    }
    count
}

/// A uniform integer in `[low, high)`; `low` when the range is empty.
pub(crate) fn between(rng: &mut impl Rng, low: i64, high: i64) -> i64 {
    if high <= low {
        low
    } else {
        rng.random_range(low..high)
    }
}

/// One element, uniformly; `None` for an empty slice.
pub(crate) fn pick<'a, T>(rng: &mut impl Rng, items: &'a [T]) -> Option<&'a T> {
    if items.is_empty() {
        None
    } else {
        Some(&items[rng.random_range(0..items.len())])
    }
}

/// An index drawn in proportion to its weight; `None` when no weight is positive.
pub(crate) fn weighted(rng: &mut impl Rng, weights: &[f64]) -> Option<usize> {
    let total: f64 = weights.iter().filter(|w| **w > 0.0).sum();
    if total <= 0.0 {
        return None;
    }
    let mut target = unit(rng) * total;
    let mut last = None;
    for (i, w) in weights.iter().enumerate() {
        if *w <= 0.0 {
            continue;
        }
        last = Some(i);
        if target < *w {
            return Some(i);
        }
        target -= w;
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_differ_by_seed_purpose_and_index() {
        let draw = |seed, stream, index| rng_for(seed, stream, index).random::<u64>();
        let base = draw(7, Stream::History, 3);
        assert_eq!(base, draw(7, Stream::History, 3));
        assert_ne!(base, draw(8, Stream::History, 3));
        assert_ne!(base, draw(7, Stream::MasterData, 3));
        assert_ne!(base, draw(7, Stream::History, 4));
    }

    #[test]
    fn poisson_and_weighted_have_the_expected_means() {
        let mut rng = rng_for(1, Stream::History, 0);
        let n = 20_000;
        let mean = (0..n).map(|_| poisson(&mut rng, 3.0) as f64).sum::<f64>() / n as f64;
        assert!((mean - 3.0).abs() < 0.1, "mean {mean}");
        let hits = (0..n)
            .filter(|_| weighted(&mut rng, &[0.0, 1.0, 3.0]) == Some(2))
            .count();
        let share = hits as f64 / n as f64;
        assert!((share - 0.75).abs() < 0.02, "share {share}");
        assert_eq!(weighted(&mut rng, &[0.0, -1.0]), None);
    }
}
