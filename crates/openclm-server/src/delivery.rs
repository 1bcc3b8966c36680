//! The outbound delivery queue over HTTP: the sender that pushes due deliveries to each
//! channel's webhook, the pull API for delivery systems that poll, the compliance check before
//! every attempt, and the `sent` receipt an accepted delivery becomes.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use openclm_core::auth::Action;
use openclm_core::delivery::{DeliveryStatus, backoff_ms, needs_address, signature};
use openclm_core::engine::rules::{HcpFacts, Rules};
use openclm_core::{Channel, Event, FieldError, HcpId, Timestamp};
use openclm_store::{
    Delivery, DeliveryClaim, DeliveryFilter, DeliveryOutcome, IngestOutcome, LeaseAnswer, Store,
    StoreError, UnknownHcpPolicy,
};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

use crate::auth::Caller;
use crate::routes::{PageQuery, body_json, query};
use crate::{ApiError, AppState};

/// Where one channel's deliveries are pushed.
#[derive(Clone, PartialEq)]
pub struct DeliveryTarget {
    pub url: String,
    /// Signs each body (HMAC-SHA256) when set.
    pub secret: Option<String>,
}

/// Shows everything but the secret.
impl std::fmt::Debug for DeliveryTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliveryTarget")
            .field("url", &self.url)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// How deliveries are offered: the webhooks, attempts, backoff and leases.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryConfig {
    /// Channels pushed by webhook; the others wait for a delivery system to pull them.
    pub targets: BTreeMap<Channel, DeliveryTarget>,
    /// Attempts before a delivery becomes a dead letter.
    pub max_attempts: u32,
    /// The wait after the first failure; it doubles after each (with jitter) up to the cap.
    pub backoff_base_ms: i64,
    pub backoff_cap_ms: i64,
    /// How long a sender (this server's pusher or a pulling system) holds leased items.
    pub lease_ms: i64,
    /// Items leased per round of the pusher.
    pub batch_size: usize,
    /// How often the pusher looks for due items.
    pub poll_ms: u64,
    /// How long the pusher waits for a receiver's answer.
    pub timeout_ms: u64,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            targets: BTreeMap::new(),
            max_attempts: 8,
            backoff_base_ms: 30_000,
            backoff_cap_ms: 3_600_000,
            lease_ms: 60_000,
            batch_size: 50,
            poll_ms: 1_000,
            timeout_ms: 10_000,
        }
    }
}

impl DeliveryConfig {
    /// What a failed attempt leads to: another one later, or the dead letters.
    fn after_failure(&self, attempts: u32, error: String, now: Timestamp) -> DeliveryOutcome {
        if attempts >= self.max_attempts {
            return DeliveryOutcome::Dead { error };
        }
        let wait = backoff_ms(
            attempts,
            self.backoff_base_ms,
            self.backoff_cap_ms,
            rand::random::<f64>(),
        );
        DeliveryOutcome::Retry {
            error,
            at: Timestamp::from_millis(now.millis() + wait),
        }
    }
}

/// A new lease's token: unguessable, so only the sender that took the lease can answer for it.
fn lease_token() -> String {
    format!("lease_{:032x}", rand::random::<u128>())
}

/// What a delivery system receives for one delivery (pushed as the body, or pulled in a list).
fn payload(d: &Delivery, content: &ContentFacts, address: Option<&str>) -> Value {
    let mut body = json!({
        "delivery_id": d.delivery_id,
        "decision_id": d.decision_id,
        "hcp_id": d.hcp_id,
        "channel": d.channel,
        "content_id": d.content_id,
        "content_version": content.version,
        "approval_code": content.approval_code,
        "campaign_id": d.campaign_id,
        "attempt": d.attempts,
        "created_at": d.created_at,
    });
    if let Some(address) = address {
        body["address"] = json!(address);
    }
    body
}

/// What the payload tells of the content.
struct ContentFacts {
    version: u32,
    approval_code: Option<String>,
}

/// Checks, before an attempt, that the delivery may still go out: its content approved and in
/// force for this HCP, the HCP's consent for the channel still on record, its decision still
/// holding its place under the caps, an address where the channel needs one. `Err` carries the
/// reason it must be cancelled (codes and rule texts only, never personal data).
async fn may_send<S: Store>(
    store: &S,
    rules: &Rules,
    d: &Delivery,
    now: Timestamp,
) -> Result<Result<(ContentFacts, Option<String>), String>, StoreError> {
    let Ok(id) = HcpId::parse("hcp", &d.hcp_id) else {
        return Ok(Err("hcp_unknown".into()));
    };
    let Some(hcp) = store.get_hcp(id.clone()).await? else {
        return Ok(Err("hcp_unknown".into()));
    };
    let Some(content) = store.get_content(d.content_id.clone(), now).await? else {
        return Ok(Err("content_missing".into()));
    };
    let consent = store.consent_history(id.clone()).await?.unwrap_or_default();
    let state = store.hcp_state(id).await?.unwrap_or_default();
    let facts = HcpFacts {
        hcp: &hcp,
        consent: &consent,
        state: &state,
        planned: &[],
    };
    let checked = rules
        .check_content(&facts, &content, now)
        .and_then(|()| rules.check_consent(&facts, d.channel, now));
    if let Err(v) = checked {
        return Ok(Err(format!("{}: {}", v.code, v.reason)));
    }
    // The caps counted this touch only while its decision held its place (`reserve_hours`);
    // sent later, it could exceed them. Withdrawal releases the hold at once too.
    let Some(decision) = store.get_decision(d.decision_id.clone()).await? else {
        return Ok(Err("decision_missing".into()));
    };
    if decision.reserved_until.is_some_and(|until| until <= now) {
        return Ok(Err(
            "decision_released: the decision no longer holds its place under the caps".into(),
        ));
    }
    let address = if needs_address(d.channel) {
        match hcp.email.clone() {
            Some(a) => Some(a),
            None => {
                return Ok(Err(format!(
                    "no_address: the HCP has no {} address",
                    d.channel
                )));
            }
        }
    } else {
        None
    };
    let facts = ContentFacts {
        version: content.version,
        approval_code: content.approval_code.clone(),
    };
    Ok(Ok((facts, address)))
}

/// Records what an accepted delivery did as a `sent` event of the HCP (source `delivery`, its
/// id derived from the delivery's, so a repeat is a duplicate), through the normal ingest: the
/// timeline, the state, the caps and the KPIs see it. An event the store refuses is logged (ids
/// only) and does not hold the delivery back.
async fn record_receipt<S: Store>(
    store: &S,
    d: &Delivery,
    now: Timestamp,
) -> Result<(), StoreError> {
    let event = json!({
        "event_id": format!("{}:sent", d.delivery_id),
        "occurred_at": now,
        "hcp": d.hcp_id,
        "source": "delivery",
        "channel": d.channel,
        "type": "sent",
        "content_id": d.content_id,
        "campaign_id": d.campaign_id,
        "decision_id": d.decision_id,
    });
    let event = Event::from_json(event)
        .map_err(|e| StoreError::Corrupt(format!("a delivery receipt: {e}")))?;
    let outcome = store
        .ingest(vec![event], UnknownHcpPolicy::Reject, now)
        .await?;
    match outcome.first() {
        Some(IngestOutcome::Accepted | IngestOutcome::Duplicate) => {}
        other => {
            let reason = match other {
                Some(IngestOutcome::Rejected(e)) => e.field.clone(),
                Some(IngestOutcome::Conflict) => "conflict".into(),
                _ => "no outcome".into(),
            };
            tracing::warn!(delivery = %d.delivery_id, %reason, "a delivery receipt was not recorded");
        }
    }
    Ok(())
}

/// Logs a dead letter: ids, channel and the error kind, never personal data.
fn log_outcome(d: &Delivery, outcome: &DeliveryOutcome) {
    match outcome {
        DeliveryOutcome::Dead { error } => tracing::warn!(
            delivery = %d.delivery_id, channel = %d.channel, attempts = d.attempts, %error,
            "a delivery failed for the last time and is now a dead letter"
        ),
        DeliveryOutcome::Cancelled { .. } => tracing::info!(
            delivery = %d.delivery_id, channel = %d.channel,
            "a delivery was cancelled before it was sent"
        ),
        _ => {}
    }
}

/// Records an outcome of this server's own lease; a lease lost meanwhile (withdrawn content
/// cancelled the item) is not an error.
async fn finish<S: Store>(
    store: &S,
    d: &Delivery,
    token: &str,
    outcome: DeliveryOutcome,
    now: Timestamp,
) -> Result<(), StoreError> {
    log_outcome(d, &outcome);
    if let Some(Err(e)) = store
        .finish_delivery(d.delivery_id.clone(), token.to_owned(), outcome, now)
        .await?
    {
        tracing::info!(delivery = %d.delivery_id, reason = %e.reason, "a delivery's outcome came after its lease");
    }
    Ok(())
}

/// What one round of the pusher did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PushRound {
    pub leased: usize,
    pub delivered: usize,
    pub failed: usize,
    pub cancelled: usize,
}

/// Pushes the due deliveries of the channels with a webhook, one batch: each is checked, then
/// posted with its idempotency key (and signature); a 2xx answer makes it delivered (its receipt
/// recorded first, so a crash in between repeats the post, never loses the receipt), anything
/// else — another status, a timeout, no connection — a failure retried after a backoff, until
/// the last attempt makes it a dead letter.
pub async fn push_due<S: Store>(
    state: &AppState<S>,
    client: &reqwest::Client,
) -> Result<PushRound, StoreError> {
    let config = &state.config.delivery;
    let mut round = PushRound::default();
    if config.targets.is_empty() {
        return Ok(round);
    }
    let token = lease_token();
    let leased = state
        .store
        .claim_deliveries(DeliveryClaim {
            channels: config.targets.keys().copied().collect(),
            limit: config.batch_size.max(1),
            lease_ms: config.lease_ms,
            max_attempts: config.max_attempts,
            token: token.clone(),
            now: (state.clock)(),
        })
        .await?;
    round.leased = leased.len();
    let mut posts = tokio::task::JoinSet::new();
    for d in leased {
        let (state, client, token) = (state.clone(), client.clone(), token.clone());
        posts.spawn(async move { push_one(&state, &client, &d, &token).await });
    }
    drain(posts, round).await
}

/// Awaits every post of a round and counts its outcome; the first error, if any, only after
/// them all: dropping the set would abort the posts in flight, and each aborted one would be
/// sent again once its lease ran out.
async fn drain(
    mut posts: tokio::task::JoinSet<Result<Pushed, StoreError>>,
    mut round: PushRound,
) -> Result<PushRound, StoreError> {
    let mut first_error = None;
    while let Some(done) = posts.join_next().await {
        match done {
            Ok(Ok(Pushed::Delivered)) => round.delivered += 1,
            Ok(Ok(Pushed::Failed)) => round.failed += 1,
            Ok(Ok(Pushed::Cancelled)) => round.cancelled += 1,
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(e) => {
                first_error.get_or_insert(StoreError::Unavailable(format!(
                    "a delivery task failed: {e}"
                )));
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(round),
    }
}

enum Pushed {
    Delivered,
    Failed,
    Cancelled,
}

async fn push_one<S: Store>(
    state: &AppState<S>,
    client: &reqwest::Client,
    d: &Delivery,
    token: &str,
) -> Result<Pushed, StoreError> {
    let config = &state.config.delivery;
    let store = &state.store;
    let now = (state.clock)();
    let (content, address) = match may_send(store, &state.config.engine.rules, d, now).await? {
        Ok(ok) => ok,
        Err(reason) => {
            finish(store, d, token, DeliveryOutcome::Cancelled { reason }, now).await?;
            return Ok(Pushed::Cancelled);
        }
    };
    let Some(target) = config.targets.get(&d.channel) else {
        return Ok(Pushed::Failed);
    };
    let body = payload(d, &content, address.as_deref()).to_string();
    let mut request = client
        .post(&target.url)
        .timeout(Duration::from_millis(config.timeout_ms))
        .header("content-type", "application/json")
        .header("idempotency-key", &d.delivery_id);
    if let Some(secret) = &target.secret {
        request = request.header(
            "x-openclm-signature",
            signature(secret, now.millis().div_euclid(1000), body.as_bytes()),
        );
    }
    let answer = request.body(body).send().await;
    let now = (state.clock)();
    let error = match answer {
        Ok(r) if r.status().is_success() => {
            record_receipt(store, d, now).await?;
            finish(store, d, token, DeliveryOutcome::Delivered, now).await?;
            return Ok(Pushed::Delivered);
        }
        Ok(r) => format!("http_{}", r.status().as_u16()),
        Err(e) if e.is_timeout() => "timeout".to_owned(),
        Err(e) if e.is_connect() => "connection_failed".to_owned(),
        Err(_) => "request_failed".to_owned(),
    };
    tracing::debug!(delivery = %d.delivery_id, attempt = d.attempts, %error, "a delivery attempt failed");
    let outcome = config.after_failure(d.attempts, error, now);
    finish(store, d, token, outcome, now).await?;
    Ok(Pushed::Failed)
}

/// Pushes due deliveries every `poll_ms` until the process ends, draining full batches at once;
/// `None` when no channel has a webhook (deliveries then wait to be pulled).
pub fn spawn_delivery_pusher<S: Store>(state: AppState<S>) -> Option<tokio::task::JoinHandle<()>> {
    if state.config.delivery.targets.is_empty() {
        return None;
    }
    Some(tokio::spawn(async move {
        // A redirect is an answer like any other non-2xx: following it would post the HCP's
        // address to a place nobody configured.
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(state.config.delivery.timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        let mut tick =
            tokio::time::interval(Duration::from_millis(state.config.delivery.poll_ms.max(1)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            loop {
                match push_due(&state, &client).await {
                    Ok(round) if round.leased >= state.config.delivery.batch_size.max(1) => {}
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "pushing deliveries failed; retried at the next round");
                        break;
                    }
                }
            }
        }
    }))
}

// ---- the pull API ----------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct NextQuery {
    channel: Option<String>,
    limit: Option<String>,
}

/// `GET /v1/deliveries/next?channel=…&limit=…`: leases due deliveries of one channel to the
/// caller; those that may no longer be sent are cancelled on the way and not returned.
pub(crate) async fn next<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    q: Result<Query<NextQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    caller.require(Action::PullDeliveries)?;
    let q = query(q)?;
    let channel = Channel::parse(
        "channel",
        q.channel
            .as_deref()
            .ok_or_else(|| FieldError::missing("channel"))?,
    )?;
    let limit = match q.limit.as_deref() {
        None => 100,
        Some(text) => match text.parse::<usize>() {
            Ok(n @ 1..=1000) => n,
            _ => {
                return Err(
                    FieldError::new("limit", "must be a whole number from 1 to 1000").into(),
                );
            }
        },
    };
    let config = &state.config.delivery;
    let token = lease_token();
    let now = (state.clock)();
    let leased = state
        .store
        .claim_deliveries(DeliveryClaim {
            channels: vec![channel],
            limit,
            lease_ms: config.lease_ms,
            max_attempts: config.max_attempts,
            token: token.clone(),
            now,
        })
        .await?;
    let mut offered = Vec::with_capacity(leased.len());
    for d in &leased {
        match may_send(&state.store, &state.config.engine.rules, d, now).await? {
            Ok((content, address)) => offered.push(payload(d, &content, address.as_deref())),
            Err(reason) => {
                finish(
                    &state.store,
                    d,
                    &token,
                    DeliveryOutcome::Cancelled { reason },
                    now,
                )
                .await?
            }
        }
    }
    Ok(Json(json!({
        "lease_token": token,
        "lease_expires_at": Timestamp::from_millis(now.millis() + config.lease_ms),
        "deliveries": offered,
    }))
    .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AckBody {
    lease_token: String,
    outcome: String,
    error: Option<String>,
}

/// `POST /v1/deliveries/{id}/ack`: what came of a pulled delivery, under its lease.
pub(crate) async fn ack<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require(Action::PullDeliveries)?;
    let body: AckBody = body_json(&body)?;
    let delivered = match body.outcome.as_str() {
        "delivered" => true,
        "failed" => false,
        other => {
            return Err(FieldError::new(
                "outcome",
                format!("unknown outcome {other:?}; expected delivered or failed"),
            )
            .into());
        }
    };
    let error = match (delivered, body.error.as_deref()) {
        (true, _) => None,
        (false, None) => Some("failed".to_owned()),
        (false, Some(code)) => Some(openclm_core::hcp::parse_identifier("error", code).and_then(
            |c| {
                if c.len() > 64 {
                    Err(FieldError::new(
                        "error",
                        "must be an error code of at most 64 bytes",
                    ))
                } else {
                    Ok(c)
                }
            },
        )?),
    };
    let now = (state.clock)();
    let store = &state.store;
    let Some(current) = store.get_delivery(id.clone()).await? else {
        return Err(ApiError::NotFound("delivery".into()));
    };
    let outcome = match error {
        None => DeliveryOutcome::Delivered,
        Some(error) => state
            .config
            .delivery
            .after_failure(current.attempts, error, now),
    };
    let answer = openclm_store::answer_lease(&current, &body.lease_token, &outcome)
        .map_err(ApiError::Conflict)?;
    if answer == LeaseAnswer::Unchanged {
        return Ok(Json(json!({ "delivery": current })).into_response());
    }
    if outcome == DeliveryOutcome::Delivered {
        record_receipt(store, &current, now).await?;
    }
    log_outcome(&current, &outcome);
    match store
        .finish_delivery(id, body.lease_token, outcome, now)
        .await?
    {
        None => Err(ApiError::NotFound("delivery".into())),
        Some(Err(e)) => Err(ApiError::Conflict(e)),
        Some(Ok(d)) => Ok(Json(json!({ "delivery": d })).into_response()),
    }
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    pub status: Option<String>,
    pub channel: Option<String>,
    #[serde(flatten)]
    #[param(ignore)]
    pub page: PageQuery,
}

/// `GET /v1/deliveries?status=…&channel=…`: the queue, by delivery id, paged.
pub(crate) async fn list<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    caller.require(Action::ReadDeliveries)?;
    let q = query(q)?;
    let filter = DeliveryFilter {
        status: q
            .status
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| DeliveryStatus::parse("status", s))
            .transpose()?,
        channel: q
            .channel
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|c| Channel::parse("channel", c))
            .transpose()?,
    };
    let page = state.store.list_deliveries(filter, q.page.parse()?).await?;
    Ok(Json(json!({"deliveries": page.items, "next_cursor": page.next_cursor})).into_response())
}

/// `GET /v1/deliveries/summary`: how many deliveries stand in each status per channel.
pub(crate) async fn summary<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.require(Action::ReadDeliveries)?;
    let counts = state.store.delivery_counts().await?;
    Ok(Json(json!({ "counts": counts })).into_response())
}

/// `POST /v1/deliveries/{id}/retry`: a dead letter back in the queue, due now.
pub(crate) async fn retry<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Action::RetryDeliveries)?;
    match state.store.retry_delivery(id, (state.clock)()).await? {
        None => Err(ApiError::NotFound("delivery".into())),
        Some(Err(e)) => Err(ApiError::Conflict(e)),
        Some(Ok(d)) => {
            tracing::info!(delivery = %d.delivery_id, caller = %caller.actor(), "a dead letter was put back in the queue");
            Ok(Json(json!({ "delivery": d })).into_response())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A store error in one post leaves the others to finish: a post aborted after it went out
    /// would be sent a second time.
    #[tokio::test(start_paused = true)]
    async fn a_store_error_waits_for_the_posts_in_flight() {
        let recorded = Arc::new(AtomicBool::new(false));
        let mut posts = tokio::task::JoinSet::new();
        posts.spawn(async { Err(StoreError::Unavailable("the database went away".into())) });
        let slow = recorded.clone();
        posts.spawn(async move {
            tokio::time::sleep(Duration::from_secs(5)).await;
            slow.store(true, Ordering::SeqCst);
            Ok(Pushed::Delivered)
        });
        let result = drain(posts, PushRound::default()).await;
        assert!(
            matches!(&result, Err(StoreError::Unavailable(why)) if why == "the database went away"),
            "{result:?}"
        );
        assert!(recorded.load(Ordering::SeqCst));
    }
}
