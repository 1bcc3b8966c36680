//! HCP master-data writes into PostgreSQL, set-wise: two reads and four writes per call however
//! many HCPs it carries, with the outcome of each HCP exactly as if they were written one after
//! the other (as the SQLite backend does). The caller holds the master-data lock.

use openclm_core::{FieldError, Hcp, Timestamp};
use std::collections::HashMap;
use tokio_postgres::types::ToSql;

use super::to_json;
use crate::{Result, Upserted};

type Tx<'a> = deadpool_postgres::Transaction<'a>;
type ExternalKey = (String, String);

/// Who holds an external id, as the writes of this call leave it so far.
#[derive(Clone)]
struct Holder {
    key: i64,
    id: String,
    is_stub: bool,
}

/// The row an HCP of this call ends up in.
struct Row<'a> {
    hcp: &'a Hcp,
    /// A stored row (`>= 0`) or a row to insert (a placeholder `< 0`).
    key: i64,
    /// Whether its external ids are replaced (they are kept when a stub becomes this HCP).
    replace_external: bool,
}

/// The `hcps` columns of some rows, one array each.
struct Columns<'a> {
    ids: Vec<&'a str>,
    names: Vec<&'a str>,
    specialties: Vec<&'a str>,
    countries: Vec<&'a str>,
    territories: Vec<Option<&'a str>>,
    segments: Vec<String>,
    emails: Vec<Option<&'a str>>,
    restricted: Vec<String>,
}

impl<'a> Columns<'a> {
    /// The arrays as statement parameters, in declaration order.
    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        vec![
            &self.ids,
            &self.names,
            &self.specialties,
            &self.countries,
            &self.territories,
            &self.segments,
            &self.emails,
            &self.restricted,
        ]
    }

    fn of(rows: &[&Row<'a>]) -> Self {
        Self {
            ids: rows.iter().map(|r| r.hcp.id.as_str()).collect(),
            names: rows.iter().map(|r| r.hcp.name.as_str()).collect(),
            specialties: rows.iter().map(|r| r.hcp.specialty.as_str()).collect(),
            countries: rows.iter().map(|r| r.hcp.country.as_str()).collect(),
            territories: rows.iter().map(|r| r.hcp.territory.as_deref()).collect(),
            segments: rows.iter().map(|r| to_json(&r.hcp.segments)).collect(),
            emails: rows.iter().map(|r| r.hcp.email.as_deref()).collect(),
            restricted: rows
                .iter()
                .map(|r| to_json(&r.hcp.restricted_products))
                .collect(),
        }
    }
}

pub(super) async fn put_hcps(
    tx: &Tx<'_>,
    hcps: &[Hcp],
    now: Timestamp,
) -> Result<Vec<std::result::Result<Upserted, FieldError>>> {
    // Reads: rows with these ids, and the holders of these external ids.
    let ids: Vec<&str> = hcps.iter().map(|h| h.id.as_str()).collect();
    let stmt = tx
        .prepare_cached("SELECT id, hcp_key, is_stub FROM hcps WHERE id = ANY($1)")
        .await?;
    let mut by_id: HashMap<String, (i64, bool)> = tx
        .query(&stmt, &[&ids])
        .await?
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect();
    let systems: Vec<&str> = hcps
        .iter()
        .flat_map(|h| h.external_ids.iter().map(|x| x.system.as_str()))
        .collect();
    let externals: Vec<&str> = hcps
        .iter()
        .flat_map(|h| h.external_ids.iter().map(|x| x.id.as_str()))
        .collect();
    let stmt = tx
        .prepare_cached(
            "SELECT x.system, x.external_id, h.hcp_key, h.id, h.is_stub
             FROM unnest($1::text[], $2::text[]) AS k(system, external_id)
             JOIN hcp_external_ids x ON x.system = k.system AND x.external_id = k.external_id
             JOIN hcps h ON h.hcp_key = x.hcp_key",
        )
        .await?;
    let mut holders: HashMap<ExternalKey, Holder> = HashMap::new();
    let mut held_by: HashMap<i64, Vec<ExternalKey>> = HashMap::new();
    for r in tx.query(&stmt, &[&systems, &externals]).await? {
        let x: ExternalKey = (r.get(0), r.get(1));
        let holder = Holder {
            key: r.get(2),
            id: r.get(3),
            is_stub: r.get(4),
        };
        held_by.entry(holder.key).or_default().push(x.clone());
        holders.insert(x, holder);
    }

    // Decide, one HCP after the other, against the state the earlier ones leave.
    let mut results = Vec::with_capacity(hcps.len());
    let mut rows: Vec<Row> = Vec::new();
    let mut row_of_key: HashMap<i64, usize> = HashMap::new();
    let mut next_placeholder = -1i64;
    for hcp in hcps {
        let existing = by_id.get(hcp.id.as_str()).copied();
        let own_key = existing.map_or(i64::MIN, |e| e.0);
        let mut adopted: Option<(i64, String)> = None;
        let mut refused = None;
        for (i, x) in hcp.external_ids.iter().enumerate() {
            let Some(other) = holders
                .get(&(x.system.clone(), x.id.clone()))
                .filter(|h| h.key != own_key)
            else {
                continue;
            };
            if other.is_stub
                && existing.is_none()
                && adopted.as_ref().is_none_or(|a| a.0 == other.key)
            {
                adopted = Some((other.key, other.id.clone()));
                continue;
            }
            let owner = if other.is_stub {
                format!(
                    "a stub HCP ({}) made from events before its master data; \
                     only a new HCP id can take it over, merging into an existing HCP is not supported",
                    other.id
                )
            } else {
                format!("HCP {}", other.id)
            };
            refused = Some(FieldError::new(
                format!("external_ids[{i}]"),
                format!("{}:{} already belongs to {owner}", x.system, x.id),
            ));
            break;
        }
        if let Some(e) = refused {
            results.push(Err(e));
            continue;
        }
        let (key, was_stub) = match (existing, &adopted) {
            (Some(e), _) => e,
            (None, Some((stub, old_id))) => {
                // The stub is renamed: its old id no longer names a row.
                by_id.remove(old_id);
                (*stub, true)
            }
            (None, None) => {
                next_placeholder -= 1;
                (next_placeholder, false)
            }
        };
        by_id.insert(hcp.id.as_str().to_owned(), (key, false));
        // Holders as the writes below leave them.
        let mine = held_by.entry(key).or_default();
        if !was_stub {
            for x in mine.drain(..) {
                holders.remove(&x);
            }
        }
        for held in mine.iter() {
            if let Some(h) = holders.get_mut(held) {
                h.id = hcp.id.as_str().to_owned();
                h.is_stub = false;
            }
        }
        for x in &hcp.external_ids {
            let x = (x.system.clone(), x.id.clone());
            if !holders.contains_key(&x) {
                holders.insert(
                    x.clone(),
                    Holder {
                        key,
                        id: hcp.id.as_str().to_owned(),
                        is_stub: false,
                    },
                );
                mine.push(x);
            }
        }
        let row = Row {
            hcp,
            key,
            replace_external: !was_stub,
        };
        match row_of_key.get(&key) {
            // The same HCP twice in one call: the later record wins, as a second write would.
            Some(&at) => {
                rows[at].hcp = hcp;
                rows[at].replace_external |= row.replace_external;
            }
            None => {
                row_of_key.insert(key, rows.len());
                rows.push(row);
            }
        }
        results.push(Ok(if existing.is_some() {
            Upserted::Updated
        } else {
            Upserted::Created
        }));
    }

    // Writes: renames and updates first (a stub's old id may be inserted anew), then inserts,
    // then external ids.
    let (updates, inserts): (Vec<&Row>, Vec<&Row>) = rows.iter().partition(|r| r.key >= 0);
    if !updates.is_empty() {
        let keys: Vec<i64> = updates.iter().map(|r| r.key).collect();
        let columns = Columns::of(&updates);
        let now = now.millis();
        let stmt = tx
            .prepare_cached(
                "UPDATE hcps h SET id = u.id, name = u.name, specialty = u.specialty,
                    country = u.country, territory = u.territory, segments = u.segments,
                    email = u.email, restricted_products = u.restricted, is_stub = FALSE,
                    updated_at = $10
                 FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[],
                    $6::text[], $7::text[], $8::text[], $9::text[])
                    AS u(hcp_key, id, name, specialty, country, territory, segments, email,
                        restricted)
                 WHERE h.hcp_key = u.hcp_key",
            )
            .await?;
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&keys];
        params.extend(columns.params());
        params.push(&now);
        tx.execute(&stmt, &params).await?;
    }
    let mut real_key: HashMap<i64, i64> = rows.iter().map(|r| (r.key, r.key)).collect();
    if !inserts.is_empty() {
        let columns = Columns::of(&inserts);
        let now = now.millis();
        let stmt = tx
            .prepare_cached(
                "INSERT INTO hcps (id, name, specialty, country, territory, segments, email,
                    restricted_products, created_at, updated_at)
                 SELECT u.id, u.name, u.specialty, u.country, u.territory, u.segments, u.email,
                    u.restricted, $9, $9
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                    $6::text[], $7::text[], $8::text[]) WITH ORDINALITY
                    AS u(id, name, specialty, country, territory, segments, email, restricted, n)
                 ORDER BY u.n
                 RETURNING id, hcp_key",
            )
            .await?;
        let mut params = columns.params();
        params.push(&now);
        let made: HashMap<String, i64> = tx
            .query(&stmt, &params)
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        for row in &inserts {
            if let Some(&key) = made.get(row.hcp.id.as_str()) {
                real_key.insert(row.key, key);
            }
        }
    }
    let replaced: Vec<i64> = updates
        .iter()
        .filter(|r| r.replace_external)
        .map(|r| r.key)
        .collect();
    if !replaced.is_empty() {
        let stmt = tx
            .prepare_cached("DELETE FROM hcp_external_ids WHERE hcp_key = ANY($1)")
            .await?;
        tx.execute(&stmt, &[&replaced]).await?;
    }
    let mut systems = Vec::new();
    let mut externals = Vec::new();
    let mut keys = Vec::new();
    for row in &rows {
        let Some(&key) = real_key.get(&row.key) else {
            continue;
        };
        for x in &row.hcp.external_ids {
            systems.push(x.system.as_str());
            externals.push(x.id.as_str());
            keys.push(key);
        }
    }
    if !keys.is_empty() {
        let stmt = tx
            .prepare_cached(
                "INSERT INTO hcp_external_ids (system, external_id, hcp_key)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::int8[])
                 ON CONFLICT DO NOTHING",
            )
            .await?;
        tx.execute(&stmt, &[&systems, &externals, &keys]).await?;
    }
    Ok(results)
}
