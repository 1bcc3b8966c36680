//! Reps, their weekly plans and the feedback on suggestions, in PostgreSQL.

use deadpool_postgres::GenericClient;
use openclm_core::suggest::{DismissReason, Feedback, Rep, Suggestion, SuggestionStatus, Week};
use openclm_core::{Channel, FieldError, Timestamp};
use tokio_postgres::Row;

use super::{corrupt, json_list, to_json};
use crate::{DecisionRecord, NewPlan, PlannedTouch, Result, SuggestionFilter, Upserted};

const SUGGESTION_COLUMNS: &str = "s.suggestion_id, s.rep_id, s.week, h.id, s.decision_id,
    s.channel, s.content_id, s.key_messages, s.score, s.explanation, s.status, s.reason,
    s.cancelled_because, s.note, s.created_at, s.updated_at";

fn read_suggestion(r: &Row) -> Result<Suggestion> {
    let channel: i16 = r.get(5);
    Ok(Suggestion {
        suggestion_id: r.get(0),
        rep_id: r.get(1),
        week: Week::parse("week", r.get(2)).map_err(|e| corrupt("suggestions.week", e))?,
        hcp_id: r.get(3),
        decision_id: r.get(4),
        channel: Channel::from_code(channel.into())
            .ok_or_else(|| corrupt("suggestions.channel", channel))?,
        content_id: r.get(6),
        key_messages: json_list("suggestions.key_messages", r.get(7))?,
        score: r.get(8),
        explanation: r.get(9),
        status: SuggestionStatus::parse("status", r.get(10))
            .map_err(|e| corrupt("suggestions.status", e))?,
        reason: r
            .get::<_, Option<&str>>(11)
            .map(|t| DismissReason::parse("reason", t))
            .transpose()
            .map_err(|e| corrupt("suggestions.reason", e))?,
        cancelled_because: r.get(12),
        note: r.get(13),
        created_at: Timestamp::from_millis(r.get(14)),
        updated_at: Timestamp::from_millis(r.get(15)),
    })
}

pub(super) async fn list(
    client: &impl GenericClient,
    filter: &SuggestionFilter,
) -> Result<Vec<Suggestion>> {
    if let Some(hcp) = &filter.hcp_id {
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {SUGGESTION_COLUMNS} FROM suggestions s JOIN hcps h ON h.hcp_key = s.hcp_key
                 WHERE h.id = $1 AND ($2::text IS NULL OR s.rep_id = $2)
                   AND ($3::text IS NULL OR s.week = $3)
                 ORDER BY s.updated_at DESC, s.suggestion_id LIMIT $4"
            ))
            .await?;
        let week = filter.week.map(|w| w.to_string());
        return client
            .query(
                &stmt,
                &[
                    &hcp,
                    &filter.rep_id,
                    &week,
                    &(crate::HCP_SUGGESTIONS as i64),
                ],
            )
            .await?
            .iter()
            .map(read_suggestion)
            .collect();
    }
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {SUGGESTION_COLUMNS} FROM suggestions s JOIN hcps h ON h.hcp_key = s.hcp_key
             WHERE ($1::text IS NULL OR s.rep_id = $1) AND ($2::text IS NULL OR s.week = $2)
             ORDER BY s.week, s.rep_id, s.score DESC, s.suggestion_id"
        ))
        .await?;
    let week = filter.week.map(|w| w.to_string());
    client
        .query(&stmt, &[&filter.rep_id, &week])
        .await?
        .iter()
        .map(read_suggestion)
        .collect()
}

pub(super) async fn get(client: &impl GenericClient, id: &str) -> Result<Option<Suggestion>> {
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {SUGGESTION_COLUMNS} FROM suggestions s JOIN hcps h ON h.hcp_key = s.hcp_key
             WHERE s.suggestion_id = $1"
        ))
        .await?;
    client
        .query_opt(&stmt, &[&id])
        .await?
        .as_ref()
        .map(read_suggestion)
        .transpose()
}

fn plan_filter(rep_id: &str, week: Week) -> SuggestionFilter {
    SuggestionFilter {
        week: Some(week),
        rep_id: Some(rep_id.to_owned()),
        hcp_id: None,
    }
}

pub(super) async fn get_plan(
    client: &impl GenericClient,
    rep_id: &str,
    week: Week,
) -> Result<Option<Vec<Suggestion>>> {
    let stmt = client
        .prepare_cached("SELECT 1 FROM suggestion_plans WHERE rep_id = $1 AND week = $2")
        .await?;
    if client
        .query_opt(&stmt, &[&rep_id, &week.to_string()])
        .await?
        .is_none()
    {
        return Ok(None);
    }
    Ok(Some(list(client, &plan_filter(rep_id, week)).await?))
}

/// Stores the plan unless one is there; a plan saved at the same moment by another node makes
/// this insert wait for it and then do nothing.
pub(super) async fn save_plan(
    client: &impl GenericClient,
    plan: &NewPlan,
) -> Result<Vec<Suggestion>> {
    let week = plan.week.to_string();
    let stmt = client
        .prepare_cached(
            "INSERT INTO suggestion_plans (rep_id, week, made_at) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
        )
        .await?;
    let made = client
        .execute(&stmt, &[&plan.rep_id, &week, &plan.made_at.millis()])
        .await?;
    if made == 1 {
        // The content the plan carries is locked against a concurrent withdrawal (which cancels
        // open suggestions once this plan is committed) and must still be approved.
        let mut ids: Vec<&str> = plan
            .suggestions
            .iter()
            .flat_map(|s| std::iter::once(&s.content_id).chain(&s.key_messages))
            .map(String::as_str)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let stmt = client
            .prepare_cached(
                "SELECT id FROM content WHERE id = ANY($1) AND status = 'approved'
                    AND (expires_at IS NULL OR expires_at > $2)
                 ORDER BY id FOR SHARE",
            )
            .await?;
        let usable: Vec<String> = client
            .query(&stmt, &[&ids, &plan.made_at.millis()])
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let (decisions, suggestions) = plan.usable(&usable);
        insert_decisions(client, &decisions).await?;
        let insert = client
            .prepare_cached(
                "INSERT INTO suggestions (suggestion_id, rep_id, week, hcp_key, decision_id,
                    channel, content_id, key_messages, score, explanation, status, created_at,
                    updated_at)
                 SELECT $1, $2, $3, hcp_key, $5, $6, $7, $8, $9, $10, $11, $12, $12
                 FROM hcps WHERE id = $4",
            )
            .await?;
        let carries = client
            .prepare_cached(
                "INSERT INTO suggestion_content (content_id, suggestion_id) VALUES ($1, $2)
                 ON CONFLICT DO NOTHING",
            )
            .await?;
        for s in &suggestions {
            let stored = client
                .execute(
                    &insert,
                    &[
                        &s.suggestion_id,
                        &s.rep_id,
                        &week,
                        &s.hcp_id,
                        &s.decision_id,
                        &(s.channel.code() as i16),
                        &s.content_id,
                        &to_json(&s.key_messages),
                        &s.score,
                        &s.explanation,
                        &s.status.as_str(),
                        &s.created_at.millis(),
                    ],
                )
                .await?;
            if stored == 0 {
                continue;
            }
            for content in std::iter::once(&s.content_id).chain(&s.key_messages) {
                client
                    .execute(&carries, &[content, &s.suggestion_id])
                    .await?;
            }
        }
    }
    list(client, &plan_filter(&plan.rep_id, plan.week)).await
}

/// Inserts decisions; false for each whose HCP is unknown.
pub(super) async fn insert_decisions(
    client: &impl GenericClient,
    decisions: &[DecisionRecord],
) -> Result<Vec<bool>> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO decisions (decision_id, hcp_key, made_at, model_version,
                chosen_content, chosen_channel, propensity, node_global, node_segment,
                node_hcp, delivered_at, rewarded_at, body, reserved_until, campaign_id,
                campaign_wave, campaign_arm)
             SELECT $1, hcp_key, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                $17 FROM hcps
             WHERE id = $2 AND NOT is_stub",
        )
        .await?;
    let mut logged = Vec::with_capacity(decisions.len());
    for d in decisions {
        let node = |i: usize| d.nodes.map(|n| n[i] as i64);
        let inserted = client
            .execute(
                &stmt,
                &[
                    &d.decision_id,
                    &d.hcp_id,
                    &d.made_at.millis(),
                    &d.model_version,
                    &d.chosen_content,
                    &d.chosen_channel.map(|c| c.code() as i16),
                    &d.propensity,
                    &node(0),
                    &node(1),
                    &node(2),
                    &d.delivered_at.map(Timestamp::millis),
                    &d.rewarded_at.map(Timestamp::millis),
                    &d.body.to_string(),
                    &d.reserved_until.map(Timestamp::millis),
                    &d.campaign.as_ref().map(|c| c.campaign_id.as_str()),
                    &d.campaign.as_ref().map(|c| i64::from(c.wave)),
                    &d.campaign.as_ref().map(|c| i64::from(c.arm)),
                ],
            )
            .await?;
        logged.push(inserted == 1);
    }
    Ok(logged)
}

pub(super) async fn planned_touches(
    client: &impl GenericClient,
    hcp_key: i64,
    now: Timestamp,
) -> Result<Vec<PlannedTouch>> {
    let stmt = client
        .prepare_cached(
            "SELECT decision_id, chosen_channel, made_at, chosen_content FROM decisions
             WHERE hcp_key = $1 AND chosen_channel IS NOT NULL AND delivered_at IS NULL
                AND reserved_until > $2
             ORDER BY made_at",
        )
        .await?;
    Ok(client
        .query(&stmt, &[&hcp_key, &now.millis()])
        .await?
        .iter()
        .filter_map(|r| {
            Some(PlannedTouch {
                decision_id: r.get(0),
                channel: Channel::from_code(r.get::<_, i16>(1).into())?,
                at: Timestamp::from_millis(r.get(2)),
                content_id: r.get(3),
            })
        })
        .collect())
}

pub(super) async fn feedback(
    client: &impl GenericClient,
    id: &str,
    feedback: &Feedback,
    now: Timestamp,
) -> Result<Option<std::result::Result<Suggestion, FieldError>>> {
    // The row is locked first, so that two nodes taking feedback at once apply it in turn.
    let lock = client
        .prepare_cached("SELECT 1 FROM suggestions WHERE suggestion_id = $1 FOR UPDATE")
        .await?;
    if client.query_opt(&lock, &[&id]).await?.is_none() {
        return Ok(None);
    }
    let Some(current) = get(client, id).await? else {
        return Ok(None);
    };
    let next = match current.status.after(feedback) {
        Ok(next) => next,
        Err(e) => return Ok(Some(Err(e))),
    };
    if next != current.status {
        let stmt = client
            .prepare_cached(
                "UPDATE suggestions SET status = $2, reason = $3, note = COALESCE($4, note),
                    updated_at = $5 WHERE suggestion_id = $1",
            )
            .await?;
        client
            .execute(
                &stmt,
                &[
                    &id,
                    &next.as_str(),
                    &feedback.reason.map(DismissReason::as_str),
                    &feedback.note,
                    &now.millis(),
                ],
            )
            .await?;
        if next == SuggestionStatus::Dismissed {
            release(client, &current.decision_id).await?;
            if feedback.reason.is_some_and(DismissReason::teaches) {
                close_as_failed(client, &current.decision_id, now).await?;
            }
        }
    }
    Ok(get(client, id).await?.map(Ok))
}

async fn release(client: &impl GenericClient, decision_id: &str) -> Result<()> {
    let stmt = client
        .prepare_cached("UPDATE decisions SET reserved_until = NULL WHERE decision_id = $1")
        .await?;
    client.execute(&stmt, &[&decision_id]).await?;
    Ok(())
}

/// Closes a decision its rep dismissed as wrong for the HCP: unless its delivery was already
/// counted, a trial without success for each model node of its arm; either way no later outcome
/// credits it. The decision row is locked first, as crediting does.
async fn close_as_failed(
    client: &impl GenericClient,
    decision_id: &str,
    now: Timestamp,
) -> Result<()> {
    let lock = client
        .prepare_cached(
            "SELECT delivered_at IS NULL AND dismissed_at IS NULL FROM decisions
             WHERE decision_id = $1 FOR UPDATE",
        )
        .await?;
    let open: bool = client
        .query_opt(&lock, &[&decision_id])
        .await?
        .is_some_and(|r| r.get(0));
    let close = client
        .prepare_cached(
            "UPDATE decisions SET dismissed_at = $2 WHERE decision_id = $1 AND dismissed_at IS NULL",
        )
        .await?;
    client
        .execute(&close, &[&decision_id, &now.millis()])
        .await?;
    if !open {
        return Ok(());
    }
    let stmt = client
        .prepare_cached(
            "INSERT INTO model_counts (node_key, trials, successes)
             SELECT n, 1.0, 0.0 FROM decisions d,
                unnest(ARRAY[d.node_global, d.node_segment, d.node_hcp]) AS n
             WHERE d.decision_id = $1 AND d.node_global IS NOT NULL
             ORDER BY n
             ON CONFLICT (node_key) DO UPDATE SET trials = model_counts.trials + 1.0",
        )
        .await?;
    client.execute(&stmt, &[&decision_id]).await?;
    Ok(())
}

pub(super) async fn cancel(
    client: &impl GenericClient,
    cancellations: &[(String, String)],
    now: Timestamp,
) -> Result<usize> {
    let stmt = client
        .prepare_cached(
            "UPDATE suggestions SET status = 'cancelled', cancelled_because = $2, updated_at = $3
             WHERE suggestion_id = $1 AND status IN ('pending', 'accepted')
             RETURNING decision_id",
        )
        .await?;
    let mut cancelled = 0;
    for (id, why) in cancellations {
        if let Some(row) = client.query_opt(&stmt, &[id, why, &now.millis()]).await? {
            release(client, row.get(0)).await?;
            cancelled += 1;
        }
    }
    Ok(cancelled)
}

pub(super) async fn cancel_for_content(
    client: &impl GenericClient,
    content_id: &str,
    why: &str,
    now: Timestamp,
) -> Result<usize> {
    let stmt = client
        .prepare_cached(
            "SELECT s.suggestion_id FROM suggestion_content c
             JOIN suggestions s ON s.suggestion_id = c.suggestion_id
             WHERE c.content_id = $1 AND s.status IN ('pending', 'accepted')
             ORDER BY s.suggestion_id",
        )
        .await?;
    let ids: Vec<(String, String)> = client
        .query(&stmt, &[&content_id])
        .await?
        .iter()
        .map(|r| (r.get(0), why.to_owned()))
        .collect();
    cancel(client, &ids, now).await
}

pub(super) async fn put_rep(
    client: &impl GenericClient,
    rep: &Rep,
    now: Timestamp,
) -> Result<Upserted> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO reps (rep_id, name, territories, visits_per_week, updated_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (rep_id) DO UPDATE SET name = excluded.name,
                territories = excluded.territories, visits_per_week = excluded.visits_per_week,
                updated_at = excluded.updated_at
             RETURNING (xmax = 0) AS inserted",
        )
        .await?;
    let inserted: bool = client
        .query_one(
            &stmt,
            &[
                &rep.id,
                &rep.name,
                &to_json(&rep.territories),
                &i64::from(rep.visits_per_week),
                &now.millis(),
            ],
        )
        .await?
        .get(0);
    Ok(if inserted {
        Upserted::Created
    } else {
        Upserted::Updated
    })
}

pub(super) async fn get_rep(client: &impl GenericClient, rep_id: &str) -> Result<Option<Rep>> {
    let stmt = client
        .prepare_cached(
            "SELECT rep_id, name, territories, visits_per_week FROM reps WHERE rep_id = $1",
        )
        .await?;
    client
        .query_opt(&stmt, &[&rep_id])
        .await?
        .map(|r| {
            let visits: i64 = r.get(3);
            Ok(Rep {
                id: r.get(0),
                name: r.get(1),
                territories: json_list("reps.territories", r.get(2))?,
                visits_per_week: u32::try_from(visits)
                    .map_err(|e| corrupt("reps.visits_per_week", e))?,
            })
        })
        .transpose()
}
