//! `POST /v1/webhooks/sendgrid`: SendGrid's Event Webhook, authenticated by its signature or an
//! API key, answered per notification so that SendGrid (which retries any non-2xx for days)
//! never resends a batch for one bad notification.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use openclm_app::sendgrid::NotificationReport;
use openclm_core::auth::Action;
use openclm_core::sendgrid;
use openclm_store::prelude::*;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use serde_json::Value;

use crate::{ApiError, AppState};

pub(crate) fn routes<S: Store>() -> axum::Router<crate::AppState<S>> {
    use axum::routing::post;
    axum::Router::new().route("/v1/webhooks/sendgrid", post(webhook::<S>))
}

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

pub(crate) async fn webhook<S: Store>(
    State(state): State<AppState<S>>,
    request: Request,
) -> Result<Json<NotificationReport>, ApiError> {
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
    let notifications: Vec<_> = items.iter().map(sendgrid::parse).collect();
    drop(items);
    let report =
        openclm_app::sendgrid::record(&state.store, notifications, (state.clock)()).await?;
    Ok(Json(report))
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
    crate::extract::read_limited(headers, body, limit, too_large).await
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
