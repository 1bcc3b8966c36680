//! Data-subject requests: everything held about an HCP, exported; and erasure, which
//! pseudonymizes the HCP and suppresses their identifiers against re-import. Both are audited.

use openclm_core::audit::NewAudit;
use openclm_core::auth::Action;
use openclm_core::consent::ConsentRecord;
use openclm_core::privacy::{SuppressedId, hcp_record, pseudonym, suppression_hash};
use openclm_core::state::{StateConfig, StateSummary};
use openclm_core::{FieldError, Hcp, HcpId, Timestamp};
use openclm_store::{
    ErasureReport, PageRequest, SendFilter, SendRecord, Store, StoredEvent, TimelineFilter,
};
use serde::{Deserialize, Serialize};

use crate::caller::{hcp_not_found, visible_hcp};
use crate::{AppError, Caller};

/// Everything held about an HCP, machine-readable.
#[derive(Debug, Serialize)]
pub struct HcpExport {
    pub consent: Vec<ConsentRecord>,
    pub events: Vec<StoredEvent>,
    pub exported_at: Timestamp,
    pub hcp: Hcp,
    pub learned_state: Option<StateSummary>,
    pub sends: Vec<SendRecord>,
}

/// The export of an HCP the caller may see, as a privacy officer answering an access request.
pub async fn export<S: Store>(
    store: &S,
    caller: &Caller,
    id: &str,
    now: Timestamp,
) -> Result<HcpExport, AppError> {
    caller.require(Action::PrivacyRequests)?;
    visible_hcp(store, caller, Action::PrivacyRequests, id).await?;
    let id = HcpId::parse("id", id)?;
    export_as(store, id, &caller.actor(), now)
        .await?
        .ok_or_else(hcp_not_found)
}

/// Everything held about an HCP, exported under `actor` (the export itself is audited); `None`
/// when there is no such HCP.
pub async fn export_as<S: Store>(
    store: &S,
    id: HcpId,
    actor: &str,
    now: Timestamp,
) -> Result<Option<HcpExport>, AppError> {
    let Some(hcp) = store.get_hcp(id.clone()).await? else {
        return Ok(None);
    };
    let consent = store.consent_history(id.clone()).await?.unwrap_or_default();
    let mut events = Vec::new();
    let mut page = PageRequest {
        cursor: None,
        limit: 1000,
    };
    loop {
        let Some(got) = store
            .timeline(id.clone(), TimelineFilter::default(), page.clone())
            .await?
        else {
            break;
        };
        events.extend(got.items);
        match got.next_cursor {
            Some(next) => page.cursor = Some(next),
            None => break,
        }
    }
    let learned_state = store
        .hcp_state(id.clone())
        .await?
        .map(|s| s.summary(now, &StateConfig::default()));
    let sends = store
        .send_history(
            SendFilter {
                content_id: None,
                hcp: Some(id.clone()),
            },
            100_000,
        )
        .await?;
    let audit = NewAudit::new(actor, "export", hcp_record(id.as_str()))
        .reason(Some("data-subject access request".into()));
    store.append_audit(vec![audit], now).await?;
    Ok(Some(HcpExport {
        consent,
        events,
        exported_at: now,
        hcp,
        learned_state,
        sends,
    }))
}

/// An erasure as asked: the request being answered.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EraseInput {
    pub reason: Option<String>,
}

/// Erases an HCP for a privacy officer signed in.
pub async fn erase<S: Store>(
    store: &S,
    caller: &Caller,
    id: &str,
    input: EraseInput,
    now: Timestamp,
) -> Result<ErasureReport, AppError> {
    caller.require(Action::PrivacyRequests)?;
    caller.require_person()?;
    let reason = input
        .reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty())
        .ok_or_else(|| FieldError::new("reason", "is required (the request being answered)"))?;
    let id = HcpId::parse("id", id)?;
    erase_as(store, id, &caller.actor(), &reason, now)
        .await?
        .ok_or_else(hcp_not_found)
}

/// Erases an HCP under `actor` (see `Store::erase_hcp`), suppressing their identifiers against
/// re-import; `None` when there is no such HCP.
pub async fn erase_as<S: Store>(
    store: &S,
    id: HcpId,
    actor: &str,
    reason: &str,
    now: Timestamp,
) -> Result<Option<ErasureReport>, AppError> {
    let Some(hcp) = store.get_hcp(id.clone()).await? else {
        return Ok(None);
    };
    let mut suppress = vec![suppression_hash(SuppressedId::ExternalId, id.as_str())];
    for ext in &hcp.external_ids {
        suppress.push(suppression_hash(SuppressedId::ExternalId, &ext.id));
    }
    if let Some(email) = &hcp.email {
        suppress.push(suppression_hash(SuppressedId::Email, email));
    }
    let pseudonym = pseudonym(&mut rand::rng());
    let audit =
        NewAudit::new(actor, "erase", hcp_record(id.as_str())).reason(Some(reason.to_owned()));
    Ok(store.erase_hcp(id, pseudonym, suppress, audit, now).await?)
}
