//! Campaigns, their waves and members in PostgreSQL.

use deadpool_postgres::GenericClient;
use openclm_core::campaign::Campaign;
use openclm_core::{Channel, Timestamp};

use super::corrupt;
use super::suggest::insert_decisions;
use crate::{NewWave, Result, Upserted, WaveMember, WaveMemberRow, WaveRecord};

fn definition(text: &str) -> Result<Campaign> {
    serde_json::from_str(text).map_err(|e| corrupt("campaigns.definition", e))
}

pub(super) async fn put(
    client: &impl GenericClient,
    campaign: &Campaign,
    now: Timestamp,
) -> Result<Upserted> {
    let text = serde_json::to_string(campaign).map_err(|e| corrupt("campaign", e))?;
    let stmt = client
        .prepare_cached(
            "INSERT INTO campaigns (campaign_id, definition, created_at, updated_at)
             VALUES ($1, $2, $3, $3)
             ON CONFLICT (campaign_id) DO UPDATE SET definition = excluded.definition,
                updated_at = excluded.updated_at
             RETURNING (xmax = 0) AS inserted",
        )
        .await?;
    let inserted: bool = client
        .query_one(&stmt, &[&campaign.id, &text, &now.millis()])
        .await?
        .get(0);
    Ok(if inserted {
        Upserted::Created
    } else {
        Upserted::Updated
    })
}

pub(super) async fn get(
    client: &impl GenericClient,
    campaign_id: &str,
) -> Result<Option<Campaign>> {
    let stmt = client
        .prepare_cached("SELECT definition FROM campaigns WHERE campaign_id = $1")
        .await?;
    client
        .query_opt(&stmt, &[&campaign_id])
        .await?
        .map(|r| definition(r.get(0)))
        .transpose()
}

pub(super) async fn list(client: &impl GenericClient) -> Result<Vec<Campaign>> {
    let stmt = client
        .prepare_cached("SELECT definition FROM campaigns ORDER BY campaign_id")
        .await?;
    client
        .query(&stmt, &[])
        .await?
        .iter()
        .map(|r| definition(r.get(0)))
        .collect()
}

fn record(campaign_id: &str, row: &tokio_postgres::Row) -> Result<WaveRecord> {
    let wave: i64 = row.get(0);
    Ok(WaveRecord {
        campaign_id: campaign_id.to_owned(),
        wave: wave as u32,
        ran_at: Timestamp::from_millis(row.get(1)),
        summary: serde_json::from_str(row.get(2))
            .map_err(|e| corrupt("campaign_waves.summary", e))?,
    })
}

/// Claims the wave with its row; a wave claimed at the same moment by another node makes this
/// insert wait for it and then do nothing.
pub(super) async fn save_wave(
    client: &deadpool_postgres::Transaction<'_>,
    wave: &NewWave,
) -> Result<(WaveRecord, bool)> {
    let claim = client
        .prepare_cached(
            "INSERT INTO campaign_waves (campaign_id, wave, ran_at, summary)
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .await?;
    let claimed = client
        .execute(
            &claim,
            &[
                &wave.campaign_id,
                &i64::from(wave.wave),
                &wave.ran_at.millis(),
                &wave.summary.to_string(),
            ],
        )
        .await?
        == 1;
    if claimed {
        let (ids, groups): (Vec<&str>, Vec<i64>) =
            wave.members.iter().map(|(h, g)| (h.as_str(), *g)).unzip();
        let members = client
            .prepare_cached(
                "INSERT INTO campaign_members (campaign_id, hcp_key, grp, first_wave)
                 SELECT $1, h.hcp_key, m.grp, $4
                 FROM unnest($2::text[], $3::bigint[]) AS m (id, grp)
                 JOIN hcps h ON h.id = m.id
                 ORDER BY h.hcp_key
                 ON CONFLICT DO NOTHING",
            )
            .await?;
        client
            .execute(
                &members,
                &[&wave.campaign_id, &ids, &groups, &i64::from(wave.wave)],
            )
            .await?;
        let treated = client
            .prepare_cached(
                "INSERT INTO campaign_wave_members (campaign_id, wave, hcp_key, grp, decision_id,
                    channel, content_id, blocked)
                 SELECT $1, $2, hcp_key, $4, $5, $6, $7, $8 FROM hcps WHERE id = $3
                 ON CONFLICT DO NOTHING",
            )
            .await?;
        for m in &wave.treated {
            client
                .execute(
                    &treated,
                    &[
                        &wave.campaign_id,
                        &i64::from(wave.wave),
                        &m.hcp_id,
                        &m.group,
                        &m.decision_id,
                        &m.channel.map(|c| c.code()),
                        &m.content_id,
                        &m.blocked,
                    ],
                )
                .await?;
        }
        let logged = insert_decisions(client, &wave.decisions).await?;
        super::governance::record_sends(client, &wave.decisions, &logged).await?;
        super::delivery::enqueue(client, &wave.decisions, &logged).await?;
    }
    let stmt = client
        .prepare_cached(
            "SELECT wave, ran_at, summary FROM campaign_waves WHERE campaign_id = $1 AND wave = $2",
        )
        .await?;
    let row = client
        .query_one(&stmt, &[&wave.campaign_id, &i64::from(wave.wave)])
        .await?;
    Ok((record(&wave.campaign_id, &row)?, claimed))
}

pub(super) async fn list_waves(
    client: &impl GenericClient,
    campaign_id: &str,
) -> Result<Vec<WaveRecord>> {
    let stmt = client
        .prepare_cached(
            "SELECT wave, ran_at, summary FROM campaign_waves WHERE campaign_id = $1 ORDER BY wave",
        )
        .await?;
    client
        .query(&stmt, &[&campaign_id])
        .await?
        .iter()
        .map(|r| record(campaign_id, r))
        .collect()
}

pub(super) async fn wave_members(
    client: &impl GenericClient,
    campaign_id: &str,
    wave: u32,
) -> Result<Vec<WaveMemberRow>> {
    let stmt = client
        .prepare_cached(
            "SELECT h.id, w.grp, w.decision_id, w.channel, w.content_id, w.blocked, h.specialty,
                h.country, w.delivered, w.opened, w.engaged, w.responses, w.first_delivered_at
             FROM campaign_wave_members w JOIN hcps h ON h.hcp_key = w.hcp_key
             WHERE w.campaign_id = $1 AND w.wave = $2 ORDER BY h.id",
        )
        .await?;
    Ok(client
        .query(&stmt, &[&campaign_id, &i64::from(wave)])
        .await?
        .iter()
        .map(|r| WaveMemberRow {
            member: WaveMember {
                hcp_id: r.get(0),
                group: r.get(1),
                decision_id: r.get(2),
                channel: r.get::<_, Option<i64>>(3).and_then(Channel::from_code),
                content_id: r.get(4),
                blocked: r.get(5),
            },
            specialty: r.get(6),
            country: r.get(7),
            delivered: r.get::<_, i64>(8) as u64,
            opened: r.get::<_, i64>(9) as u64,
            engaged: r.get::<_, i64>(10) as u64,
            responses: r.get::<_, i64>(11) as u64,
            first_delivered_at: r.get::<_, Option<i64>>(12).map(Timestamp::from_millis),
        })
        .collect())
}

pub(super) async fn groups(
    client: &impl GenericClient,
    campaign_id: &str,
) -> Result<Vec<(i64, u64)>> {
    let stmt = client
        .prepare_cached(
            "SELECT grp, count(*) FROM campaign_members WHERE campaign_id = $1
             GROUP BY grp ORDER BY grp",
        )
        .await?;
    Ok(client
        .query(&stmt, &[&campaign_id])
        .await?
        .iter()
        .map(|r| (r.get::<_, i64>(0), r.get::<_, i64>(1) as u64))
        .collect())
}
