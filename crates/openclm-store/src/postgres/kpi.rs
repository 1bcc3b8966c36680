//! Campaign KPIs in PostgreSQL: events folded in the order of the transactions that stored them,
//! up to the oldest transaction still running (whose events, and those of any later one, may not
//! be visible yet), one node at a time; and the sums read back.

use std::collections::HashMap;

use deadpool_postgres::GenericClient;
use openclm_core::Channel;
use openclm_core::measure::kpi::Counts;
use openclm_core::state::StateConfig;

use super::corrupt;
use crate::kpi::{
    CampaignDecision, FoldInput, MemberDelta, MemberTotals, MomentDelta, SliceKey, Stored, fold,
    live,
};
use crate::{GroupMoments, KpiFilter, Result, SliceRow};

/// Advisory lock held while folding: one node folds at a time.
const KPI_LOCK: i64 = 0x6f63_6c6d_0003;

/// Folds up to `batch` finished events not yet counted; returns how many it read.
pub(super) async fn fold_pending(
    client: &impl GenericClient,
    config: &StateConfig,
    batch: usize,
) -> Result<usize> {
    client
        .execute("SELECT pg_advisory_xact_lock($1)", &[&KPI_LOCK])
        .await?;
    let runs: HashMap<String, (i64, i64)> = client
        .query(
            "SELECT campaign_id, min(ran_at), max(ran_at) FROM campaign_waves GROUP BY campaign_id",
            &[],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect();
    if runs.is_empty() {
        // No campaign measures anything yet: nothing finished so far can count.
        client
            .execute(
                "UPDATE kpi_progress p SET xid = l.xid, seq = l.seq
                 FROM (SELECT xid, seq FROM events
                       WHERE xid IS NOT NULL AND xid < pg_snapshot_xmin(pg_current_snapshot())
                       ORDER BY xid DESC, seq DESC LIMIT 1) l
                 WHERE p.id = 1 AND (l.xid, l.seq) > (p.xid, p.seq)",
                &[],
            )
            .await?;
        return Ok(0);
    }
    let campaigns = super::campaign::list(client).await?;
    let live = live(campaigns, &runs);
    let stmt = client
        .prepare_cached(
            "SELECT e.seq, e.hcp_key, e.payload, e.xid::text
             FROM events e, kpi_progress p
             WHERE p.id = 1 AND e.xid IS NOT NULL AND (e.xid, e.seq) > (p.xid, p.seq)
               AND e.xid < pg_snapshot_xmin(pg_current_snapshot())
             ORDER BY e.xid, e.seq LIMIT $1",
        )
        .await?;
    let rows = client.query(&stmt, &[&(batch as i64)]).await?;
    let Some(last) = rows.last() else {
        return Ok(0);
    };
    let (last_seq, last_xid): (i64, String) = (last.get(0), last.get(3));
    let events: Vec<Stored> = rows
        .iter()
        .filter_map(|row| Stored::parse(row.get(0), row.get(1), row.get(2)))
        .collect();
    let mut keys: Vec<i64> = events.iter().map(|e| e.hcp_key).collect();
    keys.sort_unstable();
    keys.dedup();
    let members: HashMap<(String, i64), i64> = client
        .query(
            "SELECT campaign_id, hcp_key, grp FROM campaign_members WHERE hcp_key = ANY($1)",
            &[&keys],
        )
        .await?
        .iter()
        .map(|r| ((r.get(0), r.get(1)), r.get(2)))
        .collect();
    let decisions: Vec<CampaignDecision> = client
        .query(
            "SELECT decision_id, hcp_key, campaign_id, campaign_wave, campaign_arm,
                chosen_content, chosen_channel, made_at, delivered_at
             FROM decisions WHERE campaign_id IS NOT NULL AND hcp_key = ANY($1)",
            &[&keys],
        )
        .await?
        .iter()
        .map(|r| CampaignDecision {
            decision_id: r.get(0),
            hcp_key: r.get(1),
            campaign_id: r.get(2),
            wave: r.get(3),
            arm: r.get(4),
            content: r.get(5),
            channel: r
                .get::<_, Option<i16>>(6)
                .and_then(|c| Channel::from_code(c.into())),
            made_at: r.get(7),
            delivered_at: r.get(8),
        })
        .collect();
    let segments: HashMap<i64, (String, String)> = client
        .query(
            "SELECT hcp_key, specialty, country FROM hcps WHERE hcp_key = ANY($1)",
            &[&keys],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect();
    let mut waves: HashMap<(String, i64), Vec<(i64, i64)>> = HashMap::new();
    for r in client
        .query(
            "SELECT m.campaign_id, m.hcp_key, m.wave, w.ran_at FROM campaign_wave_members m
             JOIN campaign_waves w ON w.campaign_id = m.campaign_id AND w.wave = m.wave
             WHERE m.hcp_key = ANY($1) ORDER BY w.ran_at, m.wave",
            &[&keys],
        )
        .await?
    {
        waves
            .entry((r.get(0), r.get(1)))
            .or_default()
            .push((r.get(2), r.get(3)));
    }
    let out = fold(
        &FoldInput {
            events: &events,
            live: &live,
            members: &members,
            decisions: &decisions,
            segments: &segments,
            waves: &waves,
        },
        config,
    );
    write_slices(client, out.slices).await?;
    write_members(client, out.members).await?;
    let add = client
        .prepare_cached(
            "UPDATE campaign_wave_members SET delivered = delivered + $4, opened = opened + $5,
                engaged = engaged + $6, responses = responses + $7,
                first_delivered_at = CASE WHEN $8::bigint IS NULL THEN first_delivered_at
                    ELSE LEAST(COALESCE(first_delivered_at, $8), $8) END
             WHERE campaign_id = $1 AND wave = $2 AND hcp_key = $3",
        )
        .await?;
    let mut waves: Vec<_> = out.waves.into_iter().collect();
    waves.sort_by(|a, b| a.0.cmp(&b.0));
    for ((campaign, wave, hcp), d) in waves {
        client
            .execute(
                &add,
                &[
                    &campaign,
                    &wave,
                    &hcp,
                    &d.delivered,
                    &d.opened,
                    &d.engaged,
                    &d.responses,
                    &d.first_delivered_at,
                ],
            )
            .await?;
    }
    client
        .execute(
            "UPDATE kpi_progress SET xid = $1::text::xid8, seq = $2 WHERE id = 1",
            &[&last_xid, &last_seq],
        )
        .await?;
    Ok(rows.len())
}

async fn write_slices(
    client: &impl GenericClient,
    slices: HashMap<SliceKey, Counts>,
) -> Result<()> {
    let read = client
        .prepare_cached(
            "SELECT counts FROM campaign_slices WHERE campaign_id = $1 AND day = $2 AND grp = $3
                AND wave = $4 AND channel = $5 AND content_id = $6 AND specialty = $7
                AND country = $8",
        )
        .await?;
    let write = client
        .prepare_cached(
            "INSERT INTO campaign_slices (campaign_id, day, grp, wave, channel, content_id,
                specialty, country, counts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (campaign_id, day, grp, wave, channel, content_id, specialty, country)
             DO UPDATE SET counts = excluded.counts",
        )
        .await?;
    // In key order, so that no two folds could ever wait on each other's rows.
    let mut slices: Vec<(SliceKey, Counts)> = slices.into_iter().collect();
    slices.sort_by(|a, b| a.0.cmp(&b.0));
    for (k, add) in slices {
        let channel = k.channel.code();
        let key: [&(dyn tokio_postgres::types::ToSql + Sync); 8] = [
            &k.campaign_id,
            &k.day,
            &k.group,
            &k.wave,
            &channel,
            &k.content_id,
            &k.specialty,
            &k.country,
        ];
        let mut counts: Counts = match client.query_opt(&read, &key).await? {
            Some(row) => serde_json::from_str(row.get(0))
                .map_err(|e| corrupt("campaign_slices.counts", e))?,
            None => Counts::default(),
        };
        counts.add(&add);
        let text =
            serde_json::to_string(&counts).map_err(|e| corrupt("campaign_slices.counts", e))?;
        let mut values: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = key.to_vec();
        values.push(&text);
        client.execute(&write, &values).await?;
    }
    Ok(())
}

async fn write_members(
    client: &impl GenericClient,
    members: HashMap<(String, i64), MemberDelta>,
) -> Result<()> {
    let read = client
        .prepare_cached(
            "SELECT touches, delivered, opened, engaged, responses, outcome_units,
                first_delivered_at, first_response_at
             FROM campaign_hcp WHERE campaign_id = $1 AND hcp_key = $2",
        )
        .await?;
    let write = client
        .prepare_cached(
            "INSERT INTO campaign_hcp (campaign_id, hcp_key, grp, touches, delivered, opened,
                engaged, responses, outcome_units, first_delivered_at, first_response_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (campaign_id, hcp_key) DO UPDATE SET touches = excluded.touches,
                delivered = excluded.delivered, opened = excluded.opened,
                engaged = excluded.engaged, responses = excluded.responses,
                outcome_units = excluded.outcome_units,
                first_delivered_at = excluded.first_delivered_at,
                first_response_at = excluded.first_response_at",
        )
        .await?;
    let mut members: Vec<((String, i64), MemberDelta)> = members.into_iter().collect();
    members.sort_by(|a, b| a.0.cmp(&b.0));
    let mut moments: HashMap<(String, i64), MomentDelta> = HashMap::new();
    for ((campaign_id, hcp_key), delta) in members {
        let old = client
            .query_opt(&read, &[&campaign_id, &hcp_key])
            .await?
            .map(|r| MemberTotals {
                touches: r.get(0),
                delivered: r.get(1),
                opened: r.get(2),
                engaged: r.get(3),
                responses: r.get(4),
                outcome_units: r.get(5),
                first_delivered_at: r.get(6),
                first_response_at: r.get(7),
            })
            .unwrap_or_default();
        let new = old.plus(&delta);
        client
            .execute(
                &write,
                &[
                    &campaign_id,
                    &hcp_key,
                    &delta.group,
                    &new.touches,
                    &new.delivered,
                    &new.opened,
                    &new.engaged,
                    &new.responses,
                    &new.outcome_units,
                    &new.first_delivered_at,
                    &new.first_response_at,
                ],
            )
            .await?;
        moments
            .entry((campaign_id, delta.group))
            .or_default()
            .add(&MomentDelta::between(&old, &new));
    }
    let add = client
        .prepare_cached(
            "INSERT INTO campaign_group_moments (campaign_id, grp, reached, responders, responses,
                responses_sq, outcome, outcome_sq, touches)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (campaign_id, grp) DO UPDATE SET
                reached = campaign_group_moments.reached + excluded.reached,
                responders = campaign_group_moments.responders + excluded.responders,
                responses = campaign_group_moments.responses + excluded.responses,
                responses_sq = campaign_group_moments.responses_sq + excluded.responses_sq,
                outcome = campaign_group_moments.outcome + excluded.outcome,
                outcome_sq = campaign_group_moments.outcome_sq + excluded.outcome_sq,
                touches = campaign_group_moments.touches + excluded.touches",
        )
        .await?;
    for ((campaign_id, grp), m) in moments {
        client
            .execute(
                &add,
                &[
                    &campaign_id,
                    &grp,
                    &m.reached,
                    &m.responders,
                    &m.responses,
                    &m.responses_sq,
                    &m.outcome,
                    &m.outcome_sq,
                    &m.touches,
                ],
            )
            .await?;
    }
    Ok(())
}

pub(super) async fn slices(
    client: &impl GenericClient,
    filter: &KpiFilter,
) -> Result<Vec<SliceRow>> {
    let stmt = client
        .prepare_cached(
            "SELECT day, grp, wave, channel, content_id, specialty, country, counts
             FROM campaign_slices
             WHERE campaign_id = $1 AND ($2::bigint IS NULL OR day >= $2)
               AND ($3::bigint IS NULL OR day < $3)",
        )
        .await?;
    client
        .query(
            &stmt,
            &[&filter.campaign_id, &filter.from_day, &filter.until_day],
        )
        .await?
        .iter()
        .map(|r| {
            let channel: i64 = r.get(3);
            Ok(SliceRow {
                day: r.get(0),
                group: r.get(1),
                wave: r.get(2),
                channel: Channel::from_code(channel)
                    .ok_or_else(|| corrupt("campaign_slices.channel", channel))?,
                content_id: r.get(4),
                specialty: r.get(5),
                country: r.get(6),
                counts: serde_json::from_str(r.get(7))
                    .map_err(|e| corrupt("campaign_slices.counts", e))?,
            })
        })
        .collect()
}

pub(super) async fn moments(
    client: &impl GenericClient,
    campaign_id: &str,
) -> Result<Vec<GroupMoments>> {
    let sizes = super::campaign::groups(client, campaign_id).await?;
    let stmt = client
        .prepare_cached(
            "SELECT reached, responders, responses, responses_sq, outcome, outcome_sq, touches
             FROM campaign_group_moments WHERE campaign_id = $1 AND grp = $2",
        )
        .await?;
    let mut out = Vec::with_capacity(sizes.len());
    for (group, members) in sizes {
        let found = client.query_opt(&stmt, &[&campaign_id, &group]).await?;
        out.push(match found {
            Some(r) => GroupMoments {
                group,
                members,
                reached: r.get::<_, i64>(0) as u64,
                responders: r.get::<_, i64>(1) as u64,
                responses: r.get(2),
                responses_sq: r.get(3),
                outcome: r.get(4),
                outcome_sq: r.get(5),
                touches: r.get::<_, i64>(6) as u64,
            },
            None => GroupMoments {
                group,
                members,
                ..GroupMoments::default()
            },
        });
    }
    Ok(out)
}
