//! Asset bytes in SQLite: one row per distinct content, written in one immediate transaction.

use openclm_core::Timestamp;
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::SqliteStore;
use crate::{Blob, BlobKey, NewBlob, Result, blob};

impl crate::store::Blobs for SqliteStore {
    async fn put_blobs(&self, blobs: Vec<NewBlob>, now: Timestamp) -> Result<Vec<BlobKey>> {
        let blobs = blob::keyed(blobs)?;
        if blobs.is_empty() {
            return Ok(Vec::new());
        }
        self.with_conn(move |conn, _| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO blobs (sha256, media_type, size, bytes, stored_at)
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (sha256) DO NOTHING",
                )?;
                for b in &blobs {
                    insert.execute(params![
                        b.sha256,
                        b.media_type,
                        b.size(),
                        &b.bytes[..],
                        now.millis()
                    ])?;
                }
            }
            tx.commit()?;
            Ok(blobs.into_iter().map(|b| b.sha256).collect())
        })
        .await
    }

    async fn get_blob(&self, sha256: String) -> Result<Option<Blob>> {
        blob::check_key("sha256", &sha256)?;
        self.with_conn(move |conn, _| {
            let row = conn
                .prepare_cached("SELECT media_type, size, bytes FROM blobs WHERE sha256 = ?1")?
                .query_row([&sha256], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, Vec<u8>>(2)?,
                    ))
                })
                .optional()?;
            row.map(|(media_type, size, bytes)| blob::verified(sha256, media_type, size, bytes))
                .transpose()
        })
        .await
    }

    async fn blob_exists(&self, sha256: Vec<String>) -> Result<Vec<BlobKey>> {
        let keys = blob::checked_keys(sha256)?;
        self.with_conn(move |conn, _| {
            let mut stmt = conn.prepare_cached("SELECT 1 FROM blobs WHERE sha256 = ?1")?;
            let mut found = Vec::with_capacity(keys.len());
            for key in keys {
                if stmt.exists([&key])? {
                    found.push(key);
                }
            }
            Ok(found)
        })
        .await
    }
}
