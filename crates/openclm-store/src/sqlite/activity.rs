//! The brand's activity in SQLite: every event folded into the rollup in seq order (commit order,
//! with one writer) under a cursor of its own, the rollup read back for a range of days; and the
//! simulation runs the dashboard shows.

use openclm_core::measure::kpi::Counts;
use openclm_core::state::StateConfig;
use openclm_core::{Channel, Timestamp};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::kpi::{Batch, events_after, quarantine, write_guarded};
use super::meta_get;
use crate::activity::{ActivityDelta, assemble, fold, weeks_of};
use crate::kpi::finite_counts;
use crate::{Activity, ActivityDay, Fold, Result, SimulationRun, StoreError};

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

/// Folds up to `batch` events stored since the last fold; returns how many it read.
pub(super) fn fold_pending(
    conn: &mut Connection,
    config: &StateConfig,
    batch: usize,
) -> Result<usize> {
    // Nothing stored since the last fold: answer without taking the write lock (every overview
    // read asks first).
    let newest: i64 =
        conn.query_row("SELECT coalesce(max(seq), 0) FROM events", [], |r| r.get(0))?;
    if newest <= meta_get(conn, "activity_folded_upto")? {
        return Ok(0);
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let cursor = meta_get(&tx, "activity_folded_upto")?;
    let Some(Batch {
        last,
        read,
        events,
        mut set_aside,
    }) = events_after(&tx, cursor, batch)?
    else {
        return Ok(0);
    };
    set_aside.extend(write_guarded(&tx, &events, |events| {
        let delta = fold(events, config);
        write(&tx, &delta)?;
        Ok(delta.set_aside)
    })?);
    quarantine(&tx, Fold::Activity, &set_aside)?;
    tx.execute(
        "UPDATE store_meta SET value = ?1 WHERE name = 'activity_folded_upto'",
        [last],
    )?;
    tx.commit()?;
    Ok(read)
}

/// Adds a batch's sums to the rollup.
fn write(tx: &Connection, delta: &ActivityDelta) -> Result<()> {
    let mut read =
        tx.prepare_cached("SELECT counts FROM activity_days WHERE day = ?1 AND channel = ?2")?;
    let mut write = tx.prepare_cached(
        "INSERT OR REPLACE INTO activity_days (day, channel, counts) VALUES (?1, ?2, ?3)",
    )?;
    for ((day, channel), add) in delta.days_sorted() {
        let key = params![day, channel.code()];
        let mut counts: Counts = match read.query_row(key, |r| r.get::<_, String>(0)).optional()? {
            Some(text) => serde_json::from_str(&text).map_err(|e| corrupt("activity_days", e))?,
            None => Counts::default(),
        };
        counts.add(&add);
        finite_counts("activity_days", &counts)?;
        let text = serde_json::to_string(&counts).map_err(|e| corrupt("activity_days", e))?;
        write.execute(params![day, channel.code(), text])?;
    }
    let mut read = tx.prepare_cached(
        "SELECT counts FROM activity_content WHERE content_id = ?1 AND key_message = ?2",
    )?;
    let mut write = tx.prepare_cached(
        "INSERT OR REPLACE INTO activity_content (content_id, key_message, counts)
         VALUES (?1, ?2, ?3)",
    )?;
    for ((content_id, key_message), add) in delta.content_sorted() {
        let key = params![content_id, key_message];
        let mut counts: Counts = match read.query_row(key, |r| r.get::<_, String>(0)).optional()? {
            Some(text) => {
                serde_json::from_str(&text).map_err(|e| corrupt("activity_content", e))?
            }
            None => Counts::default(),
        };
        counts.add(&add);
        finite_counts("activity_content", &counts)?;
        let text = serde_json::to_string(&counts).map_err(|e| corrupt("activity_content", e))?;
        write.execute(params![content_id, key_message, text])?;
    }
    let mut add = tx.prepare_cached(
        "INSERT INTO activity_reach (week, hcp_key, delivered, engaged) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (week, hcp_key) DO UPDATE SET delivered = delivered + excluded.delivered,
            engaged = engaged + excluded.engaged",
    )?;
    for ((week, hcp_key), (delivered, engaged)) in delta.reach_sorted() {
        add.execute(params![week, hcp_key, delivered as i64, engaged as i64])?;
    }
    Ok(())
}

/// The rollup over `from_day..=to_day`, from one snapshot.
pub(super) fn read(conn: &mut Connection, from_day: i64, to_day: i64) -> Result<Activity> {
    let Some((first, last)) = weeks_of(from_day, to_day)? else {
        return Ok(Activity::default());
    };
    let tx = conn.transaction()?;
    let days = tx
        .prepare_cached(
            "SELECT day, channel, counts FROM activity_days WHERE day BETWEEN ?1 AND ?2
             ORDER BY day, channel",
        )?
        .query_map(params![from_day, to_day], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?
        .into_iter()
        .map(|(day, channel, counts)| {
            Ok(ActivityDay {
                day,
                channel: Channel::from_code(channel)
                    .ok_or_else(|| corrupt("activity_days.channel", channel))?,
                counts: serde_json::from_str(&counts)
                    .map_err(|e| corrupt("activity_days.counts", e))?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let weeks = tx
        .prepare_cached(
            "SELECT week, sum(delivered > 0), sum(delivered), sum(delivered > 0 AND engaged > 0)
             FROM activity_reach WHERE week BETWEEN ?1 AND ?2 GROUP BY week ORDER BY week",
        )?
        .query_map(params![first, last], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)? as u64,
                r.get::<_, i64>(2)? as u64,
                r.get::<_, i64>(3)? as u64,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let (reached, engaged): (i64, i64) = tx
        .prepare_cached(
            "SELECT count(DISTINCT CASE WHEN delivered > 0 THEN hcp_key END),
                count(DISTINCT CASE WHEN delivered > 0 AND engaged > 0 THEN hcp_key END)
             FROM activity_reach WHERE week BETWEEN ?1 AND ?2",
        )?
        .query_row(params![first, last], |r| Ok((r.get(0)?, r.get(1)?)))?;
    tx.commit()?;
    Ok(assemble(
        days,
        (first, last),
        &weeks,
        (reached as u64, engaged as u64),
    ))
}

/// The content rollup, of one item or all.
pub(super) fn read_content(
    conn: &Connection,
    content_id: Option<&str>,
) -> Result<Vec<crate::ContentActivity>> {
    let mut stmt = conn.prepare_cached(
        "SELECT content_id, key_message, counts FROM activity_content
         WHERE ?1 IS NULL OR content_id = ?1 ORDER BY content_id, key_message",
    )?;
    let rows = stmt
        .query_map(params![content_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter()
        .map(|(c, k, counts)| crate::activity::content_row(c, k, &counts))
        .collect()
}

/// Keeps a simulation run, replacing one recorded under the same id.
pub(super) fn record_simulation(conn: &Connection, run: &SimulationRun) -> Result<()> {
    let body = serde_json::to_string(&run.body).map_err(|e| corrupt("simulation_runs", e))?;
    conn.prepare_cached(
        "INSERT INTO simulation_runs (run_id, ran_at, body) VALUES (?1, ?2, ?3)
         ON CONFLICT (run_id) DO UPDATE SET ran_at = excluded.ran_at, body = excluded.body",
    )?
    .execute(params![run.run_id, run.ran_at.millis(), body])?;
    Ok(())
}

/// The latest simulation run, by time, then id.
pub(super) fn last_simulation(conn: &Connection) -> Result<Option<SimulationRun>> {
    let row = conn
        .prepare_cached(
            "SELECT run_id, ran_at, body FROM simulation_runs
             ORDER BY ran_at DESC, run_id DESC LIMIT 1",
        )?
        .query_row([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .optional()?;
    row.map(|(run_id, ran_at, body)| {
        Ok(SimulationRun {
            run_id,
            ran_at: Timestamp::from_millis(ran_at),
            body: serde_json::from_str(&body).map_err(|e| corrupt("simulation_runs.body", e))?,
        })
    })
    .transpose()
}
