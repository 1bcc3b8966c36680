//! Lift of a treated group over its holdout, for rates and for means, with the intervals and
//! p-values a marketer reads: absolute and relative, fixed-horizon and always valid.
//!
//! - Rates: the difference of two proportions with Newcombe's hybrid score interval (his method
//!   10: Wilson intervals of each group combined), which keeps its coverage for small groups and
//!   zero counts where the Wald interval collapses; the p-value of the pooled two-proportion
//!   z-test (the uncorrected χ² test).
//! - Means: Welch's t-test and interval (unequal variances, Welch–Satterthwaite degrees of
//!   freedom).
//! - Relative lift (`treated / control − 1`) with the delta method's standard error, which gives
//!   it its own interval and p-value (a relative lift is a ratio, and its evidence is not the
//!   absolute lift's); absent when the control's rate or mean is 0.
//! - Always valid, for the absolute and the relative lift alike: the mixture sequential
//!   probability ratio test (a normal mixture over the effect), whose p-value and confidence
//!   sequence stay valid however often the figures are looked at — for dashboards watched daily,
//!   where the fixed-horizon p-value read every day finds "significant" lifts that are not there.
//!   The mixture is GrowthBook's (its asymptotic confidence sequence, Waudby-Smith et al. 2023,
//!   tuned for [`SEQUENTIAL_TUNING`] units), so the figures read the same in both tools.

use serde::Serialize;
use statrs::distribution::{ChiSquared, ContinuousCDF, Normal, StudentsT};

use crate::FieldError;

/// A two-sided interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

impl Interval {
    pub fn contains(&self, x: f64) -> bool {
        self.low <= x && x <= self.high
    }
}

/// Responders out of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proportion {
    pub successes: u64,
    pub trials: u64,
}

/// A group's values summarized by their count, sum and sum of squares — what an incremental
/// aggregate keeps.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Moments {
    pub n: u64,
    pub sum: f64,
    pub sum_squares: f64,
}

impl Moments {
    pub fn of(values: &[f64]) -> Self {
        values.iter().fold(Self::default(), |m, &v| m.with(v))
    }

    pub fn with(self, value: f64) -> Self {
        Self {
            n: self.n + 1,
            sum: self.sum + value,
            sum_squares: self.sum_squares + value * value,
        }
    }

    pub fn mean(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.sum / self.n as f64
        }
    }

    /// The sample variance (n − 1 in the denominator); 0 below two values.
    pub fn variance(&self) -> f64 {
        if self.n < 2 {
            return 0.0;
        }
        let n = self.n as f64;
        ((self.sum_squares - self.sum * self.sum / n) / (n - 1.0)).max(0.0)
    }
}

/// The mixture sequential test's result: valid at every look.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sequential {
    pub p_value: f64,
    pub interval: Interval,
}

/// Treated against control.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Lift {
    /// The treated group's and the control's rate (or mean).
    pub treated: f64,
    pub control: f64,
    pub absolute: f64,
    pub absolute_interval: Interval,
    /// `treated / control − 1`, when the control's is above 0.
    pub relative: Option<f64>,
    pub relative_interval: Option<Interval>,
    /// Two-sided, fixed horizon: valid when read once, at the planned end. Of the absolute lift.
    pub p_value: f64,
    /// Valid however often it is read. Of the absolute lift.
    pub sequential: Sequential,
    /// The relative lift's own two-sided, fixed-horizon p-value (delta-method standard error).
    pub relative_p_value: Option<f64>,
    /// The relative lift's always-valid p-value and confidence sequence.
    pub relative_sequential: Option<Sequential>,
    pub level: f64,
    pub method: &'static str,
}

fn check_level(level: f64) -> Result<f64, FieldError> {
    if level.is_finite() && level > 0.0 && level < 1.0 {
        Ok(level)
    } else {
        Err(FieldError::new(
            "level",
            "must be between 0 and 1, e.g. 0.95",
        ))
    }
}

fn normal() -> Normal {
    Normal::standard()
}

/// The two-sided critical value of the standard normal at `level`.
pub(crate) fn z_for(level: f64) -> f64 {
    normal().inverse_cdf(0.5 + level / 2.0)
}

/// Wilson's score interval of one proportion.
fn wilson(p: Proportion, z: f64) -> Interval {
    let n = p.trials as f64;
    let rate = p.successes as f64 / n;
    let z2 = z * z;
    let centre = (rate + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = z * (rate * (1.0 - rate) / n + z2 / (4.0 * n * n)).sqrt() / (1.0 + z2 / n);
    Interval {
        low: (centre - half).max(0.0),
        high: (centre + half).min(1.0),
    }
}

fn check_group(p: Proportion, field: &str) -> Result<(), FieldError> {
    if p.trials == 0 {
        return Err(FieldError::new(
            format!("{field}.trials"),
            format!("the {field} group is empty; a lift needs HCPs in both groups"),
        ));
    }
    if p.successes > p.trials {
        return Err(FieldError::new(
            format!("{field}.successes"),
            "cannot exceed the trials",
        ));
    }
    Ok(())
}

/// The relative lift with its own evidence.
struct Relative {
    estimate: Option<f64>,
    interval: Option<Interval>,
    p_value: Option<f64>,
    sequential: Option<Sequential>,
}

/// The reference distribution of a lift's standardized estimate: the normal for rates, Welch's
/// t for means (as the absolute lift uses).
enum Reference {
    Normal,
    Welch(StudentsT),
}

impl Reference {
    fn critical(&self, level: f64) -> f64 {
        match self {
            Self::Normal => z_for(level),
            Self::Welch(t) => t.inverse_cdf(0.5 + level / 2.0),
        }
    }

    fn two_sided(&self, statistic: f64) -> f64 {
        match self {
            Self::Normal => 2.0 * normal().sf(statistic.abs()),
            Self::Welch(t) => 2.0 * t.sf(statistic.abs()),
        }
    }
}

/// The relative lift, its delta-method standard error `√(v_t / c² + t² v_c / c⁴)` (`v_t`, `v_c`
/// the variances of the two groups' rates or means), and from it the interval, the p-value of
/// "no relative lift" and the always-valid pair.
fn relative(
    treated: f64,
    control: f64,
    (var_t, var_c): (f64, f64),
    units: f64,
    reference: &Reference,
    level: f64,
) -> Relative {
    if control <= 0.0 {
        return Relative {
            estimate: None,
            interval: None,
            p_value: None,
            sequential: None,
        };
    }
    let estimate = treated / control - 1.0;
    let variance = var_t / (control * control) + treated * treated * var_c / control.powi(4);
    let se = variance.sqrt();
    let (interval, p_value) = if se > 0.0 {
        let half = reference.critical(level) * se;
        (
            Interval {
                low: estimate - half,
                high: estimate + half,
            },
            reference.two_sided(estimate / se),
        )
    } else {
        (
            Interval {
                low: estimate,
                high: estimate,
            },
            if estimate == 0.0 { 1.0 } else { 0.0 },
        )
    };
    Relative {
        estimate: Some(estimate),
        interval: Some(interval),
        p_value: Some(p_value),
        sequential: Some(always_valid(
            estimate,
            variance,
            mixture_variance(variance, units, level),
            level,
        )),
    }
}

/// The mixture sequential probability ratio test of "no difference", for an estimate with the
/// given variance, under a normal mixture of effects with variance `tau2`: the always-valid
/// p-value `min(1, 1/Λ)` with `Λ = √(V/(V+τ²)) · exp(τ²θ² / (2V(V+τ²)))`, and the confidence
/// sequence `θ ± √(V(V+τ²)/τ² · (ln((V+τ²)/V) − 2 ln α))`.
pub fn always_valid(estimate: f64, variance: f64, tau2: f64, level: f64) -> Sequential {
    let alpha = 1.0 - level;
    if !(variance > 0.0 && tau2 > 0.0) {
        let exact = estimate.is_finite();
        return Sequential {
            p_value: if exact && estimate != 0.0 { 0.0 } else { 1.0 },
            interval: Interval {
                low: estimate,
                high: estimate,
            },
        };
    }
    let v = variance;
    let log_lambda =
        0.5 * (v / (v + tau2)).ln() + tau2 * estimate * estimate / (2.0 * v * (v + tau2));
    let half = (v * (v + tau2) / tau2 * (((v + tau2) / v).ln() - 2.0 * alpha.ln())).sqrt();
    Sequential {
        p_value: (-log_lambda).exp().min(1.0),
        interval: Interval {
            low: estimate - half,
            high: estimate + half,
        },
    }
}

/// The number of units (HCPs of both groups together) at which the confidence sequence is
/// narrowest: GrowthBook's default `sequential_tuning_parameter`.
pub const SEQUENTIAL_TUNING: f64 = 5000.0;

/// The mixture's variance for an estimate of the given variance over `units` units: GrowthBook's
/// `ρ²·V·N` with `ρ² = (−2 ln α + ln(1 − 2 ln α)) / SEQUENTIAL_TUNING` (Waudby-Smith et al. 2023,
/// eq. 161), so that the confidence sequence is tightest near that many units.
fn mixture_variance(variance: f64, units: f64, level: f64) -> f64 {
    let log_alpha = (1.0 - level).ln();
    let rho2 = (-2.0 * log_alpha + (1.0 - 2.0 * log_alpha).ln()) / SEQUENTIAL_TUNING;
    rho2 * variance * units
}

/// Lift of one rate over the control's.
pub fn proportion_lift(
    treated: Proportion,
    control: Proportion,
    level: f64,
) -> Result<Lift, FieldError> {
    let level = check_level(level)?;
    check_group(treated, "treated")?;
    check_group(control, "control")?;
    let z = z_for(level);
    let (nt, nc) = (treated.trials as f64, control.trials as f64);
    let (pt, pc) = (treated.successes as f64 / nt, control.successes as f64 / nc);
    let diff = pt - pc;
    // Newcombe's method 10.
    let (wt, wc) = (wilson(treated, z), wilson(control, z));
    let absolute_interval = Interval {
        low: diff - ((pt - wt.low).powi(2) + (wc.high - pc).powi(2)).sqrt(),
        high: diff + ((wt.high - pt).powi(2) + (pc - wc.low).powi(2)).sqrt(),
    };
    let pooled = (treated.successes + control.successes) as f64 / (nt + nc);
    let se_pooled = (pooled * (1.0 - pooled) * (1.0 / nt + 1.0 / nc)).sqrt();
    let p_value = if se_pooled > 0.0 {
        2.0 * normal().sf((diff / se_pooled).abs())
    } else {
        1.0
    };
    let (var_t, var_c) = (pt * (1.0 - pt) / nt, pc * (1.0 - pc) / nc);
    let units = nt + nc;
    let rel = relative(pt, pc, (var_t, var_c), units, &Reference::Normal, level);
    Ok(Lift {
        treated: pt,
        control: pc,
        absolute: diff,
        absolute_interval,
        relative: rel.estimate,
        relative_interval: rel.interval,
        p_value,
        sequential: always_valid(
            diff,
            var_t + var_c,
            mixture_variance(var_t + var_c, units, level),
            level,
        ),
        relative_p_value: rel.p_value,
        relative_sequential: rel.sequential,
        level,
        method: "difference of proportions: Newcombe hybrid score interval, pooled z-test; \
                 relative lift by the delta method, z-test; always valid by a normal-mixture \
                 SPRT (GrowthBook's confidence sequence)",
    })
}

/// Lift of one mean over the control's (Welch).
pub fn mean_lift(treated: &Moments, control: &Moments, level: f64) -> Result<Lift, FieldError> {
    let level = check_level(level)?;
    for (m, field) in [(treated, "treated"), (control, "control")] {
        if m.n < 2 {
            return Err(FieldError::new(
                format!("{field}.n"),
                format!(
                    "the {field} group has {} value(s); a comparison of means needs at least 2",
                    m.n
                ),
            ));
        }
    }
    let (mt, mc) = (treated.mean(), control.mean());
    let (vt, vc) = (
        treated.variance() / treated.n as f64,
        control.variance() / control.n as f64,
    );
    let diff = mt - mc;
    let se = (vt + vc).sqrt();
    let units = (treated.n + control.n) as f64;
    // Welch–Satterthwaite degrees of freedom; the reference of both the absolute and the
    // relative lift, as in GrowthBook.
    let reference = if se > 0.0 {
        let df = (vt + vc).powi(2)
            / (vt * vt / (treated.n - 1) as f64 + vc * vc / (control.n - 1) as f64);
        Reference::Welch(
            StudentsT::new(0.0, 1.0, df)
                .map_err(|_| FieldError::new("values", "have no usable spread"))?,
        )
    } else {
        Reference::Normal
    };
    let (absolute_interval, p_value) = if se > 0.0 {
        let q = reference.critical(level);
        (
            Interval {
                low: diff - q * se,
                high: diff + q * se,
            },
            reference.two_sided(diff / se),
        )
    } else {
        // Both groups constant: the difference is known exactly.
        (
            Interval {
                low: diff,
                high: diff,
            },
            if diff == 0.0 { 1.0 } else { 0.0 },
        )
    };
    let rel = relative(mt, mc, (vt, vc), units, &reference, level);
    Ok(Lift {
        treated: mt,
        control: mc,
        absolute: diff,
        absolute_interval,
        relative: rel.estimate,
        relative_interval: rel.interval,
        p_value,
        sequential: always_valid(
            diff,
            vt + vc,
            mixture_variance(vt + vc, units, level),
            level,
        ),
        relative_p_value: rel.p_value,
        relative_sequential: rel.sequential,
        level,
        method: "difference of means: Welch's t-test and interval; relative lift by the delta \
                 method, Welch's t; always valid by a normal-mixture SPRT (GrowthBook's \
                 confidence sequence)",
    })
}

/// Return on marketing investment with its interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Romi {
    /// Outcome units (e.g. prescriptions) the treated group produced beyond the control's rate.
    pub incremental_units: f64,
    pub incremental_value: f64,
    pub cost: f64,
    /// (incremental value − cost) / cost.
    pub romi: f64,
    pub interval: Interval,
}

/// ROMI from the lift of the outcome per HCP: `incremental units = lift × treated HCPs`, valued
/// at `value_per_unit`; the cost is known, so the lift's interval maps onto ROMI's directly.
pub fn romi(
    outcome: &Lift,
    treated: u64,
    value_per_unit: f64,
    cost: f64,
) -> Result<Romi, FieldError> {
    if !(cost.is_finite() && cost > 0.0) {
        return Err(FieldError::new(
            "cost",
            "ROMI needs a cost above 0 (set cost_per_touch for the channels used)",
        ));
    }
    if !(value_per_unit.is_finite() && value_per_unit >= 0.0) {
        return Err(FieldError::new(
            "value_per_unit",
            "must be a number of 0 or more",
        ));
    }
    let n = treated as f64;
    let of = |lift: f64| (lift * n * value_per_unit - cost) / cost;
    Ok(Romi {
        incremental_units: outcome.absolute * n,
        incremental_value: outcome.absolute * n * value_per_unit,
        cost,
        romi: of(outcome.absolute),
        interval: Interval {
            low: of(outcome.absolute_interval.low),
            high: of(outcome.absolute_interval.high),
        },
    })
}

/// The sample-ratio-mismatch check: does the holdout's size fit its configured share?
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SampleRatio {
    pub expected_share: f64,
    pub observed_share: f64,
    pub chi_square: f64,
    pub p_value: f64,
    /// p below 0.001, the usual alarm threshold: the split is broken, and so is every lift.
    pub mismatch: bool,
}

pub const SAMPLE_RATIO_ALARM: f64 = 0.001;

pub fn sample_ratio(holdout: u64, treated: u64, share: f64) -> Result<SampleRatio, FieldError> {
    if !(share > 0.0 && share < 1.0) {
        return Err(FieldError::new(
            "holdout_share",
            "must be above 0 and below 1",
        ));
    }
    let total = (holdout + treated) as f64;
    if total == 0.0 {
        return Err(FieldError::new("target", "no HCP is assigned yet"));
    }
    let (eh, et) = (total * share, total * (1.0 - share));
    let chi_square = (holdout as f64 - eh).powi(2) / eh + (treated as f64 - et).powi(2) / et;
    let p_value = ChiSquared::new(1.0)
        .map(|c| c.sf(chi_square))
        .unwrap_or(1.0);
    Ok(SampleRatio {
        expected_share: share,
        observed_share: holdout as f64 / total,
        chi_square,
        p_value,
        mismatch: p_value < SAMPLE_RATIO_ALARM,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn close(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() <= tol, "{a} vs {b}");
    }

    fn p(successes: u64, trials: u64) -> Proportion {
        Proportion { successes, trials }
    }

    /// Newcombe (1998), "Interval estimation for the difference between independent
    /// proportions", Statistics in Medicine 17:873–890, Table II, method 10.
    #[test]
    fn rate_intervals_match_newcombes_published_table() {
        for (t, c, low, high) in [
            (p(56, 70), p(48, 80), 0.0524, 0.3339),
            (p(9, 10), p(3, 10), 0.1705, 0.8090),
            (p(5, 56), p(0, 29), -0.0381, 0.1926),
            (p(0, 10), p(0, 20), -0.1611, 0.2775),
            (p(10, 10), p(0, 20), 0.6791, 1.0),
        ] {
            let lift = proportion_lift(t, c, 0.95).unwrap();
            close(lift.absolute_interval.low, low, 5e-5);
            close(lift.absolute_interval.high, high, 5e-5);
        }
    }

    #[test]
    fn rate_p_values_are_the_pooled_z_test() {
        // 56/70 against 48/80: pooled 104/150, z = 0.2 / √(p̂(1 − p̂)(1/70 + 1/80)) = 2.6504,
        // p = 2(1 − Φ(2.6504)) = 0.008045 (hand-computed).
        let lift = proportion_lift(p(56, 70), p(48, 80), 0.95).unwrap();
        close(lift.p_value, 0.008045, 2e-6);
        close(lift.absolute, 0.2, 1e-12);
        // Relative: 0.8 / 0.6 − 1 = 1/3; se = √(0.16/70/0.36 + 0.64·0.24/80/0.1296) = 0.145479.
        close(lift.relative.unwrap(), 1.0 / 3.0, 1e-12);
        let r = lift.relative_interval.unwrap();
        close(r.high - r.low, 2.0 * 1.959964 * 0.145479, 1e-5);
    }

    /// One of GrowthBook's two-sided frequentist results (gbstats 0.8.0, `TwoSidedTTest` and
    /// `SequentialTwoSidedTTest` with its default tuning of 5,000), computed once in Python.
    struct G {
        p: f64,
        low: f64,
        high: f64,
        seq_p: f64,
        seq_low: f64,
        seq_high: f64,
    }

    /// Agreement with GrowthBook on one result. Rates: our fixed-horizon figures use the Newcombe
    /// interval and the pooled z-test where gbstats uses Welch's t, so they agree within
    /// `p_tol` and `end_tol`; the sequential construction is the same, so it agrees closely.
    fn agrees(
        ours: (f64, Interval, &Sequential),
        theirs: &G,
        (p_tol, end_tol): (f64, f64),
        label: &str,
    ) {
        let (p_value, interval, seq) = ours;
        let checks = [
            ("p", p_value, theirs.p, p_tol),
            ("low", interval.low, theirs.low, end_tol),
            ("high", interval.high, theirs.high, end_tol),
            ("sequential p", seq.p_value, theirs.seq_p, 1e-6),
            ("sequential low", seq.interval.low, theirs.seq_low, 1e-6),
            ("sequential high", seq.interval.high, theirs.seq_high, 1e-6),
        ];
        for (what, a, b, tol) in checks {
            assert!(
                (a - b).abs() <= tol,
                "{label}: {what} is {a}, GrowthBook's {b}"
            );
        }
    }

    const GBSTATS_RATES: (f64, f64) = (0.011, 0.0074);
    const GBSTATS_SAME: (f64, f64) = (1e-6, 1e-6);

    #[test]
    fn rate_lifts_absolute_and_relative_agree_with_growthbook() {
        #[rustfmt::skip]
        let cases = [
            (p(1000, 5000), p(750, 5000), 0.95,
             G { p: 4.506329e-11, low: 0.035136015, high: 0.064863985, seq_p: 5.394730e-09, seq_low: 0.0267852, seq_high: 0.0732148 },
             G { p: 1.339526e-08, low: 0.21841391, high: 0.44825276, seq_p: 1.022818e-06, seq_low: 0.15385041, seq_high: 0.51281626 }),
            (p(120, 1000), p(100, 1000), 0.95,
             G { p: 1.528654e-01, low: -0.0074282032, high: 0.047428203, seq_p: 9.388856e-01, seq_low: -0.023688259, seq_high: 0.063688259 },
             G { p: 1.923502e-01, low: -0.10076797, high: 0.50076797, seq_p: 1.0, seq_low: -0.27907, seq_high: 0.67907 }),
            (p(30, 400), p(22, 380), 0.95,
             G { p: 3.369675e-01, low: -0.017843964, high: 0.05205449, seq_p: 1.0, seq_low: -0.045302329, seq_high: 0.079512855 },
             G { p: 4.009679e-01, low: -0.39471305, high: 0.98562214, seq_p: 1.0, seq_low: -0.93695319, seq_high: 1.5278623 }),
            (p(460, 2000), p(430, 2000), 0.95,
             G { p: 2.540902e-01, low: -0.010782454, high: 0.040782454, seq_p: 1.0, seq_low: -0.024982648, seq_high: 0.054982648 },
             G { p: 2.703304e-01, low: -0.054303962, high: 0.19383885, seq_p: 1.0, seq_low: -0.12263873, seq_high: 0.26217361 }),
            (p(460, 2000), p(400, 2000), 0.90,
             G { p: 2.089629e-02, low: 0.0086404284, high: 0.051359572, seq_p: 2.649062e-01, seq_low: -0.0059620249, seq_high: 0.065962025 },
             G { p: 3.146239e-02, low: 0.035319273, high: 0.26468073, seq_p: 3.561460e-01, seq_low: -0.04308211, seq_high: 0.34308211 }),
        ];
        for (t, c, level, absolute, relative) in cases {
            let label = format!("{t:?} against {c:?} at {level}");
            let lift = proportion_lift(t, c, level).unwrap();
            agrees(
                (lift.p_value, lift.absolute_interval, &lift.sequential),
                &absolute,
                GBSTATS_RATES,
                &format!("{label}, absolute"),
            );
            agrees(
                (
                    lift.relative_p_value.unwrap(),
                    lift.relative_interval.unwrap(),
                    &lift.relative_sequential.unwrap(),
                ),
                &relative,
                GBSTATS_RATES,
                &format!("{label}, relative"),
            );
        }
    }

    #[test]
    fn mean_lifts_absolute_and_relative_agree_with_growthbook() {
        let sleep_a = Moments::of(&[0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]);
        let sleep_b = Moments::of(&[1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]);
        let control = Moments {
            n: 500,
            sum: 1250.0,
            sum_squares: 1250.0 * 2.5 + 499.0 * 4.0,
        };
        let treated = Moments {
            n: 520,
            sum: 1404.0,
            sum_squares: 1404.0 * 2.7 + 519.0 * 4.4,
        };
        #[rustfmt::skip]
        let cases = [
            (sleep_b, sleep_a,
             G { p: 7.939414e-02, low: -0.20548323, high: 3.3654832, seq_p: 9.630564e-01, seq_low: -10.299591, seq_high: 13.459591 },
             G { p: 4.089221e-01, low: -3.1310902, high: 7.3444235, seq_p: 1.0, seq_low: -32.742391, seq_high: 36.955724 }),
            (treated, control,
             G { p: 1.193508e-01, low: -0.05176769, high: 0.45176769, seq_p: 7.636409e-01, seq_low: -0.23033421, seq_high: 0.63033421 },
             G { p: 1.340879e-01, low: -0.024699877, high: 0.18469988, seq_p: 8.077793e-01, seq_low: -0.098958383, seq_high: 0.25895838 }),
        ];
        for (t, c, absolute, relative) in cases {
            let lift = mean_lift(&t, &c, 0.95).unwrap();
            agrees(
                (lift.p_value, lift.absolute_interval, &lift.sequential),
                &absolute,
                GBSTATS_SAME,
                "absolute",
            );
            agrees(
                (
                    lift.relative_p_value.unwrap(),
                    lift.relative_interval.unwrap(),
                    &lift.relative_sequential.unwrap(),
                ),
                &relative,
                GBSTATS_SAME,
                "relative",
            );
        }
    }

    #[test]
    fn the_relative_lift_has_its_own_p_value() {
        // 56/70 against 48/80: absolute p = 0.008045 (pooled z); the relative lift 1/3 has
        // se 0.145479, z = 2.29126, p = 0.021948 — a different figure from the absolute one.
        let lift = proportion_lift(p(56, 70), p(48, 80), 0.95).unwrap();
        close(lift.relative_p_value.unwrap(), 0.021948, 2e-6);
        assert!((lift.relative_p_value.unwrap() - lift.p_value).abs() > 0.01);
        let seq = lift.relative_sequential.unwrap();
        assert!(seq.interval.contains(1.0 / 3.0));
        assert!(seq.interval.high - seq.interval.low > 2.0 * 1.959964 * 0.145479);
        // No control responders: no relative lift, so none of its evidence either.
        let none = proportion_lift(p(3, 10), p(0, 10), 0.95).unwrap();
        assert_eq!(
            (none.relative_p_value, none.relative_sequential),
            (None, None)
        );
    }

    #[test]
    fn zero_responses_tiny_groups_and_empty_groups() {
        // Nobody responded anywhere: no lift, no evidence, an honest interval, no relative lift.
        let none = proportion_lift(p(0, 10), p(0, 20), 0.95).unwrap();
        assert_eq!(none.absolute, 0.0);
        assert_eq!(none.p_value, 1.0);
        assert!(none.absolute_interval.low < 0.0 && none.absolute_interval.high > 0.0);
        assert_eq!(none.relative, None);
        // One HCP a side still gives an interval inside [-1, 1].
        let tiny = proportion_lift(p(1, 1), p(0, 1), 0.95).unwrap();
        assert!(tiny.absolute_interval.low > -1.0 && tiny.absolute_interval.high <= 1.0);
        assert!(tiny.p_value > 0.05);
        // Everyone in control: named, not a panic.
        let err = proportion_lift(p(0, 0), p(3, 10), 0.95).unwrap_err();
        assert_eq!(err.field, "treated.trials");
        let err = proportion_lift(p(3, 10), p(11, 10), 0.95).unwrap_err();
        assert_eq!(err.field, "control.successes");
        let err = proportion_lift(p(3, 10), p(1, 10), 1.5).unwrap_err();
        assert_eq!(err.field, "level");
    }

    /// R's `t.test(extra ~ group, data = sleep)`: the classic Welch example.
    #[test]
    fn mean_lift_matches_welchs_published_example() {
        let g1 = Moments::of(&[0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]);
        let g2 = Moments::of(&[1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]);
        let lift = mean_lift(&g1, &g2, 0.95).unwrap();
        close(lift.treated, 0.75, 1e-12);
        close(lift.control, 2.33, 1e-12);
        close(lift.p_value, 0.07939, 1e-5);
        close(lift.absolute_interval.low, -3.3654832, 1e-6);
        close(lift.absolute_interval.high, 0.2054832, 1e-6);
        let err = mean_lift(&Moments::of(&[1.0]), &g2, 0.95).unwrap_err();
        assert_eq!(err.field, "treated.n");
        // Constant groups: the difference is exact.
        let a = Moments::of(&[2.0, 2.0, 2.0]);
        let b = Moments::of(&[1.0, 1.0]);
        let exact = mean_lift(&a, &b, 0.95).unwrap();
        assert_eq!((exact.absolute, exact.p_value), (1.0, 0.0));
    }

    #[test]
    fn romi_maps_the_outcome_lift_and_its_interval() {
        // 1,000 treated HCPs wrote 0.5 more prescriptions each (interval 0.2–0.8), worth €100
        // each, for €20,000: (50,000 − 20,000) / 20,000 = 1.5, interval 0.0–3.0.
        let g1 = Moments::of(&[0.0, 1.0]);
        let mut lift = mean_lift(&g1, &g1, 0.95).unwrap();
        lift.absolute = 0.5;
        lift.absolute_interval = Interval {
            low: 0.2,
            high: 0.8,
        };
        let r = romi(&lift, 1000, 100.0, 20_000.0).unwrap();
        close(r.romi, 1.5, 1e-12);
        close(r.interval.low, 0.0, 1e-12);
        close(r.interval.high, 3.0, 1e-12);
        close(r.incremental_units, 500.0, 1e-9);
        assert_eq!(romi(&lift, 1000, 100.0, 0.0).unwrap_err().field, "cost");
    }

    #[test]
    fn sample_ratio_mismatch_is_flagged_only_when_the_split_is_off() {
        // 10% holdout of 100,000: 10,050 is within chance (χ² = 50²/10,000 + 50²/90,000 =
        // 0.2778, p = 0.598); 10,500 is not (χ² = 27.78, p ≈ 1.4e-7).
        let fine = sample_ratio(10_050, 89_950, 0.1).unwrap();
        close(fine.chi_square, 0.277_778, 1e-5);
        close(fine.p_value, 0.5982, 1e-4);
        assert!(!fine.mismatch);
        let off = sample_ratio(10_500, 89_500, 0.1).unwrap();
        close(off.chi_square, 27.777_78, 1e-4);
        assert!(off.p_value < 1e-6 && off.mismatch);
        assert_eq!(sample_ratio(0, 0, 0.1).unwrap_err().field, "target");
        assert_eq!(sample_ratio(5, 5, 1.0).unwrap_err().field, "holdout_share");
    }

    /// A/A tests looked at every day for 60 days: the fixed-horizon p-value read daily finds a
    /// "significant" lift in far more than 5% of them; the always-valid one in at most about 5%.
    #[test]
    fn the_always_valid_p_value_survives_daily_peeking() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let experiments = 400;
        let (mut naive, mut valid) = (0, 0);
        for _ in 0..experiments {
            let (mut t, mut c) = (p(0, 0), p(0, 0));
            let (mut naive_hit, mut valid_hit) = (false, false);
            for _day in 0..60 {
                for _ in 0..50 {
                    t.trials += 1;
                    t.successes += u64::from(rng.random::<f64>() < 0.2);
                    c.trials += 1;
                    c.successes += u64::from(rng.random::<f64>() < 0.2);
                }
                let lift = proportion_lift(t, c, 0.95).unwrap();
                naive_hit |= lift.p_value < 0.05;
                valid_hit |= lift.sequential.p_value < 0.05;
                // The confidence sequence is wider than the fixed interval.
                assert!(
                    lift.sequential.interval.high - lift.sequential.interval.low
                        > lift.absolute_interval.high - lift.absolute_interval.low
                );
            }
            naive += u32::from(naive_hit);
            valid += u32::from(valid_hit);
        }
        let (naive, valid) = (
            f64::from(naive) / experiments as f64,
            f64::from(valid) / experiments as f64,
        );
        assert!(naive > 0.15, "daily peeking at the fixed p-value: {naive}");
        assert!(
            valid <= 0.07,
            "daily peeking at the always-valid p-value: {valid}"
        );
    }

    #[test]
    fn the_always_valid_test_finds_a_real_lift() {
        // 20% against 15% on 5,000 a side: found.
        let lift = proportion_lift(p(1000, 5000), p(750, 5000), 0.95).unwrap();
        assert!(
            lift.sequential.p_value < 0.01,
            "{}",
            lift.sequential.p_value
        );
        assert!(lift.sequential.interval.contains(0.05));
        assert!(lift.sequential.interval.low > 0.0);
    }
}
