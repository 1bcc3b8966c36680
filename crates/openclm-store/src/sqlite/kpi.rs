//! Campaign KPIs in SQLite: events folded in seq order (commit order, with one writer), and the
//! sums read back.

use std::collections::HashMap;

use openclm_core::measure::kpi::Counts;
use openclm_core::state::StateConfig;
use openclm_core::{Channel, Timestamp};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::meta_get;
use crate::kpi::{
    CampaignDecision, FoldContext, FoldOutput, GuardedWrite, MemberTotals, MomentDelta, SetAside,
    SliceKey, Stored, finite_counts, live,
};
use crate::{
    Fold, GroupMoments, KpiFilter, MAX_QUARANTINE_LIST, QuarantinedEvent, Result, SliceRow,
    StoreError,
};

fn json_keys(keys: &[i64]) -> String {
    serde_json::to_string(keys).unwrap_or_else(|_| "[]".into())
}

/// Folds up to `batch` events stored since the last fold; returns how many it read.
pub(super) fn fold_pending(
    conn: &mut Connection,
    config: &StateConfig,
    batch: usize,
) -> Result<usize> {
    // Nothing stored since the last fold: answer without taking the write lock (every KPI read
    // asks first).
    let newest: i64 =
        conn.query_row("SELECT coalesce(max(seq), 0) FROM events", [], |r| r.get(0))?;
    if newest <= meta_get(conn, "kpi_folded_upto")? {
        return Ok(0);
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let cursor = meta_get(&tx, "kpi_folded_upto")?;
    let runs: HashMap<String, (i64, i64)> = tx
        .prepare_cached(
            "SELECT campaign_id, min(ran_at), max(ran_at) FROM campaign_waves GROUP BY campaign_id",
        )?
        .query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))?
        .collect::<rusqlite::Result<_>>()?;
    if runs.is_empty() {
        // No campaign measures anything yet: nothing stored so far can count.
        let last: i64 =
            tx.query_row("SELECT coalesce(max(seq), 0) FROM events", [], |r| r.get(0))?;
        tx.execute(
            "UPDATE store_meta SET value = ?1 WHERE name = 'kpi_folded_upto'",
            [last],
        )?;
        tx.commit()?;
        return Ok(0);
    }
    let mut context = FoldContext::new(live(super::campaign::list(&tx)?, &runs));
    let Some(Batch {
        last,
        read,
        events,
        mut set_aside,
    }) = events_after(&tx, cursor, batch)?
    else {
        return Ok(0);
    };
    let keys = json_keys(&FoldContext::hcp_keys(&events));
    context.members = tx
        .prepare_cached(
            "SELECT campaign_id, hcp_key, grp FROM campaign_members
             WHERE hcp_key IN (SELECT value FROM json_each(?1))",
        )?
        .query_map([&keys], |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    context.decisions = tx
        .prepare_cached(
            "SELECT decision_id, hcp_key, campaign_id, campaign_wave, campaign_arm,
                chosen_content, chosen_channel, made_at, delivered_at
             FROM decisions
             WHERE campaign_id IS NOT NULL AND hcp_key IN (SELECT value FROM json_each(?1))",
        )?
        .query_map([&keys], |r| {
            Ok(CampaignDecision {
                decision_id: r.get(0)?,
                hcp_key: r.get(1)?,
                campaign_id: r.get(2)?,
                wave: r.get(3)?,
                arm: r.get(4)?,
                content: r.get(5)?,
                channel: r.get::<_, Option<i64>>(6)?.and_then(Channel::from_code),
                made_at: r.get(7)?,
                delivered_at: r.get(8)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    context.segments = tx
        .prepare_cached(
            "SELECT hcp_key, specialty, country FROM hcps
             WHERE hcp_key IN (SELECT value FROM json_each(?1))",
        )?
        .query_map([&keys], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))?
        .collect::<rusqlite::Result<_>>()?;
    {
        let mut stmt = tx.prepare_cached(
            "SELECT m.campaign_id, m.hcp_key, m.wave, w.ran_at FROM campaign_wave_members m
             JOIN campaign_waves w ON w.campaign_id = m.campaign_id AND w.wave = m.wave
             WHERE m.hcp_key IN (SELECT value FROM json_each(?1)) ORDER BY w.ran_at, m.wave",
        )?;
        let rows = stmt.query_map([&keys], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get(2)?,
                r.get(3)?,
            ))
        })?;
        for row in rows {
            let (campaign, hcp, wave, ran) = row?;
            context.add_wave(campaign, hcp, wave, ran);
        }
    }
    let write = |events: &[Stored]| write_output(&tx, context.fold(events, config));
    set_aside.extend(write_guarded(&tx, &events, write)?);
    quarantine(&tx, Fold::CampaignKpis, &set_aside)?;
    tx.execute(
        "UPDATE store_meta SET value = ?1 WHERE name = 'kpi_folded_upto'",
        [last],
    )?;
    tx.commit()?;
    Ok(read)
}

/// Adds one fold's output to the KPI tables; returns the events it left out.
fn write_output(tx: &Connection, out: FoldOutput) -> Result<Vec<SetAside>> {
    write_slices(tx, out.slices)?;
    write_members(tx, out.members)?;
    let mut add = tx.prepare_cached(
        "UPDATE campaign_wave_members SET delivered = delivered + ?4, opened = opened + ?5,
            engaged = engaged + ?6, responses = responses + ?7,
            first_delivered_at = CASE WHEN ?8 IS NULL THEN first_delivered_at
                ELSE min(coalesce(first_delivered_at, ?8), ?8) END
         WHERE campaign_id = ?1 AND wave = ?2 AND hcp_key = ?3",
    )?;
    for ((campaign, wave, hcp), d) in out.waves {
        add.execute(params![
            campaign,
            wave,
            hcp,
            d.delivered,
            d.opened,
            d.engaged,
            d.responses,
            d.first_delivered_at
        ])?;
    }
    Ok(out.set_aside)
}

/// Writes a batch's fold (`write`, given the events to fold) as [`GuardedWrite`] says: the
/// batch at once, or its events one at a time when a row of it is refused. Returns the events
/// set aside.
pub(super) fn write_guarded(
    tx: &Connection,
    events: &[Stored],
    mut write: impl FnMut(&[Stored]) -> Result<Vec<SetAside>>,
) -> Result<Vec<SetAside>> {
    let mut guard = GuardedWrite::new(events);
    while let Some(attempt) = guard.next_attempt() {
        tx.execute_batch(attempt.begin())?;
        let written = write(&events[guard.range(attempt)]);
        tx.execute_batch(attempt.end(written.is_ok()))?;
        guard.record(written)?;
    }
    Ok(guard.set_aside())
}

/// Records events a fold set aside (once per fold and event), logging each the first time.
pub(super) fn quarantine(tx: &Connection, fold: Fold, set_aside: &[SetAside]) -> Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT OR IGNORE INTO fold_quarantine (fold, seq, event_id, reason)
         VALUES (?1, ?2, ?3, ?4)",
    )?;
    for s in set_aside {
        if insert.execute(params![fold.as_str(), s.seq, s.event_id, s.reason])? == 1 {
            tracing::warn!(
                fold = fold.as_str(),
                seq = s.seq,
                "a stored event was set aside instead of counted (see `openclm quarantine`)"
            );
        }
    }
    Ok(())
}

/// The events the folds set aside, newest first.
pub(super) fn quarantined(conn: &Connection, limit: usize) -> Result<Vec<QuarantinedEvent>> {
    let limit = limit.min(MAX_QUARANTINE_LIST) as i64;
    let rows = conn
        .prepare_cached(
            "SELECT fold, seq, event_id, reason, quarantined_at FROM fold_quarantine
             ORDER BY quarantined_at DESC, seq DESC, fold LIMIT ?1",
        )?
        .query_map([limit], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter()
        .map(|(fold, seq, event_id, reason, at)| {
            Ok(QuarantinedEvent {
                fold: Fold::from_stored(&fold)?,
                seq,
                event_id,
                reason,
                quarantined_at: Timestamp::from_millis(at),
            })
        })
        .collect()
}

/// A batch of stored events read for a fold.
pub(super) struct Batch {
    /// The last seq read.
    pub last: i64,
    /// How many rows were read.
    pub read: usize,
    /// The events that parse.
    pub events: Vec<Stored>,
    /// Those that do not, to set aside.
    pub set_aside: Vec<SetAside>,
}

/// Up to `batch` stored events after `cursor`, in seq order, for a fold; `None` when there are
/// none.
pub(super) fn events_after(tx: &Connection, cursor: i64, batch: usize) -> Result<Option<Batch>> {
    let rows: Vec<(i64, i64, String)> = tx
        .prepare_cached(
            "SELECT seq, hcp_key, payload FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?
        .query_map(params![cursor, batch as i64], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let Some(&(last, _, _)) = rows.last() else {
        return Ok(None);
    };
    let mut events = Vec::with_capacity(rows.len());
    let mut set_aside = Vec::new();
    for (seq, hcp_key, payload) in &rows {
        match Stored::parse(*seq, *hcp_key, payload) {
            Ok(stored) => events.push(stored),
            Err(aside) => set_aside.push(aside),
        }
    }
    Ok(Some(Batch {
        last,
        read: rows.len(),
        events,
        set_aside,
    }))
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

fn write_slices(tx: &Connection, slices: HashMap<SliceKey, Counts>) -> Result<()> {
    let mut read = tx.prepare_cached(
        "SELECT counts FROM campaign_slices WHERE campaign_id = ?1 AND day = ?2 AND grp = ?3
            AND wave = ?4 AND channel = ?5 AND content_id = ?6 AND specialty = ?7 AND country = ?8",
    )?;
    let mut write = tx.prepare_cached(
        "INSERT OR REPLACE INTO campaign_slices (campaign_id, day, grp, wave, channel, content_id,
            specialty, country, counts) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    for (k, add) in slices {
        let key = params![
            k.campaign_id,
            k.day,
            k.group,
            k.wave,
            k.channel.code(),
            k.content_id,
            k.specialty,
            k.country
        ];
        let mut counts: Counts = match read.query_row(key, |r| r.get::<_, String>(0)).optional()? {
            Some(text) => serde_json::from_str(&text).map_err(|e| corrupt("campaign_slices", e))?,
            None => Counts::default(),
        };
        counts.add(&add);
        finite_counts("campaign_slices", &counts)?;
        let text = serde_json::to_string(&counts).map_err(|e| corrupt("campaign_slices", e))?;
        write.execute(params![
            k.campaign_id,
            k.day,
            k.group,
            k.wave,
            k.channel.code(),
            k.content_id,
            k.specialty,
            k.country,
            text
        ])?;
    }
    Ok(())
}

fn write_members(
    tx: &Connection,
    members: HashMap<(String, i64), crate::kpi::MemberDelta>,
) -> Result<()> {
    let mut read = tx.prepare_cached(
        "SELECT touches, delivered, opened, engaged, responses, outcome_units,
            first_delivered_at, first_response_at
         FROM campaign_hcp WHERE campaign_id = ?1 AND hcp_key = ?2",
    )?;
    let mut write = tx.prepare_cached(
        "INSERT OR REPLACE INTO campaign_hcp (campaign_id, hcp_key, grp, touches, delivered,
            opened, engaged, responses, outcome_units, first_delivered_at, first_response_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?;
    let mut moments: HashMap<(String, i64), MomentDelta> = HashMap::new();
    for ((campaign_id, hcp_key), delta) in members {
        let old = read
            .query_row(params![campaign_id, hcp_key], |r| {
                Ok(MemberTotals {
                    touches: r.get(0)?,
                    delivered: r.get(1)?,
                    opened: r.get(2)?,
                    engaged: r.get(3)?,
                    responses: r.get(4)?,
                    outcome_units: r.get(5)?,
                    first_delivered_at: r.get(6)?,
                    first_response_at: r.get(7)?,
                })
            })
            .optional()?
            .unwrap_or_default();
        let new = old.plus(&delta);
        new.check_finite()?;
        write.execute(params![
            campaign_id,
            hcp_key,
            delta.group,
            new.touches,
            new.delivered,
            new.opened,
            new.engaged,
            new.responses,
            new.outcome_units,
            new.first_delivered_at,
            new.first_response_at
        ])?;
        moments
            .entry((campaign_id, delta.group))
            .or_default()
            .add(&MomentDelta::between(&old, &new));
    }
    let mut add = tx.prepare_cached(
        "INSERT INTO campaign_group_moments (campaign_id, grp, reached, responders, responses,
            responses_sq, outcome, outcome_sq, touches)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (campaign_id, grp) DO UPDATE SET reached = reached + excluded.reached,
            responders = responders + excluded.responders,
            responses = responses + excluded.responses,
            responses_sq = responses_sq + excluded.responses_sq,
            outcome = outcome + excluded.outcome, outcome_sq = outcome_sq + excluded.outcome_sq,
            touches = touches + excluded.touches",
    )?;
    for ((campaign_id, grp), m) in moments {
        m.check_finite()?;
        add.execute(params![
            campaign_id,
            grp,
            m.reached,
            m.responders,
            m.responses,
            m.responses_sq,
            m.outcome,
            m.outcome_sq,
            m.touches
        ])?;
    }
    Ok(())
}

/// The campaign's slices matching the filter.
pub(super) fn slices(conn: &Connection, filter: &KpiFilter) -> Result<Vec<SliceRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT day, grp, wave, channel, content_id, specialty, country, counts
         FROM campaign_slices
         WHERE campaign_id = ?1 AND (?2 IS NULL OR day >= ?2) AND (?3 IS NULL OR day < ?3)",
    )?;
    let rows = stmt
        .query_map(
            params![filter.campaign_id, filter.from_day, filter.until_day],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, String>(7)?,
                ))
            },
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter()
        .map(
            |(day, group, wave, channel, content_id, specialty, country, counts)| {
                Ok(SliceRow {
                    day,
                    group,
                    wave,
                    channel: Channel::from_code(channel)
                        .ok_or_else(|| corrupt("campaign_slices.channel", channel))?,
                    content_id,
                    specialty,
                    country,
                    counts: serde_json::from_str(&counts)
                        .map_err(|e| corrupt("campaign_slices.counts", e))?,
                })
            },
        )
        .collect()
}

/// Each group's size (its members) and sums.
pub(super) fn moments(conn: &Connection, campaign_id: &str) -> Result<Vec<GroupMoments>> {
    let sizes = super::campaign::groups(conn, campaign_id)?;
    let mut stmt = conn.prepare_cached(
        "SELECT reached, responders, responses, responses_sq, outcome, outcome_sq, touches
         FROM campaign_group_moments WHERE campaign_id = ?1 AND grp = ?2",
    )?;
    sizes
        .into_iter()
        .map(|(group, members)| {
            let found = stmt
                .query_row(params![campaign_id, group], |r| {
                    Ok(GroupMoments {
                        group,
                        members,
                        reached: r.get::<_, i64>(0)? as u64,
                        responders: r.get::<_, i64>(1)? as u64,
                        responses: r.get(2)?,
                        responses_sq: r.get(3)?,
                        outcome: r.get(4)?,
                        outcome_sq: r.get(5)?,
                        touches: r.get::<_, i64>(6)? as u64,
                    })
                })
                .optional()?;
            Ok(found.unwrap_or(GroupMoments {
                group,
                members,
                ..GroupMoments::default()
            }))
        })
        .collect()
}
