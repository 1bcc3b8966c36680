//! Measurement: what a campaign changed, against a randomized holdout.
//!
//! - [`holdout`]: which HCPs a campaign holds out — a deterministic draw per campaign and HCP,
//!   the same on every node and after every restart.
//! - [`stats`]: lift of rates and means with intervals and p-values (fixed-horizon and always
//!   valid), ROMI with its interval, the sample-ratio-mismatch check.
//! - [`ope`]: off-policy evaluation of a candidate policy from the decision log.

pub mod kpi;
pub mod ope;
pub mod responders;
pub mod stats;

/// The holdout draw of one HCP in one campaign: a number in [0, 1) from a hash of the two ids,
/// uniform across HCPs and independent between campaigns. The hash (XXH3-64, a published,
/// versioned algorithm) and the bytes hashed (`campaign 0xff hcp`) never change, so an HCP's
/// group never changes either.
pub fn holdout_draw(campaign: &str, hcp: &str) -> f64 {
    let mut bytes = Vec::with_capacity(campaign.len() + hcp.len() + 1);
    bytes.extend_from_slice(campaign.as_bytes());
    bytes.push(0xff);
    bytes.extend_from_slice(hcp.as_bytes());
    // The top 53 bits, as a double in [0, 1).
    (xxhash_rust::xxh3::xxh3_64(&bytes) >> 11) as f64 / (1u64 << 53) as f64
}

/// Whether the campaign holds the HCP out, with `share` of all HCPs held out.
pub fn holdout(campaign: &str, hcp: &str, share: f64) -> bool {
    holdout_draw(campaign, hcp) < share
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holdout_is_the_configured_share_within_binomial_tolerance() {
        let n = 100_000;
        for share in [0.05, 0.1, 0.5] {
            let held = (0..n)
                .filter(|i| holdout("launch-2026", &format!("hcp-{i:06}"), share))
                .count() as f64;
            let sd = (n as f64 * share * (1.0 - share)).sqrt();
            assert!(
                (held - n as f64 * share).abs() < 4.0 * sd,
                "share {share}: {held} of {n}"
            );
        }
    }

    #[test]
    fn assignment_is_stable_and_independent_between_campaigns() {
        // Pinned: a change of hash or of the bytes hashed would move HCPs between groups of
        // running campaigns.
        assert!(
            (holdout_draw("launch-2026", "hcp-000001") - 0.588_335_356_624_849_6).abs() < 1e-15
        );
        assert_eq!(
            holdout_draw("a", "hcp-1"),
            holdout_draw("a", "hcp-1"),
            "same ids, same draw"
        );
        // Held out of two campaigns at 10% each: about 1% of HCPs, as independence says.
        let n = 100_000;
        let both = (0..n)
            .filter(|i| {
                let hcp = format!("hcp-{i:06}");
                holdout("spring", &hcp, 0.1) && holdout("autumn", &hcp, 0.1)
            })
            .count() as f64;
        assert!(
            (both - 1000.0).abs() < 4.0 * (1000.0f64 * 0.99).sqrt(),
            "{both}"
        );
    }
}
