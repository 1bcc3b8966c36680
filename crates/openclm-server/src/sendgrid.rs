//! `POST /v1/webhooks/sendgrid`: SendGrid's Event Webhook, authenticated by its signature or an
//! API key, answered per notification so that SendGrid (which retries any non-2xx for days)
//! never resends a batch for one bad notification.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use openclm_core::FieldError;
use openclm_core::auth::Action;
use openclm_core::sendgrid::{self, Notification};
use openclm_store::{IngestOutcome, Store, UnknownHcpPolicy};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;

use crate::{ApiError, AppState};

/// The header carrying SendGrid's signature (base64 DER ECDSA).
pub const SIGNATURE_HEADER: &str = "x-twilio-email-event-webhook-signature";
/// The header carrying the signed timestamp.
pub const TIMESTAMP_HEADER: &str = "x-twilio-email-event-webhook-timestamp";

/// SendGrid's public verification key (ECDSA P-256), as its settings page shows it: base64 of
/// the DER SubjectPublicKeyInfo.
#[derive(Debug, Clone)]
pub struct VerificationKey(VerifyingKey);

impl VerificationKey {
    /// Reads the key as SendGrid shows it (PEM armour and line breaks are tolerated).
    pub fn from_base64(text: &str) -> Result<Self, String> {
        let encoded: String = text
            .lines()
            .filter(|line| !line.trim_start().starts_with("-----"))
            .flat_map(|line| line.chars().filter(|c| !c.is_whitespace()))
            .collect();
        let der = BASE64
            .decode(encoded)
            .map_err(|_| "is not base64".to_owned())?;
        VerifyingKey::from_public_key_der(&der)
            .map(Self)
            .map_err(|_| {
                "is not an ECDSA P-256 public key (base64 DER SubjectPublicKeyInfo)".into()
            })
    }

    /// Whether `signature` (base64 DER) signs the timestamp's bytes followed by the body.
    fn verifies(&self, timestamp: &[u8], body: &[u8], signature: &str) -> bool {
        let Ok(der) = BASE64.decode(signature.trim()) else {
            return false;
        };
        let Ok(signature) = Signature::from_der(&der) else {
            return false;
        };
        // Signers need not produce the low-S form; both forms are the same signature.
        let signature = signature.normalize_s().unwrap_or(signature);
        let mut message = Vec::with_capacity(timestamp.len() + body.len());
        message.extend_from_slice(timestamp);
        message.extend_from_slice(body);
        self.0.verify(&message, &signature).is_ok()
    }
}

/// Refuses a request whose signature headers are missing or do not verify.
fn check_signature(
    key: &VerificationKey,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), ApiError> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let verified = match (text(SIGNATURE_HEADER), text(TIMESTAMP_HEADER)) {
        (Some(signature), Some(timestamp)) => key.verifies(timestamp.as_bytes(), body, signature),
        _ => false,
    };
    if verified {
        Ok(())
    } else {
        tracing::warn!("SendGrid webhook refused: missing or invalid signature");
        Err(ApiError::Forbidden(
            "the SendGrid signature is missing or does not verify; check the verification key \
             configured in [sendgrid] against SendGrid's Signed Event Webhook settings"
                .into(),
        ))
    }
}

/// The answer: counts, and one result per notification in request order.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct WebhookResponse {
    accepted: usize,
    duplicates: usize,
    conflicts: usize,
    rejected: usize,
    ignored: usize,
    results: Vec<WebhookResult>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct WebhookResult {
    index: usize,
    /// Absent when the notification's `sg_event_id` could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    event_id: Option<String>,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<FieldError>,
    /// Why an ignored notification is stored as no event.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
}

impl WebhookResult {
    fn new(index: usize, event_id: Option<String>, status: &'static str) -> Self {
        Self {
            index,
            event_id,
            status,
            error: None,
            reason: None,
        }
    }
}

pub(crate) async fn webhook<S: Store>(
    State(state): State<AppState<S>>,
    request: Request,
) -> Result<Json<WebhookResponse>, ApiError> {
    let (mut parts, body) = request.into_parts();
    let key = state.config.sendgrid_key.clone();
    // With a verification key the signature is the credential; it covers the body, so the body
    // is read first. Without one, an API key is checked before anything is read.
    if key.is_none() {
        <crate::auth::Caller as axum::extract::FromRequestParts<_>>::from_request_parts(
            &mut parts, &state,
        )
        .await?
        .require(Action::IngestEvents)?;
    }
    let body = read_body(&parts.headers, body, state.config.max_batch_bytes).await?;
    if let Some(key) = &key {
        check_signature(key, &parts.headers, &body)?;
    }
    let items = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Array(items)) => items,
        Ok(other) => {
            return Err(ApiError::BadRequest(format!(
                "the body must be a JSON array of SendGrid events, not {}",
                kind_of(&other)
            )));
        }
        Err(e) => {
            return Err(ApiError::BadRequest(format!("the body is not JSON: {e}")));
        }
    };
    let max = state.config.max_batch_events;
    if items.len() > max {
        return Err(ApiError::PayloadTooLarge(format!(
            "{} events exceed the limit of {max} per request",
            items.len()
        )));
    }
    let parsed: Vec<_> = items.iter().map(sendgrid::parse).collect();
    drop(items);

    let mut emails: Vec<String> = parsed
        .iter()
        .filter_map(|p| p.as_ref().ok())
        .filter(|n| n.ignored().is_none())
        .map(|n| n.email.clone())
        .collect();
    emails.sort_unstable();
    emails.dedup();
    let mut owners: HashMap<String, Vec<String>> = HashMap::new();
    if !emails.is_empty() {
        for (email, id) in state.store.hcps_by_email(emails).await? {
            owners
                .entry(email)
                .or_default()
                .push(id.as_str().to_owned());
        }
    }

    // Each notification's result, or how many of its events await the store's outcome.
    let mut results: Vec<Result<WebhookResult, usize>> = Vec::with_capacity(parsed.len());
    let mut events = Vec::new();
    let mut response = WebhookResponse::default();
    for (index, item) in parsed.into_iter().enumerate() {
        match item.map_err(|r| (r.event_id, r.error)).and_then(|n| {
            let event_id = n.event_id.clone();
            fate_of(n, &owners).map_err(|e| (Some(event_id), e))
        }) {
            Ok(Fate::Store(stored)) => {
                results.push(Err(stored.len()));
                events.extend(stored);
            }
            Ok(Fate::Ignored(event_id, why)) => {
                response.ignored += 1;
                let mut r = WebhookResult::new(index, Some(event_id), "ignored");
                r.reason = Some(why);
                results.push(Ok(r));
            }
            Err((event_id, error)) => {
                response.rejected += 1;
                let mut r = WebhookResult::new(index, event_id, "rejected");
                r.error = Some(error);
                results.push(Ok(r));
            }
        }
    }
    let ids: Vec<String> = events.iter().map(|e| e.event_id.clone()).collect();
    let outcomes = if events.is_empty() {
        Vec::new()
    } else {
        // Every event names an HCP found above.
        state
            .store
            .ingest(events, UnknownHcpPolicy::Reject, (state.clock)())
            .await?
    };
    let mut stored = ids.into_iter().zip(outcomes);
    for (index, slot) in results.into_iter().enumerate() {
        let result = match slot {
            Ok(done) => done,
            Err(count) => {
                let mut mine = Vec::with_capacity(count);
                for _ in 0..count {
                    let Some(next) = stored.next() else {
                        return Err(ApiError::Internal(openclm_store::StoreError::Corrupt(
                            "the store answered fewer outcomes than events".into(),
                        )));
                    };
                    mine.push(next);
                }
                // A withdrawal for several HCPs sharing an address: stored if any was, a
                // duplicate if all were, else the first refusal.
                let event_id = mine[0].0.clone();
                let outcome = if mine.iter().any(|(_, o)| *o == IngestOutcome::Accepted) {
                    IngestOutcome::Accepted
                } else if mine.iter().all(|(_, o)| *o == IngestOutcome::Duplicate) {
                    IngestOutcome::Duplicate
                } else {
                    mine.into_iter()
                        .map(|(_, o)| o)
                        .find(|o| *o != IngestOutcome::Duplicate)
                        .unwrap_or(IngestOutcome::Duplicate)
                };
                let mut r = WebhookResult::new(index, Some(event_id), "accepted");
                match outcome {
                    IngestOutcome::Accepted => response.accepted += 1,
                    IngestOutcome::Duplicate => {
                        response.duplicates += 1;
                        r.status = "duplicate";
                    }
                    IngestOutcome::Conflict => {
                        response.conflicts += 1;
                        r.status = "conflict";
                        r.error = Some(FieldError::new(
                            "sg_event_id",
                            "an event with this id is already stored with a different payload",
                        ));
                    }
                    IngestOutcome::Rejected(e) => {
                        response.rejected += 1;
                        r.status = "rejected";
                        r.error = Some(e);
                    }
                }
                r
            }
        };
        response.results.push(result);
    }
    tracing::debug!(
        accepted = response.accepted,
        duplicates = response.duplicates,
        rejected = response.rejected,
        ignored = response.ignored,
        "SendGrid notifications ingested"
    );
    Ok(Json(response))
}

/// What becomes of a readable notification.
enum Fate {
    /// Its events: one for the HCP its address names, or a withdrawal for each HCP sharing it.
    Store(Vec<openclm_core::Event>),
    /// Acknowledged as nothing: its event id and why.
    Ignored(String, &'static str),
}

/// The fate of a notification once its address is looked up: an address must name one HCP.
fn fate_of(
    notification: Notification,
    owners: &HashMap<String, Vec<String>>,
) -> Result<Fate, FieldError> {
    if let Some(why) = notification.ignored() {
        return Ok(Fate::Ignored(notification.event_id, why));
    }
    let hcp = match owners.get(&notification.email).map(Vec::as_slice) {
        Some([hcp]) => hcp.clone(),
        // An unsubscribe or spam report from a shared address stops email to every HCP who
        // gave it: honouring it too widely costs a message, missing it breaks the law.
        Some(several) if several.len() > 1 && notification.withdraws() => {
            let mut events = Vec::with_capacity(several.len());
            for hcp in several {
                match notification.withdrawal_for(hcp) {
                    Some(event) => events.push(event?),
                    None => return Err(FieldError::new("event", "was not processed")),
                }
            }
            return Ok(Fate::Store(events));
        }
        Some(several) if several.len() > 1 => {
            return Err(FieldError::new(
                "email",
                format!(
                    "the address belongs to {} HCPs; it names none of them for certain",
                    several.len()
                ),
            ));
        }
        _ => {
            return Err(FieldError::new(
                "email",
                "no HCP has this address; register it in the HCP's master data (email)",
            ));
        }
    };
    match notification.into_event(&hcp) {
        Some(event) => event.map(|e| Fate::Store(vec![e])),
        None => Err(FieldError::new("event", "was not processed")),
    }
}

/// Reads the body, refusing one over `limit` bytes before reading it when its length is declared.
async fn read_body(
    headers: &HeaderMap,
    body: axum::body::Body,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::PayloadTooLarge(format!(
            "the body exceeds the limit of {limit} bytes per request"
        ))
    };
    crate::routes::read_limited(headers, body, limit, too_large).await
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::SigningKey;
    use p256::ecdsa::signature::Signer;
    use p256::pkcs8::EncodePublicKey;

    #[test]
    fn a_signature_verifies_over_timestamp_then_body_only() {
        let signing = SigningKey::from_slice(&[7u8; 32]).unwrap();
        let public = p256::PublicKey::from(signing.verifying_key())
            .to_public_key_der()
            .unwrap();
        let key = VerificationKey::from_base64(&BASE64.encode(public.as_bytes())).unwrap();
        let signature: Signature = signing.sign(b"1764000000[{\"event\":\"open\"}]");
        let encoded = BASE64.encode(signature.to_der().as_bytes());
        assert!(key.verifies(b"1764000000", b"[{\"event\":\"open\"}]", &encoded));
        assert!(!key.verifies(b"1764000001", b"[{\"event\":\"open\"}]", &encoded));
        assert!(!key.verifies(b"1764000000", b"[{\"event\":\"click\"}]", &encoded));
        assert!(!key.verifies(b"1764000000", b"[{\"event\":\"open\"}]", "not base64!"));
        assert!(VerificationKey::from_base64("bm90IGEga2V5").is_err());
        assert!(VerificationKey::from_base64("%%%").is_err());
    }
}
