//! The brand's activity in PostgreSQL: every event folded into the rollup in the order of the
//! transactions that stored them, up to the oldest transaction still running, one node at a time
//! and under a cursor of its own (as the campaign KPIs are, independently of them); the rollup
//! read back for a range of days; and the simulation runs the dashboard shows.

use std::collections::HashMap;

use deadpool_postgres::GenericClient;
use openclm_core::measure::kpi::Counts;
use openclm_core::state::StateConfig;
use openclm_core::{Channel, Timestamp};

use super::corrupt;
use super::kpi::{parse_rows, quarantine, write_guarded};
use crate::activity::{ActivityDelta, assemble, fold, weeks_of};
use crate::kpi::finite_counts;
use crate::{Activity, ActivityDay, Fold, Result, SimulationRun};

/// Advisory lock held while folding activity: one node folds at a time. Not the KPI fold's lock,
/// so the two folds never wait on each other.
const ACTIVITY_LOCK: i64 = 0x6f63_6c6d_0004;

/// Folds up to `batch` finished events not yet in the rollup; returns how many it read.
pub(super) async fn fold_pending(
    client: &impl GenericClient,
    config: &StateConfig,
    batch: usize,
) -> Result<usize> {
    client
        .execute("SELECT pg_advisory_xact_lock($1)", &[&ACTIVITY_LOCK])
        .await?;
    // Plan each read with its values: a generic plan cannot see that the cursor leaves only the
    // index's tail to read.
    client
        .batch_execute("SET LOCAL plan_cache_mode = force_custom_plan")
        .await?;
    // The cursor and the horizon as values, so that the read is a range of the (xid, seq)
    // index, not a filter over every event folded before.
    let cursor = client
        .query_one(
            "SELECT xid::text, seq, legacy_upto, pg_snapshot_xmin(pg_current_snapshot())::text
             FROM activity_progress WHERE id = 1",
            &[],
        )
        .await?;
    let (from_xid, from_seq, legacy_upto, horizon): (String, i64, i64, String) =
        (cursor.get(0), cursor.get(1), cursor.get(2), cursor.get(3));
    let limit = batch as i64;
    // First the events stored before transaction ids were recorded, by seq (all finished long
    // ago); while those remain, the cursor's transaction id is 0, below every real one.
    let mut rows = Vec::new();
    if from_xid == "0" && from_seq < legacy_upto {
        let stmt = client
            .prepare_cached(
                "SELECT seq, hcp_key, payload, '0' AS xid_text FROM events
                 WHERE xid IS NULL AND seq > $1 AND seq <= $2
                 ORDER BY seq LIMIT $3",
            )
            .await?;
        rows = client
            .query(&stmt, &[&from_seq, &legacy_upto, &limit])
            .await?;
    }
    if rows.len() < batch {
        let stmt = client
            .prepare_cached(
                // The text form is renamed: `ORDER BY xid` must sort by the column (the index's
                // order), not by its text.
                "SELECT seq, hcp_key, payload, xid::text AS xid_text FROM events
                 WHERE xid IS NOT NULL AND (xid, seq) > ($1::text::xid8, $2)
                   AND xid < $3::text::xid8
                 ORDER BY xid, seq LIMIT $4",
            )
            .await?;
        let rest = limit - rows.len() as i64;
        rows.extend(
            client
                .query(&stmt, &[&from_xid, &from_seq, &horizon, &rest])
                .await?,
        );
    }
    let Some(last) = rows.last() else {
        return Ok(0);
    };
    let (last_seq, last_xid): (i64, String) = (last.get(0), last.get(3));
    let (events, mut set_aside) = parse_rows(&rows);
    let fold_write = |range: std::ops::Range<usize>| {
        let events = &events[range];
        async move {
            let delta = fold(events, config);
            write(client, &delta).await?;
            Ok(delta.set_aside)
        }
    };
    set_aside.extend(write_guarded(client, &events, fold_write).await?);
    quarantine(client, Fold::Activity, &set_aside).await?;
    client
        .execute(
            "UPDATE activity_progress SET xid = $1::text::xid8, seq = $2 WHERE id = 1",
            &[&last_xid, &last_seq],
        )
        .await?;
    Ok(rows.len())
}

/// Adds a batch's sums to the rollup: the days it touches are read in one statement and written
/// back in one, the deliveries added in one.
async fn write(client: &impl GenericClient, delta: &ActivityDelta) -> Result<()> {
    let days = delta.days_sorted();
    if !days.is_empty() {
        let day_keys: Vec<i64> = days.iter().map(|((d, _), _)| *d).collect();
        let channels: Vec<i64> = days.iter().map(|((_, c), _)| c.code()).collect();
        let existing = client
            .query(
                "SELECT a.day, a.channel, a.counts FROM activity_days a
                 JOIN unnest($1::bigint[], $2::bigint[]) AS k (day, channel)
                   ON a.day = k.day AND a.channel = k.channel",
                &[&day_keys, &channels],
            )
            .await?;
        let mut before: HashMap<(i64, i64), Counts> = HashMap::with_capacity(existing.len());
        for r in &existing {
            let counts: Counts =
                serde_json::from_str(r.get(2)).map_err(|e| corrupt("activity_days.counts", e))?;
            before.insert((r.get(0), r.get(1)), counts);
        }
        let mut texts = Vec::with_capacity(days.len());
        for ((day, channel), add) in &days {
            let mut counts = before.remove(&(*day, channel.code())).unwrap_or_default();
            counts.add(add);
            finite_counts("activity_days", &counts)?;
            texts.push(
                serde_json::to_string(&counts).map_err(|e| corrupt("activity_days.counts", e))?,
            );
        }
        client
            .execute(
                "INSERT INTO activity_days (day, channel, counts)
                 SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[])
                 ON CONFLICT (day, channel) DO UPDATE SET counts = excluded.counts",
                &[&day_keys, &channels, &texts],
            )
            .await?;
    }
    let content = delta.content_sorted();
    if !content.is_empty() {
        let ids: Vec<&str> = content.iter().map(|((c, _), _)| c.as_str()).collect();
        let keys: Vec<&str> = content.iter().map(|((_, k), _)| k.as_str()).collect();
        let existing = client
            .query(
                "SELECT a.content_id, a.key_message, a.counts FROM activity_content a
                 JOIN unnest($1::text[], $2::text[]) AS k (content_id, key_message)
                   ON a.content_id = k.content_id AND a.key_message = k.key_message",
                &[&ids, &keys],
            )
            .await?;
        let mut before: HashMap<(String, String), Counts> = HashMap::with_capacity(existing.len());
        for r in &existing {
            let counts: Counts = serde_json::from_str(r.get(2))
                .map_err(|e| corrupt("activity_content.counts", e))?;
            before.insert((r.get(0), r.get(1)), counts);
        }
        let mut texts = Vec::with_capacity(content.len());
        for (key, add) in &content {
            let mut counts = before.remove(key).unwrap_or_default();
            counts.add(add);
            finite_counts("activity_content", &counts)?;
            texts.push(
                serde_json::to_string(&counts)
                    .map_err(|e| corrupt("activity_content.counts", e))?,
            );
        }
        client
            .execute(
                "INSERT INTO activity_content (content_id, key_message, counts)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
                 ON CONFLICT (content_id, key_message) DO UPDATE SET counts = excluded.counts",
                &[&ids, &keys, &texts],
            )
            .await?;
    }
    let reach = delta.reach_sorted();
    if !reach.is_empty() {
        let weeks: Vec<i64> = reach.iter().map(|((w, _), _)| *w).collect();
        let hcps: Vec<i64> = reach.iter().map(|((_, h), _)| *h).collect();
        let delivered: Vec<i64> = reach.iter().map(|(_, (n, _))| *n as i64).collect();
        let engaged: Vec<i64> = reach.iter().map(|(_, (_, e))| *e as i64).collect();
        client
            .execute(
                "INSERT INTO activity_reach (week, hcp_key, delivered, engaged)
                 SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[])
                 ON CONFLICT (week, hcp_key)
                 DO UPDATE SET delivered = activity_reach.delivered + excluded.delivered,
                    engaged = activity_reach.engaged + excluded.engaged",
                &[&weeks, &hcps, &delivered, &engaged],
            )
            .await?;
    }
    Ok(())
}

/// After `openclm copy`: the copied rollup holds the source's events up to `folded_upto`, and
/// every copied event carries the copying transaction's id, so the cursor goes to that
/// transaction and that seq; the copied events after it are folded as any others.
pub(super) async fn continue_after_copy(
    client: &impl GenericClient,
    folded_upto: i64,
) -> Result<()> {
    client
        .execute(
            "UPDATE activity_progress SET xid = pg_current_xact_id(), seq = $1, legacy_upto = 0
             WHERE id = 1",
            &[&folded_upto],
        )
        .await?;
    Ok(())
}

/// The rollup over `from_day..=to_day`; `client` should see one snapshot.
pub(super) async fn read(
    client: &impl GenericClient,
    from_day: i64,
    to_day: i64,
) -> Result<Activity> {
    let Some((first, last)) = weeks_of(from_day, to_day)? else {
        return Ok(Activity::default());
    };
    let stmt = client
        .prepare_cached(
            "SELECT day, channel, counts FROM activity_days WHERE day BETWEEN $1 AND $2
             ORDER BY day, channel",
        )
        .await?;
    let days = client
        .query(&stmt, &[&from_day, &to_day])
        .await?
        .iter()
        .map(|r| {
            let channel: i64 = r.get(1);
            Ok(ActivityDay {
                day: r.get(0),
                channel: Channel::from_code(channel)
                    .ok_or_else(|| corrupt("activity_days.channel", channel))?,
                counts: serde_json::from_str(r.get(2))
                    .map_err(|e| corrupt("activity_days.counts", e))?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let stmt = client
        .prepare_cached(
            "SELECT week, count(*) FILTER (WHERE delivered > 0), sum(delivered)::bigint,
                count(*) FILTER (WHERE delivered > 0 AND engaged > 0)
             FROM activity_reach WHERE week BETWEEN $1 AND $2 GROUP BY week ORDER BY week",
        )
        .await?;
    let weeks: Vec<(i64, u64, u64, u64)> = client
        .query(&stmt, &[&first, &last])
        .await?
        .iter()
        .map(|r| {
            (
                r.get(0),
                r.get::<_, i64>(1) as u64,
                r.get::<_, i64>(2) as u64,
                r.get::<_, i64>(3) as u64,
            )
        })
        .collect();
    let stmt = client
        .prepare_cached(
            "SELECT count(DISTINCT hcp_key) FILTER (WHERE delivered > 0),
                count(DISTINCT hcp_key) FILTER (WHERE delivered > 0 AND engaged > 0)
             FROM activity_reach WHERE week BETWEEN $1 AND $2",
        )
        .await?;
    let row = client.query_one(&stmt, &[&first, &last]).await?;
    let (reached, engaged): (i64, i64) = (row.get(0), row.get(1));
    Ok(assemble(
        days,
        (first, last),
        &weeks,
        (reached as u64, engaged as u64),
    ))
}

/// The content rollup, of one item or all.
pub(super) async fn read_content(
    client: &impl GenericClient,
    content_id: Option<&str>,
) -> Result<Vec<crate::ContentActivity>> {
    let stmt = client
        .prepare_cached(
            "SELECT content_id, key_message, counts FROM activity_content
             WHERE $1::text IS NULL OR content_id = $1 ORDER BY content_id, key_message",
        )
        .await?;
    client
        .query(&stmt, &[&content_id])
        .await?
        .iter()
        .map(|r| crate::activity::content_row(r.get(0), r.get(1), r.get(2)))
        .collect()
}

/// Keeps a simulation run, replacing one recorded under the same id.
pub(super) async fn record_simulation(
    client: &impl GenericClient,
    run: &SimulationRun,
) -> Result<()> {
    let body = serde_json::to_string(&run.body).map_err(|e| corrupt("simulation_runs.body", e))?;
    client
        .execute(
            "INSERT INTO simulation_runs (run_id, ran_at, body) VALUES ($1, $2, $3)
             ON CONFLICT (run_id) DO UPDATE SET ran_at = excluded.ran_at, body = excluded.body",
            &[&run.run_id, &run.ran_at.millis(), &body],
        )
        .await?;
    Ok(())
}

/// The latest simulation run, by time, then id.
pub(super) async fn last_simulation(client: &impl GenericClient) -> Result<Option<SimulationRun>> {
    client
        .query_opt(
            "SELECT run_id, ran_at, body FROM simulation_runs
             ORDER BY ran_at DESC, run_id DESC LIMIT 1",
            &[],
        )
        .await?
        .map(|r| {
            Ok(SimulationRun {
                run_id: r.get(0),
                ran_at: Timestamp::from_millis(r.get(1)),
                body: serde_json::from_str(r.get(2))
                    .map_err(|e| corrupt("simulation_runs.body", e))?,
            })
        })
        .transpose()
}
