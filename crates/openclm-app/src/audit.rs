//! The audit trail: reading a record's history, exporting it, and checking the chain.

use openclm_core::audit::{AuditEntry, ChainCheck, NewAudit};
use openclm_core::auth::Action;
use openclm_core::{Timestamp, privacy};
use openclm_store::Store;
use serde::{Deserialize, Serialize};

use crate::{AppError, Caller};

/// Which entries to read: of one record or all, after a sequence number, at most `limit`.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct AuditQuery {
    pub record: Option<String>,
    pub after: Option<i64>,
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize)]
pub struct AuditTrail {
    pub entries: Vec<AuditEntry>,
}

/// Entries in order: of `record` (all when empty), after `after`, at most `limit` (1 to 10,000;
/// 1,000 when not given).
pub async fn entries<S: Store>(
    store: &S,
    caller: &Caller,
    q: AuditQuery,
) -> Result<AuditTrail, AppError> {
    caller.require(Action::ReadAudit)?;
    let limit = q.limit.unwrap_or(1000).clamp(1, 10_000);
    let entries = store
        .audit_entries(
            q.record.filter(|r| !r.is_empty()),
            q.after.unwrap_or(0),
            limit,
        )
        .await?;
    Ok(AuditTrail { entries })
}

/// A record as a person names it, as the trail keeps it: `hcp:<id>` stands for the HCP's hashed
/// record name (the trail never holds an HCP's id in clear).
pub fn record_name(asked: &str) -> String {
    match asked.strip_prefix("hcp:") {
        Some(id) => privacy::hcp_record(id.trim()),
        None => asked.to_owned(),
    }
}

/// A record's whole history, exported under `actor`: exporting the trail is itself on the trail.
pub async fn export_record<S: Store>(
    store: &S,
    record: &str,
    actor: &str,
    now: Timestamp,
) -> Result<Vec<AuditEntry>, AppError> {
    let mut entries = Vec::new();
    let mut after = 0;
    loop {
        let page = store
            .audit_entries(Some(record.to_owned()), after, 10_000)
            .await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        entries.extend(page);
    }
    store
        .append_audit(
            vec![NewAudit::new(actor, "export", format!("audit/{record}"))],
            now,
        )
        .await?;
    Ok(entries)
}

/// Reads the whole chain page by page and checks it.
pub async fn verify_chain<S: Store>(store: &S) -> Result<ChainCheck, AppError> {
    let mut check = ChainCheck::default();
    let mut after = 0;
    loop {
        let page = store.audit_entries(None, after, 10_000).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        page.iter().for_each(|e| check.push(e));
    }
    Ok(check)
}
