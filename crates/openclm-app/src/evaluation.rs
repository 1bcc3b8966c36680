//! Off-policy evaluation of a candidate policy from the decision log: what it would have earned
//! (responses per decision) on the decisions the engine actually made, estimated by IPS,
//! self-normalized IPS and doubly robust, with intervals. Answers `GET /v1/evaluate` and
//! `openclm evaluate`.
//!
//! Each logged decision keeps every allowed candidate with the probability the engine gave it
//! and its expected response (the model's prediction), the candidate it picked, and — once the
//! attribution window has passed — whether the HCP responded. A candidate policy is a
//! distribution over the same allowed candidates:
//!
//! - `logged`: the engine as it ran (the estimates then equal what was observed, a check);
//! - `greedy`: the engine without exploration — always its best-scored candidate;
//! - `uniform`: every allowed candidate alike;
//! - `channel:NAME` (e.g. `channel:email`, "email only"): that channel's candidates alike, and
//!   as logged where the channel was not allowed;
//! - `content:ID`: that item wherever it was allowed, and as logged elsewhere;
//! - `rules:SPECIALTY=CHANNEL,...` (`*` for any other specialty): a marketer's static table, each
//!   HCP's specialty's channel, and as logged where the table has no row or the channel was not
//!   allowed.
//!
//! Decisions that held back (with economics) are left out: no candidate policy here holds back.
//!
//! A decision with more than 100 allowed candidates logs 100 of them one by one — the chosen
//! one, the first best-scored one (the greedy policy's pick) and those with the highest
//! propensities — and the rest summed per channel (`candidates_unlisted`: how many, the sum of
//! their scores, of their propensities, and of score × propensity). That is all the logged,
//! greedy, uniform, channel and rules policies need, so they are evaluated exactly as on a full
//! log. A `content:ID` policy needs to know whether the item was among the unlisted: a
//! decision whose log summed some candidates and does not list the item is left out of its
//! evaluation (counted in `left_out`).

use openclm_core::measure::ope::{Evaluation, Logged, evaluate};
use openclm_core::{Channel, FieldError, Timestamp};
use openclm_store::prelude::*;
use openclm_store::{DecisionFilter, DecisionRecord, PageRequest};
use serde::{Deserialize, Serialize};

use crate::{AppError, Caller};

/// A policy to evaluate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Candidate {
    Logged,
    Greedy,
    Uniform,
    Channel(Channel),
    Content(String),
    /// Specialty → channel; `*` for the rest.
    Rules(std::collections::BTreeMap<String, Channel>),
}

impl Candidate {
    pub fn parse(field: &str, text: &str) -> Result<Self, FieldError> {
        Ok(match text.split_once(':') {
            None if text == "logged" => Self::Logged,
            None if text == "greedy" => Self::Greedy,
            None if text == "uniform" => Self::Uniform,
            Some(("channel", c)) => Self::Channel(Channel::parse(field, c)?),
            Some(("content", c)) => Self::Content(openclm_core::hcp::parse_identifier(field, c)?),
            Some(("rules", table)) => {
                let mut rules = std::collections::BTreeMap::new();
                for row in table.split(',').filter(|r| !r.trim().is_empty()) {
                    let (specialty, channel) = row.split_once('=').ok_or_else(|| {
                        FieldError::new(
                            field,
                            format!(
                                "rule {row:?} must read SPECIALTY=CHANNEL, e.g. \
                                 cardiology=face_to_face"
                            ),
                        )
                    })?;
                    rules.insert(
                        specialty.trim().to_owned(),
                        Channel::parse(field, channel.trim())?,
                    );
                }
                if rules.is_empty() {
                    return Err(FieldError::new(field, "rules: the table has no rows"));
                }
                Self::Rules(rules)
            }
            _ => {
                return Err(FieldError::new(
                    field,
                    format!(
                        "unknown policy {text:?}; expected logged, greedy, uniform, \
                         channel:NAME, content:ID or rules:SPECIALTY=CHANNEL,..."
                    ),
                ));
            }
        })
    }
}

/// One allowed candidate of a logged decision.
#[derive(Debug, Clone, Deserialize)]
struct Option_ {
    content_id: String,
    channel: Channel,
    score: f64,
    propensity: f64,
}

/// Allowed candidates on one channel that the log summed instead of listing.
#[derive(Debug, Clone, Deserialize)]
struct Unlisted {
    channel: Channel,
    candidates: usize,
    score_sum: f64,
    score_propensity_sum: f64,
}

/// The candidate policy's probability for each listed candidate of a decision, for an HCP of
/// this specialty, and the part of its expected score that falls on the unlisted candidates;
/// `None` when the log cannot tell (a content policy, an unlisted rest without the item).
fn distribution(
    policy: &Candidate,
    options: &[Option_],
    unlisted: &[Unlisted],
    specialty: &str,
) -> Option<(Vec<f64>, f64)> {
    let logged = || {
        let rest = unlisted.iter().map(|u| u.score_propensity_sum).sum();
        (
            options.iter().map(|o| o.propensity).collect::<Vec<_>>(),
            rest,
        )
    };
    // Every candidate on `channel` alike (listed or not), else as logged.
    let on_channel = |channel: Channel| {
        let listed = options.iter().filter(|o| o.channel == channel).count();
        let (rest, rest_score) = unlisted
            .iter()
            .filter(|u| u.channel == channel)
            .fold((0, 0.0), |(n, s), u| (n + u.candidates, s + u.score_sum));
        let k = (listed + rest) as f64;
        if k == 0.0 {
            return logged();
        }
        let pi = options
            .iter()
            .map(|o| if o.channel == channel { 1.0 / k } else { 0.0 })
            .collect();
        (pi, rest_score / k)
    };
    Some(match policy {
        Candidate::Logged => logged(),
        Candidate::Uniform => {
            let rest: usize = unlisted.iter().map(|u| u.candidates).sum();
            let n = (options.len() + rest) as f64;
            let rest_score: f64 = unlisted.iter().map(|u| u.score_sum).sum();
            (vec![1.0 / n; options.len()], rest_score / n)
        }
        Candidate::Greedy => {
            // Ties go to the first in the log's (library) order, as the engine ranks them.
            let best = options
                .iter()
                .enumerate()
                .fold(None::<(usize, f64)>, |best, (i, o)| match best {
                    Some((_, s)) if s >= o.score => best,
                    _ => Some((i, o.score)),
                })
                .map_or(0, |(i, _)| i);
            // The log always lists the first best-scored candidate.
            let pi = (0..options.len())
                .map(|i| f64::from(u8::from(i == best)))
                .collect();
            (pi, 0.0)
        }
        Candidate::Channel(c) => on_channel(*c),
        Candidate::Content(id) => {
            let k = options.iter().filter(|o| &o.content_id == id).count();
            if !unlisted.is_empty() {
                return None;
            }
            if k == 0 {
                logged()
            } else {
                let pi = options
                    .iter()
                    .map(|o| {
                        if &o.content_id == id {
                            1.0 / k as f64
                        } else {
                            0.0
                        }
                    })
                    .collect();
                (pi, 0.0)
            }
        }
        Candidate::Rules(table) => match table.get(specialty).or_else(|| table.get("*")) {
            Some(channel) => on_channel(*channel),
            None => logged(),
        },
    })
}

/// The logged decision as seen by the candidate policy, or `None` when it cannot be used (it
/// held back, or its log lacks what evaluation needs).
fn sample(d: &DecisionRecord, policy: &Candidate, specialty: &str) -> Option<Logged> {
    let (content, channel) = (d.chosen_content.as_ref()?, d.chosen_channel?);
    let options: Vec<Option_> = serde_json::from_value(d.body.get("candidates")?.clone()).ok()?;
    let unlisted: Vec<Unlisted> = match d.body.get("candidates_unlisted") {
        None => Vec::new(),
        Some(rest) => serde_json::from_value(rest.clone()).ok()?,
    };
    let chosen = options
        .iter()
        .position(|o| &o.content_id == content && o.channel == channel)?;
    let (pi, rest_score) = distribution(policy, &options, &unlisted, specialty)?;
    Some(Logged {
        reward: f64::from(u8::from(d.rewarded_at.is_some())),
        propensity: d.propensity?,
        candidate: pi[chosen],
        predicted: options[chosen].score,
        predicted_candidate: options
            .iter()
            .zip(&pi)
            .map(|(o, p)| o.score * p)
            .sum::<f64>()
            + rest_score,
    })
}

/// What was evaluated, on which decisions, and the estimates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub policy: Candidate,
    pub campaign_id: Option<String>,
    pub since: Option<Timestamp>,
    /// Decisions made before this have had their whole attribution window.
    pub until: Timestamp,
    /// Logged decisions read, and those left out (held back, or without a usable log).
    pub read: usize,
    pub left_out: usize,
    pub evaluation: Evaluation,
}

/// Evaluates `policy` on the logged decisions, if the caller may read reports.
pub async fn evaluate_for<S: Store>(
    store: &S,
    caller: &Caller,
    policy: &Candidate,
    campaign_id: Option<String>,
    since: Option<Timestamp>,
    until: Timestamp,
    level: f64,
) -> Result<Report, AppError> {
    caller.require(openclm_core::auth::Action::ReadReports)?;
    evaluate_policy(store, policy, campaign_id, since, until, level).await
}

/// Evaluates `policy` on the decisions made in `[since, until)` (of one campaign, if given).
/// Unchecked: for [`evaluate_for`] and the operator's command line.
pub async fn evaluate_policy<S: Store>(
    store: &S,
    policy: &Candidate,
    campaign_id: Option<String>,
    since: Option<Timestamp>,
    until: Timestamp,
    level: f64,
) -> Result<Report, AppError> {
    let mut samples = Vec::new();
    let mut specialties: std::collections::HashMap<String, String> =
        std::collections::HashMap::new();
    let mut read = 0;
    let mut cursor = None;
    loop {
        let page = store
            .list_decisions(
                DecisionFilter {
                    campaign_id: campaign_id.clone(),
                    since,
                    until: Some(until),
                },
                PageRequest {
                    cursor,
                    limit: 1000,
                },
            )
            .await?;
        read += page.items.len();
        for d in &page.items {
            // Only the static table needs the HCP's specialty.
            let specialty = match policy {
                Candidate::Rules(_) => match specialties.get(&d.hcp_id) {
                    Some(s) => s.clone(),
                    None => {
                        let id = openclm_core::HcpId::parse("hcp", &d.hcp_id)?;
                        let s = store
                            .get_hcp(id)
                            .await?
                            .map(|h| h.specialty)
                            .unwrap_or_default();
                        specialties.insert(d.hcp_id.clone(), s.clone());
                        s
                    }
                },
                _ => String::new(),
            };
            samples.extend(sample(d, policy, &specialty));
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let evaluation = evaluate(&samples, level)?;
    Ok(Report {
        policy: policy.clone(),
        campaign_id,
        since,
        until,
        left_out: read - samples.len(),
        read,
        evaluation,
    })
}

/// The latest time whose decisions have had their whole attribution window by `now`.
pub fn settled_until(now: Timestamp, window_ms: i64) -> Timestamp {
    Timestamp::from_millis(now.millis() - window_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> Vec<Option_> {
        [
            ("EM-1", Channel::Email, 0.2, 0.5),
            ("KM-1", Channel::FaceToFace, 0.4, 0.3),
            ("KM-1", Channel::RemoteDetail, 0.4, 0.2),
        ]
        .into_iter()
        .map(|(c, ch, s, p)| Option_ {
            content_id: c.into(),
            channel: ch,
            score: s,
            propensity: p,
        })
        .collect()
    }

    #[test]
    fn candidate_policies_are_distributions_over_the_allowed_candidates() {
        let o = options();
        assert_eq!(
            distribution(&Candidate::Logged, &o, &[], "").unwrap().0,
            vec![0.5, 0.3, 0.2]
        );
        assert_eq!(
            distribution(&Candidate::Greedy, &o, &[], "").unwrap().0,
            vec![0.0, 1.0, 0.0]
        );
        assert_eq!(
            distribution(&Candidate::Channel(Channel::Email), &o, &[], "")
                .unwrap()
                .0,
            vec![1.0, 0.0, 0.0]
        );
        assert_eq!(
            distribution(&Candidate::Content("KM-1".into()), &o, &[], "")
                .unwrap()
                .0,
            vec![0.0, 0.5, 0.5]
        );
        // Not allowed here: as logged.
        assert_eq!(
            distribution(&Candidate::Channel(Channel::Sms), &o, &[], "")
                .unwrap()
                .0,
            vec![0.5, 0.3, 0.2]
        );
        let u = distribution(&Candidate::Uniform, &o, &[], "").unwrap().0;
        assert!(u.iter().all(|p| (p - 1.0 / 3.0).abs() < 1e-12));
        assert_eq!(
            Candidate::parse("policy", "channel:email").unwrap(),
            Candidate::Channel(Channel::Email)
        );
        assert_eq!(
            Candidate::parse("policy", "best").unwrap_err().field,
            "policy"
        );
        // A marketer's table: cardiologists get visits, everyone else email.
        let rules = Candidate::parse("policy", "rules:cardiology=face_to_face,*=email").unwrap();
        assert_eq!(
            distribution(&rules, &o, &[], "cardiology").unwrap().0,
            vec![0.0, 1.0, 0.0]
        );
        assert_eq!(
            distribution(&rules, &o, &[], "oncology").unwrap().0,
            vec![1.0, 0.0, 0.0]
        );
        assert_eq!(
            Candidate::parse("policy", "rules:cardiology")
                .unwrap_err()
                .field,
            "policy"
        );
        assert_eq!(
            Candidate::parse("policy", "channel:pigeon")
                .unwrap_err()
                .field,
            "policy"
        );
    }

    /// Beyond the logged bound, the summed rest still gives every policy but a content one the
    /// same numbers as the full list would.
    #[test]
    fn a_log_with_summed_candidates_evaluates_as_the_full_list_would() {
        let full = {
            let mut o = options();
            o.push(Option_ {
                content_id: "EM-2".into(),
                channel: Channel::Email,
                score: 0.1,
                propensity: 0.0,
            });
            o
        };
        // The same decision logged with EM-2 summed instead of listed (its propensity 0 here,
        // so the others still sum to 1).
        let listed = options();
        let rest = [Unlisted {
            channel: Channel::Email,
            candidates: 1,
            score_sum: 0.1,
            score_propensity_sum: 0.0,
        }];
        let expected = |o: &[Option_], rest: &[Unlisted], policy: &Candidate| {
            let (pi, rest_score) = distribution(policy, o, rest, "cardiology").unwrap();
            let listed: f64 = o.iter().zip(&pi).map(|(o, p)| o.score * p).sum();
            (pi[1], listed + rest_score)
        };
        for policy in [
            Candidate::Logged,
            Candidate::Greedy,
            Candidate::Uniform,
            Candidate::Channel(Channel::Email),
            Candidate::Channel(Channel::FaceToFace),
            Candidate::parse("policy", "rules:cardiology=email").unwrap(),
        ] {
            let (a, b) = (
                expected(&full, &[], &policy),
                expected(&listed, &rest, &policy),
            );
            assert!(
                (a.0 - b.0).abs() < 1e-12 && (a.1 - b.1).abs() < 1e-12,
                "{policy:?}: {a:?} vs {b:?}"
            );
        }
        // Whether an unlisted candidate is the item cannot be told: the decision is left out.
        assert!(distribution(&Candidate::Content("KM-1".into()), &listed, &rest, "").is_none());
    }
}
