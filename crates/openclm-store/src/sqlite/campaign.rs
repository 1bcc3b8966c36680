//! Campaigns, their waves and members in SQLite.

use openclm_core::campaign::Campaign;
use openclm_core::{Channel, Timestamp};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::suggest::insert_decisions;
use crate::{NewWave, Result, StoreError, Upserted, WaveMember, WaveMemberRow, WaveRecord};

fn definition(text: &str) -> Result<Campaign> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Corrupt(format!("campaigns.definition: {e}")))
}

pub(super) fn put(conn: &Connection, campaign: &Campaign, now: Timestamp) -> Result<Upserted> {
    let text = serde_json::to_string(campaign)
        .map_err(|e| StoreError::Corrupt(format!("campaign: {e}")))?;
    let existed = conn
        .prepare_cached("SELECT 1 FROM campaigns WHERE campaign_id = ?1")?
        .query_row([&campaign.id], |_| Ok(()))
        .optional()?
        .is_some();
    conn.prepare_cached(
        "INSERT INTO campaigns (campaign_id, definition, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?3)
         ON CONFLICT (campaign_id) DO UPDATE SET definition = excluded.definition,
            updated_at = excluded.updated_at",
    )?
    .execute(params![campaign.id, text, now.millis()])?;
    Ok(if existed {
        Upserted::Updated
    } else {
        Upserted::Created
    })
}

pub(super) fn get(conn: &Connection, campaign_id: &str) -> Result<Option<Campaign>> {
    conn.prepare_cached("SELECT definition FROM campaigns WHERE campaign_id = ?1")?
        .query_row([campaign_id], |r| r.get::<_, String>(0))
        .optional()?
        .map(|text| definition(&text))
        .transpose()
}

pub(super) fn list(conn: &Connection) -> Result<Vec<Campaign>> {
    let texts = conn
        .prepare_cached("SELECT definition FROM campaigns ORDER BY campaign_id")?
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    texts.iter().map(|t| definition(t)).collect()
}

fn wave_row(conn: &Connection, campaign_id: &str, wave: u32) -> Result<Option<WaveRecord>> {
    let row = conn
        .prepare_cached(
            "SELECT ran_at, summary FROM campaign_waves WHERE campaign_id = ?1 AND wave = ?2",
        )?
        .query_row(params![campaign_id, wave], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })
        .optional()?;
    row.map(|(ran_at, summary)| {
        Ok(WaveRecord {
            campaign_id: campaign_id.to_owned(),
            wave,
            ran_at: Timestamp::from_millis(ran_at),
            summary: serde_json::from_str(&summary)
                .map_err(|e| StoreError::Corrupt(format!("campaign_waves.summary: {e}")))?,
        })
    })
    .transpose()
}

pub(super) fn save_wave(conn: &mut Connection, wave: &NewWave) -> Result<(WaveRecord, bool)> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if let Some(done) = wave_row(&tx, &wave.campaign_id, wave.wave)? {
        return Ok((done, false));
    }
    tx.prepare_cached(
        "INSERT INTO campaign_waves (campaign_id, wave, ran_at, summary) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        wave.campaign_id,
        wave.wave,
        wave.ran_at.millis(),
        wave.summary.to_string()
    ])?;
    {
        let mut member = tx.prepare_cached(
            "INSERT OR IGNORE INTO campaign_members (campaign_id, hcp_key, grp, first_wave)
             SELECT ?1, hcp_key, ?3, ?4 FROM hcps WHERE id = ?2",
        )?;
        for (hcp, group) in &wave.members {
            member.execute(params![wave.campaign_id, hcp, group, wave.wave])?;
        }
        let mut treated = tx.prepare_cached(
            "INSERT OR IGNORE INTO campaign_wave_members (campaign_id, wave, hcp_key, grp,
                decision_id, channel, content_id, blocked)
             SELECT ?1, ?2, hcp_key, ?4, ?5, ?6, ?7, ?8 FROM hcps WHERE id = ?3",
        )?;
        for m in &wave.treated {
            treated.execute(params![
                wave.campaign_id,
                wave.wave,
                m.hcp_id,
                m.group,
                m.decision_id,
                m.channel.map(|c| c.code()),
                m.content_id,
                m.blocked
            ])?;
        }
    }
    let logged = insert_decisions(&tx, &wave.decisions)?;
    super::governance::record_sends(&tx, &wave.decisions, &logged)?;
    super::delivery::enqueue(&tx, &wave.decisions, &logged)?;
    let stored = wave_row(&tx, &wave.campaign_id, wave.wave)?
        .ok_or_else(|| StoreError::Corrupt("campaign_waves: the wave just written".into()))?;
    tx.commit()?;
    Ok((stored, true))
}

pub(super) fn list_waves(conn: &Connection, campaign_id: &str) -> Result<Vec<WaveRecord>> {
    let waves = conn
        .prepare_cached("SELECT wave FROM campaign_waves WHERE campaign_id = ?1 ORDER BY wave")?
        .query_map([campaign_id], |r| r.get::<_, u32>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    waves
        .into_iter()
        .filter_map(|w| wave_row(conn, campaign_id, w).transpose())
        .collect()
}

pub(super) fn wave_members(
    conn: &Connection,
    campaign_id: &str,
    wave: u32,
) -> Result<Vec<WaveMemberRow>> {
    let rows = conn
        .prepare_cached(
            "SELECT h.id, w.grp, w.decision_id, w.channel, w.content_id, w.blocked, h.specialty,
                h.country, w.delivered, w.opened, w.engaged, w.responses, w.first_delivered_at
             FROM campaign_wave_members w JOIN hcps h ON h.hcp_key = w.hcp_key
             WHERE w.campaign_id = ?1 AND w.wave = ?2 ORDER BY h.id",
        )?
        .query_map(params![campaign_id, wave], |r| {
            Ok(WaveMemberRow {
                member: WaveMember {
                    hcp_id: r.get(0)?,
                    group: r.get(1)?,
                    decision_id: r.get(2)?,
                    channel: r.get::<_, Option<i64>>(3)?.and_then(Channel::from_code),
                    content_id: r.get(4)?,
                    blocked: r.get(5)?,
                },
                specialty: r.get(6)?,
                country: r.get(7)?,
                delivered: r.get::<_, i64>(8)? as u64,
                opened: r.get::<_, i64>(9)? as u64,
                engaged: r.get::<_, i64>(10)? as u64,
                responses: r.get::<_, i64>(11)? as u64,
                first_delivered_at: r.get::<_, Option<i64>>(12)?.map(Timestamp::from_millis),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub(super) fn groups(conn: &Connection, campaign_id: &str) -> Result<Vec<(i64, u64)>> {
    Ok(conn
        .prepare_cached(
            "SELECT grp, count(*) FROM campaign_members WHERE campaign_id = ?1
             GROUP BY grp ORDER BY grp",
        )?
        .query_map([campaign_id], |r| {
            Ok((r.get(0)?, r.get::<_, i64>(1)? as u64))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}
