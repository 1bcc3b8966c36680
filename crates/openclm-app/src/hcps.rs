//! HCP master data and what OpenCLM knows of each HCP: the list a caller may see, one profile,
//! its timeline, its consent by channel and the state learned from its events. A caller limited
//! to territories reaches only the HCPs of theirs; any other is "not found".

use openclm_core::auth::Action;
use openclm_core::consent::{self, ConsentRecord};
use openclm_core::hcp::HcpInput;
use openclm_core::state::{StateConfig, StateSummary};
use openclm_core::{Channel, EventType, FieldError, Hcp, HcpId, Timestamp};
use openclm_store::prelude::*;
use openclm_store::{HcpFilter, Page, StoredEvent, TimelineFilter, Upserted};
use serde::{Deserialize, Serialize};

use crate::caller::{hcp_not_found, visible_hcp};
use crate::page::PageQuery;
use crate::{AppError, Caller};

/// Which HCPs to list; empty fields match all.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct HcpListQuery {
    pub territory: Option<String>,
    pub specialty: Option<String>,
    pub country: Option<String>,
    #[cfg_attr(feature = "openapi", param(ignore))]
    #[serde(flatten)]
    pub page: PageQuery,
}

/// Which of an HCP's events to show, by channel and type name; empty fields match all.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct TimelineQuery {
    pub channel: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[cfg_attr(feature = "openapi", param(ignore))]
    #[serde(flatten)]
    pub page: PageQuery,
}

impl TimelineQuery {
    fn filter(&self) -> Result<TimelineFilter, FieldError> {
        Ok(TimelineFilter {
            channel: nonempty(&self.channel)
                .map(|c| Channel::parse("channel", c))
                .transpose()?,
            kind: nonempty(&self.kind)
                .map(|k| EventType::parse("type", k))
                .transpose()?,
        })
    }
}

/// An HCP's master data as stored, and whether this write created it.
#[derive(Debug, Clone)]
pub struct SavedHcp {
    pub hcp: Hcp,
    pub upserted: Upserted,
}

/// An HCP's consent: the state per channel and purpose now, and every change that led to it.
#[derive(Debug, Clone, Serialize)]
pub struct ConsentView {
    pub current: Vec<ConsentRecord>,
    pub history: Vec<ConsentRecord>,
}

/// What has been learned about an HCP, evaluated at one moment.
#[derive(Debug, Clone, Serialize)]
pub struct HcpStateView {
    pub hcp_id: HcpId,
    pub state: StateSummary,
}

fn nonempty(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

/// Creates or replaces the master data of HCP `id`, audited as the caller's.
pub async fn put_hcp<S: Store>(
    store: &S,
    caller: &Caller,
    id: &str,
    input: HcpInput,
    now: Timestamp,
) -> Result<SavedHcp, AppError> {
    caller.require(Action::WriteHcps)?;
    let hcp = input.validate(id)?;
    let upserted = store
        .put_hcps(vec![hcp.clone()], caller.actor(), now)
        .await?
        .pop()
        .unwrap_or(Ok(Upserted::Updated))?;
    Ok(SavedHcp { hcp, upserted })
}

/// One HCP's master data, if the caller may see it.
pub async fn get_hcp<S: Store>(store: &S, caller: &Caller, id: &str) -> Result<Hcp, AppError> {
    visible_hcp(store, caller, Action::ReadHcps, id).await
}

/// A page of the HCPs the caller may see. A caller limited to territories lists one of theirs:
/// the one asked for, or their only one.
pub async fn list_hcps<S: Store>(
    store: &S,
    caller: &Caller,
    query: HcpListQuery,
) -> Result<Page<Hcp>, AppError> {
    let scope = caller.require(Action::ReadHcps)?;
    let asked = nonempty(&query.territory).map(str::to_owned);
    let territory = match (caller.territory_limit(scope), asked) {
        (None, asked) => asked,
        (Some(own), Some(asked)) if own.contains(&asked) => Some(asked),
        (Some(own), None) if own.len() == 1 => own.into_iter().next(),
        (Some(own), _) => {
            return Err(FieldError::new(
                "territory",
                format!("must be one of your territories: {}", own.join(", ")),
            )
            .into());
        }
    };
    let filter = HcpFilter {
        territory,
        specialty: nonempty(&query.specialty).map(str::to_owned),
        country: nonempty(&query.country).map(str::to_owned),
    };
    Ok(store.list_hcps(filter, query.page.parse()?).await?)
}

/// A page of an HCP's events, latest first.
pub async fn timeline<S: Store>(
    store: &S,
    caller: &Caller,
    id: &str,
    query: TimelineQuery,
) -> Result<Page<StoredEvent>, AppError> {
    let hcp = visible_hcp(store, caller, Action::ReadHcps, id).await?;
    let filter = query.filter()?;
    store
        .timeline(hcp.id, filter, query.page.parse()?)
        .await?
        .ok_or_else(hcp_not_found)
}

/// An HCP's consent by channel and purpose, with its history.
pub async fn consent<S: Store>(
    store: &S,
    caller: &Caller,
    id: &str,
) -> Result<ConsentView, AppError> {
    let hcp = visible_hcp(store, caller, Action::ReadHcps, id).await?;
    let history = store
        .consent_history(hcp.id)
        .await?
        .ok_or_else(hcp_not_found)?;
    Ok(ConsentView {
        current: consent::current(&history),
        history,
    })
}

/// What has been learned about an HCP, evaluated as of `now`.
pub async fn hcp_state<S: Store>(
    store: &S,
    caller: &Caller,
    id: &str,
    now: Timestamp,
) -> Result<HcpStateView, AppError> {
    let hcp = visible_hcp(store, caller, Action::ReadHcps, id).await?;
    let learned = store
        .hcp_state(hcp.id.clone())
        .await?
        .ok_or_else(hcp_not_found)?;
    Ok(HcpStateView {
        hcp_id: hcp.id,
        state: learned.summary(now, &StateConfig::default()),
    })
}
