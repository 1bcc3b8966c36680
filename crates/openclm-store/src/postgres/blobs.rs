//! Asset bytes in PostgreSQL: one row per distinct content; concurrent puts of the same bytes meet
//! on the primary key and keep one row.

use std::collections::HashSet;

use openclm_core::Timestamp;

use super::{PgStore, retrying};
use crate::{Blob, BlobKey, NewBlob, Result, blob};

impl crate::store::Blobs for PgStore {
    async fn put_blobs(&self, blobs: Vec<NewBlob>, now: Timestamp) -> Result<Vec<BlobKey>> {
        let blobs = blob::keyed(blobs)?;
        if blobs.is_empty() {
            return Ok(Vec::new());
        }
        retrying(|| async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let insert = tx
                .prepare_cached(
                    "INSERT INTO blobs (sha256, media_type, size, bytes, stored_at)
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sha256) DO NOTHING",
                )
                .await?;
            for b in &blobs {
                tx.execute(
                    &insert,
                    &[
                        &b.sha256,
                        &b.media_type,
                        &b.size(),
                        &&b.bytes[..],
                        &now.millis(),
                    ],
                )
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
        .await?;
        Ok(blobs.into_iter().map(|b| b.sha256).collect())
    }

    async fn get_blob(&self, sha256: String) -> Result<Option<Blob>> {
        blob::check_key("sha256", &sha256)?;
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT media_type, size, bytes FROM blobs WHERE sha256 = $1",
                &[&sha256],
            )
            .await?;
        row.map(|r| blob::verified(sha256, r.get(0), r.get(1), r.get(2)))
            .transpose()
    }

    async fn blob_exists(&self, sha256: Vec<String>) -> Result<Vec<BlobKey>> {
        let keys = blob::checked_keys(sha256)?;
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let client = self.client().await?;
        let stored: HashSet<String> = client
            .query("SELECT sha256 FROM blobs WHERE sha256 = ANY($1)", &[&keys])
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        Ok(keys.into_iter().filter(|k| stored.contains(k)).collect())
    }
}
