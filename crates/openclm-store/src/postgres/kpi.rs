//! Campaign KPIs in PostgreSQL: events folded in the order of the transactions that stored them,
//! up to the oldest transaction still running (whose events, and those of any later one, may not
//! be visible yet), one node at a time; and the sums read back.

use std::collections::HashMap;
use std::future::Future;
use std::ops::Range;

use deadpool_postgres::GenericClient;
use openclm_core::measure::kpi::Counts;
use openclm_core::state::StateConfig;
use openclm_core::{Channel, Timestamp};

use super::corrupt;
use crate::kpi::{
    CampaignDecision, FoldContext, FoldOutput, GuardedWrite, MemberDelta, MemberTotals,
    MomentDelta, SetAside, SliceKey, Stored, finite_counts, live,
};
use crate::{
    Fold, GroupMoments, KpiFilter, MAX_QUARANTINE_LIST, QuarantinedEvent, Result, SliceRow,
};

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
    // Plan each read with its values: a generic plan cannot see that the cursor leaves only the
    // index's tail to read.
    client
        .batch_execute("SET LOCAL plan_cache_mode = force_custom_plan")
        .await?;
    // The cursor and the horizon as values, so that the read is a range of the (xid, seq)
    // index, not a filter over every event folded before.
    let cursor = client
        .query_one(
            "SELECT xid::text, seq, pg_snapshot_xmin(pg_current_snapshot())::text
             FROM kpi_progress WHERE id = 1",
            &[],
        )
        .await?;
    let (from_xid, from_seq, horizon): (String, i64, String) =
        (cursor.get(0), cursor.get(1), cursor.get(2));
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
                       WHERE xid IS NOT NULL AND xid < $1::text::xid8
                       ORDER BY xid DESC, seq DESC LIMIT 1) l
                 WHERE p.id = 1 AND (l.xid, l.seq) > (p.xid, p.seq)",
                &[&horizon],
            )
            .await?;
        return Ok(0);
    }
    let mut context = FoldContext::new(live(super::campaign::list(client).await?, &runs));
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
    let rows = client
        .query(&stmt, &[&from_xid, &from_seq, &horizon, &(batch as i64)])
        .await?;
    let Some(last) = rows.last() else {
        return Ok(0);
    };
    let (last_seq, last_xid): (i64, String) = (last.get(0), last.get(3));
    let (events, mut set_aside) = parse_rows(&rows);
    let keys = FoldContext::hcp_keys(&events);
    context.members = client
        .query(
            "SELECT campaign_id, hcp_key, grp FROM campaign_members WHERE hcp_key = ANY($1)",
            &[&keys],
        )
        .await?
        .iter()
        .map(|r| ((r.get(0), r.get(1)), r.get(2)))
        .collect();
    context.decisions = client
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
    context.segments = client
        .query(
            "SELECT hcp_key, specialty, country FROM hcps WHERE hcp_key = ANY($1)",
            &[&keys],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect();
    for r in client
        .query(
            "SELECT m.campaign_id, m.hcp_key, m.wave, w.ran_at FROM campaign_wave_members m
             JOIN campaign_waves w ON w.campaign_id = m.campaign_id AND w.wave = m.wave
             WHERE m.hcp_key = ANY($1) ORDER BY w.ran_at, m.wave",
            &[&keys],
        )
        .await?
    {
        context.add_wave(r.get(0), r.get(1), r.get(2), r.get(3));
    }
    let write = |range: Range<usize>| {
        let out = context.fold(&events[range], config);
        write_output(client, out)
    };
    set_aside.extend(write_guarded(client, &events, write).await?);
    quarantine(client, Fold::CampaignKpis, &set_aside).await?;
    client
        .execute(
            "UPDATE kpi_progress SET xid = $1::text::xid8, seq = $2 WHERE id = 1",
            &[&last_xid, &last_seq],
        )
        .await?;
    Ok(rows.len())
}

/// The events of a fold's rows (seq, hcp_key, payload first): those that parse, and those to
/// set aside.
pub(super) fn parse_rows(rows: &[tokio_postgres::Row]) -> (Vec<Stored>, Vec<SetAside>) {
    let mut events = Vec::with_capacity(rows.len());
    let mut set_aside = Vec::new();
    for row in rows {
        match Stored::parse(row.get(0), row.get(1), row.get(2)) {
            Ok(stored) => events.push(stored),
            Err(aside) => set_aside.push(aside),
        }
    }
    (events, set_aside)
}

/// Adds one fold's output to the KPI tables; returns the events it left out.
async fn write_output(client: &impl GenericClient, out: FoldOutput) -> Result<Vec<SetAside>> {
    write_slices(client, out.slices).await?;
    write_members(client, out.members).await?;
    if !out.waves.is_empty() {
        let mut waves: Vec<_> = out.waves.into_iter().collect();
        waves.sort_by(|a, b| a.0.cmp(&b.0));
        let ids: Vec<&str> = waves.iter().map(|((c, _, _), _)| c.as_str()).collect();
        let numbers: Vec<i64> = waves.iter().map(|((_, w, _), _)| *w).collect();
        let hcps: Vec<i64> = waves.iter().map(|((_, _, h), _)| *h).collect();
        let col = |f: &dyn Fn(&crate::kpi::WaveDelta) -> i64| {
            waves.iter().map(|(_, d)| f(d)).collect::<Vec<_>>()
        };
        let (delivered, opened) = (col(&|d| d.delivered), col(&|d| d.opened));
        let (engaged, responses) = (col(&|d| d.engaged), col(&|d| d.responses));
        let first: Vec<Option<i64>> = waves.iter().map(|(_, d)| d.first_delivered_at).collect();
        client
            .execute(
                "UPDATE campaign_wave_members w SET delivered = w.delivered + d.delivered,
                    opened = w.opened + d.opened, engaged = w.engaged + d.engaged,
                    responses = w.responses + d.responses,
                    first_delivered_at = CASE WHEN d.first IS NULL THEN w.first_delivered_at
                        ELSE LEAST(COALESCE(w.first_delivered_at, d.first), d.first) END
                 FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[],
                             $6::bigint[], $7::bigint[], $8::bigint[])
                      AS d (campaign_id, wave, hcp_key, delivered, opened, engaged, responses,
                            first)
                 WHERE w.campaign_id = d.campaign_id AND w.wave = d.wave
                   AND w.hcp_key = d.hcp_key",
                &[
                    &ids, &numbers, &hcps, &delivered, &opened, &engaged, &responses, &first,
                ],
            )
            .await?;
    }
    Ok(out.set_aside)
}

/// Writes a batch's fold (`write`, given the range of `events` to fold) as [`GuardedWrite`]
/// says: the batch at once, or its events one at a time when a row of it is refused. Returns the
/// events set aside.
pub(super) async fn write_guarded<F, Fut>(
    client: &impl GenericClient,
    events: &[Stored],
    mut write: F,
) -> Result<Vec<SetAside>>
where
    F: FnMut(Range<usize>) -> Fut,
    Fut: Future<Output = Result<Vec<SetAside>>>,
{
    let mut guard = GuardedWrite::new(events);
    while let Some(attempt) = guard.next_attempt() {
        client.batch_execute(attempt.begin()).await?;
        let written = write(guard.range(attempt)).await;
        client.batch_execute(attempt.end(written.is_ok())).await?;
        guard.record(written)?;
    }
    Ok(guard.set_aside())
}

/// Records events a fold set aside (once per fold and event), logging each the first time.
pub(super) async fn quarantine(
    client: &impl GenericClient,
    fold: Fold,
    set_aside: &[SetAside],
) -> Result<()> {
    if set_aside.is_empty() {
        return Ok(());
    }
    let seqs: Vec<i64> = set_aside.iter().map(|s| s.seq).collect();
    let ids: Vec<Option<&str>> = set_aside.iter().map(|s| s.event_id.as_deref()).collect();
    let reasons: Vec<&str> = set_aside.iter().map(|s| s.reason.as_str()).collect();
    let added = client
        .query(
            "INSERT INTO fold_quarantine (fold, seq, event_id, reason)
             SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[])
             ON CONFLICT (fold, seq) DO NOTHING RETURNING seq",
            &[&fold.as_str(), &seqs, &ids, &reasons],
        )
        .await?;
    for row in added {
        let seq: i64 = row.get(0);
        tracing::warn!(
            fold = fold.as_str(),
            seq,
            "a stored event was set aside instead of counted (see `openclm quarantine`)"
        );
    }
    Ok(())
}

/// The events the folds set aside, newest first.
pub(super) async fn quarantined(
    client: &impl GenericClient,
    limit: usize,
) -> Result<Vec<QuarantinedEvent>> {
    let limit = limit.min(MAX_QUARANTINE_LIST) as i64;
    client
        .query(
            "SELECT fold, seq, event_id, reason, quarantined_at FROM fold_quarantine
             ORDER BY quarantined_at DESC, seq DESC, fold LIMIT $1",
            &[&limit],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(QuarantinedEvent {
                fold: Fold::from_stored(r.get(0))?,
                seq: r.get(1),
                event_id: r.get(2),
                reason: r.get(3),
                quarantined_at: Timestamp::from_millis(r.get(4)),
            })
        })
        .collect()
}

/// Adds the batch's counts to their slices: every slice the batch touches is read in one
/// statement and written back in one.
async fn write_slices(
    client: &impl GenericClient,
    slices: HashMap<SliceKey, Counts>,
) -> Result<()> {
    if slices.is_empty() {
        return Ok(());
    }
    let mut slices: Vec<(SliceKey, Counts)> = slices.into_iter().collect();
    slices.sort_by(|a, b| a.0.cmp(&b.0));
    let col =
        |f: &dyn Fn(&SliceKey) -> String| slices.iter().map(|(k, _)| f(k)).collect::<Vec<_>>();
    let ids = col(&|k| k.campaign_id.clone());
    let contents = col(&|k| k.content_id.clone());
    let specialties = col(&|k| k.specialty.clone());
    let countries = col(&|k| k.country.clone());
    let days: Vec<i64> = slices.iter().map(|(k, _)| k.day).collect();
    let groups: Vec<i64> = slices.iter().map(|(k, _)| k.group).collect();
    let waves: Vec<i64> = slices.iter().map(|(k, _)| k.wave).collect();
    let channels: Vec<i64> = slices.iter().map(|(k, _)| k.channel.code()).collect();
    let existing = client
        .query(
            "SELECT s.campaign_id, s.day, s.grp, s.wave, s.channel, s.content_id, s.specialty,
                s.country, s.counts
             FROM campaign_slices s
             JOIN unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[],
                         $6::text[], $7::text[], $8::text[])
                  AS k (campaign_id, day, grp, wave, channel, content_id, specialty, country)
               ON s.campaign_id = k.campaign_id AND s.day = k.day AND s.grp = k.grp
              AND s.wave = k.wave AND s.channel = k.channel AND s.content_id = k.content_id
              AND s.specialty = k.specialty AND s.country = k.country",
            &[
                &ids,
                &days,
                &groups,
                &waves,
                &channels,
                &contents,
                &specialties,
                &countries,
            ],
        )
        .await?;
    let mut before: HashMap<SliceKey, Counts> = HashMap::with_capacity(existing.len());
    for r in &existing {
        let channel: i64 = r.get(4);
        let key = SliceKey {
            campaign_id: r.get(0),
            day: r.get(1),
            group: r.get(2),
            wave: r.get(3),
            channel: Channel::from_code(channel)
                .ok_or_else(|| corrupt("campaign_slices.channel", channel))?,
            content_id: r.get(5),
            specialty: r.get(6),
            country: r.get(7),
        };
        let counts: Counts =
            serde_json::from_str(r.get(8)).map_err(|e| corrupt("campaign_slices.counts", e))?;
        before.insert(key, counts);
    }
    let mut texts = Vec::with_capacity(slices.len());
    for (key, add) in &slices {
        let mut counts = before.remove(key).unwrap_or_default();
        counts.add(add);
        finite_counts("campaign_slices", &counts)?;
        texts.push(
            serde_json::to_string(&counts).map_err(|e| corrupt("campaign_slices.counts", e))?,
        );
    }
    client
        .execute(
            "INSERT INTO campaign_slices (campaign_id, day, grp, wave, channel, content_id,
                specialty, country, counts)
             SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[],
                                  $5::bigint[], $6::text[], $7::text[], $8::text[], $9::text[])
             ON CONFLICT (campaign_id, day, grp, wave, channel, content_id, specialty, country)
             DO UPDATE SET counts = excluded.counts",
            &[
                &ids,
                &days,
                &groups,
                &waves,
                &channels,
                &contents,
                &specialties,
                &countries,
                &texts,
            ],
        )
        .await?;
    Ok(())
}

/// Adds the batch's deltas to each member's totals and their group's sums: the members are read
/// in one statement and written back in one.
async fn write_members(
    client: &impl GenericClient,
    members: HashMap<(String, i64), MemberDelta>,
) -> Result<()> {
    if members.is_empty() {
        return Ok(());
    }
    let mut members: Vec<((String, i64), MemberDelta)> = members.into_iter().collect();
    members.sort_by(|a, b| a.0.cmp(&b.0));
    let ids: Vec<&str> = members.iter().map(|((c, _), _)| c.as_str()).collect();
    let hcps: Vec<i64> = members.iter().map(|((_, h), _)| *h).collect();
    let existing = client
        .query(
            "SELECT m.campaign_id, m.hcp_key, m.touches, m.delivered, m.opened, m.engaged,
                m.responses, m.outcome_units, m.first_delivered_at, m.first_response_at
             FROM campaign_hcp m
             JOIN unnest($1::text[], $2::bigint[]) AS k (campaign_id, hcp_key)
               ON m.campaign_id = k.campaign_id AND m.hcp_key = k.hcp_key",
            &[&ids, &hcps],
        )
        .await?;
    let before: HashMap<(String, i64), MemberTotals> = existing
        .iter()
        .map(|r| {
            (
                (r.get(0), r.get(1)),
                MemberTotals {
                    touches: r.get(2),
                    delivered: r.get(3),
                    opened: r.get(4),
                    engaged: r.get(5),
                    responses: r.get(6),
                    outcome_units: r.get(7),
                    first_delivered_at: r.get(8),
                    first_response_at: r.get(9),
                },
            )
        })
        .collect();
    let mut moments: HashMap<(String, i64), MomentDelta> = HashMap::new();
    let mut rows: Vec<(i64, MemberTotals)> = Vec::with_capacity(members.len());
    for (key, delta) in &members {
        let old = before.get(key).copied().unwrap_or_default();
        let new = old.plus(delta);
        new.check_finite()?;
        moments
            .entry((key.0.clone(), delta.group))
            .or_default()
            .add(&MomentDelta::between(&old, &new));
        rows.push((delta.group, new));
    }
    let col = |f: &dyn Fn(&MemberTotals) -> i64| rows.iter().map(|(_, t)| f(t)).collect::<Vec<_>>();
    let groups: Vec<i64> = rows.iter().map(|(g, _)| *g).collect();
    let touches = col(&|t| t.touches);
    let delivered = col(&|t| t.delivered);
    let opened = col(&|t| t.opened);
    let engaged = col(&|t| t.engaged);
    let responses = col(&|t| t.responses);
    let outcome: Vec<f64> = rows.iter().map(|(_, t)| t.outcome_units).collect();
    let first_delivered: Vec<Option<i64>> =
        rows.iter().map(|(_, t)| t.first_delivered_at).collect();
    let first_response: Vec<Option<i64>> = rows.iter().map(|(_, t)| t.first_response_at).collect();
    client
        .execute(
            "INSERT INTO campaign_hcp (campaign_id, hcp_key, grp, touches, delivered, opened,
                engaged, responses, outcome_units, first_delivered_at, first_response_at)
             SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[],
                                  $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[],
                                  $9::float8[], $10::bigint[], $11::bigint[])
             ON CONFLICT (campaign_id, hcp_key) DO UPDATE SET touches = excluded.touches,
                delivered = excluded.delivered, opened = excluded.opened,
                engaged = excluded.engaged, responses = excluded.responses,
                outcome_units = excluded.outcome_units,
                first_delivered_at = excluded.first_delivered_at,
                first_response_at = excluded.first_response_at",
            &[
                &ids,
                &hcps,
                &groups,
                &touches,
                &delivered,
                &opened,
                &engaged,
                &responses,
                &outcome,
                &first_delivered,
                &first_response,
            ],
        )
        .await?;
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
    let mut moments: Vec<_> = moments.into_iter().collect();
    moments.sort_by(|a, b| a.0.cmp(&b.0));
    for ((campaign_id, grp), m) in moments {
        m.check_finite()?;
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
