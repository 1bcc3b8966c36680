//! Reps, their weekly plans and the feedback on suggestions, in SQLite.

use openclm_core::suggest::{DismissReason, Feedback, Rep, Suggestion, SuggestionStatus, Week};
use openclm_core::{Channel, FieldError, Timestamp};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{corrupt, json_list, to_json};
use crate::{DecisionRecord, NewPlan, PlannedTouch, Result, SuggestionFilter, Upserted};

const SUGGESTION_COLUMNS: &str = "s.suggestion_id, s.rep_id, s.week, h.id, s.decision_id,
    s.channel, s.content_id, s.key_messages, s.score, s.explanation, s.status, s.reason,
    s.cancelled_because, s.note, s.created_at, s.updated_at";

fn read_suggestion(r: &rusqlite::Row) -> rusqlite::Result<Suggestion> {
    let channel: i64 = r.get(5)?;
    Ok(Suggestion {
        suggestion_id: r.get(0)?,
        rep_id: r.get(1)?,
        week: Week::parse("week", &r.get::<_, String>(2)?).map_err(corrupt("suggestions.week"))?,
        hcp_id: r.get(3)?,
        decision_id: r.get(4)?,
        channel: Channel::from_code(channel)
            .ok_or_else(|| corrupt("suggestions.channel")(FieldError::new("channel", "unknown")))?,
        content_id: r.get(6)?,
        key_messages: json_list(&r.get::<_, String>(7)?)?,
        score: r.get(8)?,
        explanation: r.get(9)?,
        status: SuggestionStatus::parse("status", &r.get::<_, String>(10)?)
            .map_err(corrupt("suggestions.status"))?,
        reason: r
            .get::<_, Option<String>>(11)?
            .map(|t| DismissReason::parse("reason", &t))
            .transpose()
            .map_err(corrupt("suggestions.reason"))?,
        cancelled_because: r.get(12)?,
        note: r.get(13)?,
        created_at: Timestamp::from_millis(r.get(14)?),
        updated_at: Timestamp::from_millis(r.get(15)?),
    })
}

fn select_suggestions(conn: &Connection, filter: &SuggestionFilter) -> Result<Vec<Suggestion>> {
    if let Some(hcp) = &filter.hcp_id {
        let sql = format!(
            "SELECT {SUGGESTION_COLUMNS} FROM suggestions s JOIN hcps h ON h.hcp_key = s.hcp_key
             WHERE h.id = ?1 AND (?2 IS NULL OR s.rep_id = ?2) AND (?3 IS NULL OR s.week = ?3)
             ORDER BY s.updated_at DESC, s.suggestion_id LIMIT ?4"
        );
        let week = filter.week.map(|w| w.to_string());
        return Ok(conn
            .prepare_cached(&sql)?
            .query_map(
                params![hcp, filter.rep_id, week, crate::HCP_SUGGESTIONS as i64],
                read_suggestion,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?);
    }
    let sql = format!(
        "SELECT {SUGGESTION_COLUMNS} FROM suggestions s JOIN hcps h ON h.hcp_key = s.hcp_key
         WHERE (?1 IS NULL OR s.rep_id = ?1) AND (?2 IS NULL OR s.week = ?2)
         ORDER BY s.week, s.rep_id, s.score DESC, s.suggestion_id"
    );
    let week = filter.week.map(|w| w.to_string());
    Ok(conn
        .prepare_cached(&sql)?
        .query_map(params![filter.rep_id, week], read_suggestion)?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

pub(super) fn list(conn: &Connection, filter: &SuggestionFilter) -> Result<Vec<Suggestion>> {
    select_suggestions(conn, filter)
}

pub(super) fn get(conn: &Connection, id: &str) -> Result<Option<Suggestion>> {
    let sql = format!(
        "SELECT {SUGGESTION_COLUMNS} FROM suggestions s JOIN hcps h ON h.hcp_key = s.hcp_key
         WHERE s.suggestion_id = ?1"
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id], read_suggestion)
        .optional()?)
}

pub(super) fn get_plan(
    conn: &mut Connection,
    rep_id: &str,
    week: Week,
) -> Result<Option<Vec<Suggestion>>> {
    let tx = conn.transaction()?;
    let exists = tx
        .prepare_cached("SELECT 1 FROM suggestion_plans WHERE rep_id = ?1 AND week = ?2")?
        .query_row(params![rep_id, week.to_string()], |_| Ok(()))
        .optional()?
        .is_some();
    if !exists {
        return Ok(None);
    }
    let plan = select_suggestions(
        &tx,
        &SuggestionFilter {
            week: Some(week),
            rep_id: Some(rep_id.to_owned()),
            hcp_id: None,
        },
    )?;
    tx.commit()?;
    Ok(Some(plan))
}

pub(super) fn save_plan(conn: &mut Connection, plan: &NewPlan) -> Result<Vec<Suggestion>> {
    let week = plan.week.to_string();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let made = tx
        .prepare_cached(
            "INSERT INTO suggestion_plans (rep_id, week, made_at) VALUES (?1, ?2, ?3)
             ON CONFLICT DO NOTHING",
        )?
        .execute(params![plan.rep_id, week, plan.made_at.millis()])?;
    if made == 1 {
        // Only content still approved: a withdrawal committed since the decisions were made
        // has already cancelled the open suggestions it could find.
        let mut approved = tx.prepare_cached(
            "SELECT 1 FROM content WHERE id = ?1 AND status = 'approved'
                AND (expires_at IS NULL OR expires_at > ?2)",
        )?;
        let mut usable = Vec::new();
        for s in &plan.suggestions {
            for c in std::iter::once(&s.content_id).chain(&s.key_messages) {
                if approved
                    .query_row(params![c, plan.made_at.millis()], |_| Ok(()))
                    .optional()?
                    .is_some()
                {
                    usable.push(c.clone());
                }
            }
        }
        let (decisions, suggestions) = plan.usable(&usable);
        insert_decisions(&tx, &decisions)?;
        let mut find = tx.prepare_cached("SELECT hcp_key FROM hcps WHERE id = ?1")?;
        let mut insert = tx.prepare_cached(
            "INSERT INTO suggestions (suggestion_id, rep_id, week, hcp_key, decision_id, channel,
                content_id, key_messages, score, explanation, status, reason, cancelled_because,
                note, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, NULL, NULL, NULL, ?12, ?12)",
        )?;
        let mut carries = tx.prepare_cached(
            "INSERT OR IGNORE INTO suggestion_content (content_id, suggestion_id) VALUES (?1, ?2)",
        )?;
        for s in &suggestions {
            let Some(hcp_key) = find
                .query_row([&s.hcp_id], |r| r.get::<_, i64>(0))
                .optional()?
            else {
                continue;
            };
            insert.execute(params![
                s.suggestion_id,
                s.rep_id,
                week,
                hcp_key,
                s.decision_id,
                s.channel.code(),
                s.content_id,
                to_json(&s.key_messages),
                s.score,
                s.explanation,
                s.status.as_str(),
                s.created_at.millis(),
            ])?;
            for content in std::iter::once(&s.content_id).chain(&s.key_messages) {
                carries.execute(params![content, s.suggestion_id])?;
            }
        }
    }
    let stored = select_suggestions(
        &tx,
        &SuggestionFilter {
            week: Some(plan.week),
            rep_id: Some(plan.rep_id.clone()),
            hcp_id: None,
        },
    )?;
    tx.commit()?;
    Ok(stored)
}

/// Inserts decisions in the caller's transaction; false for each whose HCP is unknown.
pub(super) fn insert_decisions(tx: &Connection, decisions: &[DecisionRecord]) -> Result<Vec<bool>> {
    let mut logged = Vec::with_capacity(decisions.len());
    let mut find = tx.prepare_cached("SELECT hcp_key FROM hcps WHERE id = ?1 AND is_stub = 0")?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO decisions (decision_id, hcp_key, made_at, model_version,
            chosen_content, chosen_channel, propensity, node_global, node_segment,
            node_hcp, delivered_at, rewarded_at, body, reserved_until, campaign_id, campaign_wave,
            campaign_arm)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
    )?;
    for d in decisions {
        let Some(hcp_key) = find
            .query_row([&d.hcp_id], |r| r.get::<_, i64>(0))
            .optional()?
        else {
            logged.push(false);
            continue;
        };
        insert.execute(params![
            d.decision_id,
            hcp_key,
            d.made_at.millis(),
            d.model_version,
            d.chosen_content,
            d.chosen_channel.map(Channel::code),
            d.propensity,
            d.nodes.map(|n| n[0] as i64),
            d.nodes.map(|n| n[1] as i64),
            d.nodes.map(|n| n[2] as i64),
            d.delivered_at.map(Timestamp::millis),
            d.rewarded_at.map(Timestamp::millis),
            d.body.to_string(),
            d.reserved_until.map(Timestamp::millis),
            d.campaign.as_ref().map(|c| c.campaign_id.as_str()),
            d.campaign.as_ref().map(|c| i64::from(c.wave)),
            d.campaign.as_ref().map(|c| i64::from(c.arm)),
        ])?;
        logged.push(true);
    }
    Ok(logged)
}

pub(super) fn planned_touches(
    conn: &Connection,
    hcp_key: i64,
    now: Timestamp,
) -> Result<Vec<PlannedTouch>> {
    let mut stmt = conn.prepare_cached(
        "SELECT decision_id, chosen_channel, made_at, chosen_content FROM decisions
         WHERE hcp_key = ?1 AND chosen_channel IS NOT NULL AND delivered_at IS NULL
            AND reserved_until > ?2
         ORDER BY made_at",
    )?;
    let rows = stmt
        .query_map(params![hcp_key, now.millis()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Option<String>>(3)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows
        .into_iter()
        .filter_map(|(decision_id, channel, at, content_id)| {
            Some(PlannedTouch {
                decision_id,
                channel: Channel::from_code(channel)?,
                at: Timestamp::from_millis(at),
                content_id,
            })
        })
        .collect())
}

pub(super) fn feedback(
    conn: &mut Connection,
    id: &str,
    feedback: &Feedback,
    now: Timestamp,
) -> Result<Option<std::result::Result<Suggestion, FieldError>>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let Some(current) = get(&tx, id)? else {
        return Ok(None);
    };
    let next = match current.status.after(feedback) {
        Ok(next) => next,
        Err(e) => return Ok(Some(Err(e))),
    };
    if next != current.status {
        tx.prepare_cached(
            "UPDATE suggestions SET status = ?2, reason = ?3, note = COALESCE(?4, note),
                updated_at = ?5 WHERE suggestion_id = ?1",
        )?
        .execute(params![
            id,
            next.as_str(),
            feedback.reason.map(DismissReason::as_str),
            feedback.note,
            now.millis()
        ])?;
        if next == SuggestionStatus::Dismissed {
            release(&tx, &current.decision_id)?;
            if feedback.reason.is_some_and(DismissReason::teaches) {
                close_as_failed(&tx, &current.decision_id, now)?;
            }
        }
    }
    let stored = get(&tx, id)?;
    tx.commit()?;
    Ok(stored.map(Ok))
}

/// Ends an undelivered decision's hold on the caps.
fn release(tx: &Connection, decision_id: &str) -> Result<()> {
    tx.prepare_cached("UPDATE decisions SET reserved_until = NULL WHERE decision_id = ?1")?
        .execute([decision_id])?;
    Ok(())
}

/// Closes a decision its rep dismissed as wrong for the HCP: unless its delivery was already
/// counted, a trial without success for each model node of its arm; either way no later outcome
/// credits it.
fn close_as_failed(tx: &Connection, decision_id: &str, now: Timestamp) -> Result<()> {
    let nodes: Option<(Option<i64>, Option<i64>, Option<i64>)> = tx
        .prepare_cached(
            "SELECT node_global, node_segment, node_hcp FROM decisions
             WHERE decision_id = ?1 AND delivered_at IS NULL AND dismissed_at IS NULL",
        )?
        .query_row([decision_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    tx.prepare_cached(
        "UPDATE decisions SET dismissed_at = ?2 WHERE decision_id = ?1 AND dismissed_at IS NULL",
    )?
    .execute(params![decision_id, now.millis()])?;
    let Some((Some(g), Some(s), Some(h))) = nodes else {
        return Ok(());
    };
    let mut add = tx.prepare_cached(
        "INSERT INTO model_counts (node_key, trials, successes) VALUES (?1, 1.0, 0.0)
         ON CONFLICT (node_key) DO UPDATE SET trials = trials + 1.0",
    )?;
    for node in [g, s, h] {
        add.execute([node])?;
    }
    Ok(())
}

/// Cancels open suggestions in the caller's transaction; returns how many were open.
pub(super) fn cancel(
    tx: &Connection,
    cancellations: &[(String, String)],
    now: Timestamp,
) -> Result<usize> {
    let mut cancelled = 0;
    let mut update = tx.prepare_cached(
        "UPDATE suggestions SET status = 'cancelled', cancelled_because = ?2, updated_at = ?3
         WHERE suggestion_id = ?1 AND status IN ('pending', 'accepted')
         RETURNING decision_id",
    )?;
    for (id, why) in cancellations {
        let decision: Option<String> = update
            .query_row(params![id, why, now.millis()], |r| r.get(0))
            .optional()?;
        if let Some(decision) = decision {
            release(tx, &decision)?;
            cancelled += 1;
        }
    }
    Ok(cancelled)
}

/// Cancels every open suggestion that carries a content item, in the caller's transaction.
pub(super) fn cancel_for_content(
    tx: &Connection,
    content_id: &str,
    why: &str,
    now: Timestamp,
) -> Result<usize> {
    let ids = tx
        .prepare_cached(
            "SELECT s.suggestion_id FROM suggestion_content c
             JOIN suggestions s ON s.suggestion_id = c.suggestion_id
             WHERE c.content_id = ?1 AND s.status IN ('pending', 'accepted')",
        )?
        .query_map([content_id], |r| r.get::<_, String>(0))?
        .map(|id| id.map(|id| (id, why.to_owned())))
        .collect::<rusqlite::Result<Vec<_>>>()?;
    cancel(tx, &ids, now)
}

pub(super) fn put_rep(conn: &Connection, rep: &Rep, now: Timestamp) -> Result<Upserted> {
    let existed = conn
        .prepare_cached("SELECT 1 FROM reps WHERE rep_id = ?1")?
        .query_row([&rep.id], |_| Ok(()))
        .optional()?
        .is_some();
    conn.prepare_cached(
        "INSERT INTO reps (rep_id, name, territories, visits_per_week, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (rep_id) DO UPDATE SET name = excluded.name,
            territories = excluded.territories, visits_per_week = excluded.visits_per_week,
            updated_at = excluded.updated_at",
    )?
    .execute(params![
        rep.id,
        rep.name,
        to_json(&rep.territories),
        rep.visits_per_week,
        now.millis()
    ])?;
    Ok(if existed {
        Upserted::Updated
    } else {
        Upserted::Created
    })
}

pub(super) fn get_rep(conn: &Connection, rep_id: &str) -> Result<Option<Rep>> {
    Ok(conn
        .prepare_cached(
            "SELECT rep_id, name, territories, visits_per_week FROM reps WHERE rep_id = ?1",
        )?
        .query_row([rep_id], |r| {
            Ok(Rep {
                id: r.get(0)?,
                name: r.get(1)?,
                territories: json_list(&r.get::<_, String>(2)?)?,
                visits_per_week: r.get(3)?,
            })
        })
        .optional()?)
}
