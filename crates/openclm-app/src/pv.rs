//! Pharmacovigilance: the queue of potential adverse-event cases (listing, counts, one case),
//! PV's triage, the reconciliation of screening per source, and the alert on overdue cases with
//! the worker that raises it.

use openclm_core::audit::NewAudit;
use openclm_core::auth::Action;
use openclm_core::pv::{AeStatus, Triage};
use openclm_core::{FieldError, Timestamp};
use openclm_store::{AeCase, AeCounts, AeFilter, SourceScreening, Store};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{AppError, Caller, Clock};

/// The queue as asked: filters and the page.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct AeQuery {
    pub status: Option<String>,
    pub overdue: Option<bool>,
    pub source: Option<String>,
    pub product: Option<String>,
    /// 1 for the first page; with `limit`, the queue comes in pages.
    pub page: Option<u32>,
    pub limit: Option<u32>,
}

/// The cases one page of the queue holds unless a limit says otherwise: a screen of a compact
/// list, not the whole queue.
pub const AE_PAGE_SIZE: u32 = 25;
/// The most cases one page of the queue holds.
pub const MAX_AE_PAGE: u32 = 500;

/// One page of the queue, in its order (overdue first, then by time left).
#[derive(Debug)]
pub struct AeListing {
    pub cases: Vec<AeCase>,
    /// 1-based; 1 when the queue was not paged.
    pub page: u32,
    pub has_next: bool,
    /// The time the clocks were read at.
    pub now: Timestamp,
}

/// A filter value as given: trimmed, empty meaning "any", bounded in length.
fn filter_value(value: Option<String>, field: &str) -> Result<Option<String>, FieldError> {
    let Some(value) = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if value.chars().count() > 200 {
        return Err(FieldError::new(field, "must be at most 200 characters"));
    }
    Ok(Some(value))
}

/// The queue as asked: filtered by status, source, product and the deadline, a page at a time:
/// `limit` cases (25 when only a page is given; the most a page holds, 500, when neither is).
pub async fn listing<S: Store>(
    store: &S,
    caller: &Caller,
    q: AeQuery,
    now: Timestamp,
) -> Result<AeListing, AppError> {
    caller.require(Action::ReadAeCases)?;
    let status = q
        .status
        .filter(|s| !s.is_empty())
        .map(|s| AeStatus::parse("status", &s))
        .transpose()?;
    if q.page == Some(0) {
        return Err(FieldError::new("page", "must be 1 or more (1 is the first page)").into());
    }
    if q.limit.is_some_and(|l| !(1..=MAX_AE_PAGE).contains(&l)) {
        return Err(FieldError::new("limit", format!("must be from 1 to {MAX_AE_PAGE}")).into());
    }
    let page = q.page.unwrap_or(1);
    // Bounded whatever is asked: unpaged, the first page of the largest size.
    let limit = match (q.page, q.limit) {
        (None, None) => MAX_AE_PAGE,
        (_, limit) => limit.unwrap_or(AE_PAGE_SIZE),
    };
    let mut cases = store
        .ae_cases(AeFilter {
            status,
            due_before: q.overdue.filter(|o| *o).map(|_| now),
            not_alerted: false,
            source: filter_value(q.source, "source")?,
            product: filter_value(q.product, "product")?,
            offset: u64::from(page - 1) * u64::from(limit),
            // One more than the page holds tells whether there is a next page.
            limit: Some(limit + 1),
        })
        .await?;
    let has_next = cases.len() > limit as usize;
    cases.truncate(limit as usize);
    Ok(AeListing {
        cases,
        page,
        has_next,
        now,
    })
}

/// A case in the queue with its clock.
#[derive(Debug, Serialize)]
pub struct QueuedCase {
    #[serde(flatten)]
    pub case: AeCase,
    /// Whether an open case is past its deadline.
    pub overdue: bool,
    /// Seconds to the deadline; negative once past it.
    pub time_left_s: i64,
}

/// One page of the queue as the API answers it.
#[derive(Debug, Serialize)]
pub struct Queue {
    pub items: Vec<QueuedCase>,
    pub next_page: Option<u32>,
    pub page: u32,
}

impl From<AeListing> for Queue {
    fn from(listing: AeListing) -> Self {
        let now = listing.now;
        let items = listing
            .cases
            .into_iter()
            .map(|case| {
                let left = case.due_at.millis() - now.millis();
                QueuedCase {
                    overdue: case.status == AeStatus::Open && left < 0,
                    time_left_s: left / 1000,
                    case,
                }
            })
            .collect();
        Queue {
            items,
            next_page: listing.has_next.then_some(listing.page + 1),
            page: listing.page,
        }
    }
}

/// The queue: overdue first, then by time left.
pub async fn queue<S: Store>(
    store: &S,
    caller: &Caller,
    q: AeQuery,
    now: Timestamp,
) -> Result<Queue, AppError> {
    Ok(listing(store, caller, q, now).await?.into())
}

/// How the queue stands: open, overdue and triaged cases.
pub async fn counts<S: Store>(
    store: &S,
    caller: &Caller,
    now: Timestamp,
) -> Result<AeCounts, AppError> {
    caller.require(Action::ReadAeCases)?;
    Ok(store.ae_case_counts(now).await?)
}

/// One case, with its full text.
pub async fn case<S: Store>(store: &S, caller: &Caller, id: String) -> Result<AeCase, AppError> {
    caller.require(Action::ReadAeCases)?;
    store
        .get_ae_case(id)
        .await?
        .ok_or_else(|| AppError::NotFound("case".into()))
}

/// PV's decision on a case, as asked.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriageInput {
    pub status: Option<String>,
    pub external_ref: Option<String>,
    pub note: Option<String>,
}

/// Records PV's decision on an open case; the case as it now stands.
pub async fn triage<S: Store>(
    store: &S,
    caller: &Caller,
    id: String,
    input: TriageInput,
    now: Timestamp,
) -> Result<Option<AeCase>, AppError> {
    caller.require(Action::TriageAeCases)?;
    let user = caller.require_person()?;
    let triage = Triage::parse(input.status.as_deref(), input.external_ref, input.note)?;
    // The trail records the decision, not PV's note: notes quote reports, which only PV reads.
    let audit = NewAudit::new(&caller.actor(), "triage", format!("ae_case/{id}")).new_value(
        json!({"status": triage.status, "external_ref": triage.external_ref,
            "note_recorded": triage.note.is_some()}),
    );
    match store
        .triage_ae_case(id.clone(), triage, user.user_id.clone(), audit, now)
        .await?
    {
        None => Err(AppError::NotFound("case".into())),
        Some(false) => Err(AppError::Conflict(FieldError::new(
            "status",
            "the case has already been triaged",
        ))),
        Some(true) => Ok(store.get_ae_case(id).await?),
    }
}

/// Screening reconciled per source.
#[derive(Debug, Serialize)]
pub struct Reconciliation {
    pub sources: Vec<SourceScreening>,
}

pub async fn reconciliation<S: Store>(
    store: &S,
    caller: &Caller,
) -> Result<Reconciliation, AppError> {
    caller.require(Action::ReadAeCases)?;
    Ok(Reconciliation {
        sources: store.screening_report().await?,
    })
}

/// Where overdue-case alerts are posted, and how hard to try.
#[derive(Debug, Clone)]
pub struct AlertWebhook {
    pub url: String,
    pub client: reqwest::Client,
    /// Attempts per alert before leaving it for the next round.
    pub attempts: u32,
    /// The wait before the second attempt; it doubles after each failure.
    pub first_backoff: std::time::Duration,
}

impl AlertWebhook {
    pub fn new(url: String) -> Self {
        Self {
            url,
            client: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            attempts: 4,
            first_backoff: std::time::Duration::from_secs(1),
        }
    }

    /// Posts one alert, retrying with backoff; whether the receiver took it (a 2xx answer).
    async fn post(&self, alert: &serde_json::Value) -> bool {
        let mut wait = self.first_backoff;
        for attempt in 1..=self.attempts {
            match self.client.post(&self.url).json(alert).send().await {
                Ok(r) if r.status().is_success() => return true,
                Ok(r) => {
                    tracing::warn!(status = %r.status(), attempt, "the PV alert webhook refused an alert")
                }
                Err(e) => {
                    tracing::warn!(error = %e, attempt, "the PV alert webhook cannot be reached")
                }
            }
            if attempt < self.attempts {
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
        }
        false
    }
}

/// Raises each overdue case once: a warning in the log (ids and times only, never the text) and,
/// when a webhook is set, an alert posted to it. A case whose alert the webhook did not take
/// stays unalerted, so the next round tries again. Returns the cases alerted.
pub async fn alert_overdue<S: Store>(
    store: &S,
    now: Timestamp,
    webhook: Option<&AlertWebhook>,
) -> openclm_store::Result<usize> {
    let overdue = store
        .ae_cases(AeFilter {
            status: Some(AeStatus::Open),
            due_before: Some(now),
            not_alerted: true,
            ..AeFilter::default()
        })
        .await?;
    let mut alerted = Vec::new();
    for case in &overdue {
        tracing::warn!(
            case = %case.case_id,
            due_at = %case.due_at,
            source = %case.source,
            "adverse-event case overdue for PV triage"
        );
        let delivered = match webhook {
            None => true,
            Some(hook) => {
                let alert = json!({
                    "type": "ae_case_overdue",
                    "case_id": case.case_id,
                    "source": case.source,
                    "received_at": case.received_at,
                    "due_at": case.due_at,
                    "overdue_by_s": (now.millis() - case.due_at.millis()) / 1000,
                });
                hook.post(&alert).await
            }
        };
        if delivered {
            alerted.push(case.case_id.clone());
        } else {
            tracing::error!(case = %case.case_id, "the overdue alert was not delivered; retrying next round");
        }
    }
    let n = alerted.len();
    if n > 0 {
        store.mark_ae_alerted(alerted, now).await?;
    }
    Ok(n)
}

/// Checks for overdue cases every `every` until the process ends.
pub fn spawn_ae_watch<S: Store>(
    store: S,
    clock: Clock,
    every: std::time::Duration,
    webhook: Option<AlertWebhook>,
) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if let Err(e) = alert_overdue(&store, clock(), webhook.as_ref()).await {
                tracing::error!(error = %e, "checking overdue adverse-event cases failed");
            }
        }
    });
}
