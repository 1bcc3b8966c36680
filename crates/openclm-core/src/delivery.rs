//! The outbound delivery queue's rules: which decisions a delivery system sends, the states of
//! a delivery, how long to wait before the next attempt, and the webhook signature.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{Channel, FieldError};

/// Whether a decision on this channel is sent by a delivery system (email, SMS, app, web,
/// banner, webinar invitation, mail...). Face-to-face and remote details are made by reps: their
/// decisions reach people as rep suggestions, not through the queue.
pub fn delivered_by_system(channel: Channel) -> bool {
    !matches!(channel, Channel::FaceToFace | Channel::RemoteDetail)
}

/// Channels whose delivery system needs the HCP's address from OpenCLM: the payload then
/// carries it. Other channels' systems address the HCP by id.
pub fn needs_address(channel: Channel) -> bool {
    channel == Channel::Email
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt, or leased to a sender now.
    Pending,
    /// A delivery system took it.
    Delivered,
    /// Every attempt failed; kept for a person to look at and retry.
    Dead,
    /// Stopped before it was sent, with the reason (content no longer approved, consent gone).
    Cancelled,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 4] = [
        DeliveryStatus::Pending,
        DeliveryStatus::Delivered,
        DeliveryStatus::Dead,
        DeliveryStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Dead => "dead",
            DeliveryStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(field: &str, text: &str) -> Result<Self, FieldError> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| {
                FieldError::new(
                    field,
                    format!(
                        "unknown delivery status {text:?}; expected one of {}",
                        Self::ALL.map(Self::as_str).join(", ")
                    ),
                )
            })
    }
}

impl std::fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Exponential backoff with jitter: after the `attempt`-th failure (1 for the first), the wait
/// is drawn by `unit` (in [0, 1)) from the upper half of `base × 2^(attempt−1)`, and is at most
/// `cap`. Keeping the lower half out means waits never shrink from one attempt to the next,
/// while senders that failed together still spread apart.
pub fn backoff_ms(attempt: u32, base_ms: i64, cap_ms: i64, unit: f64) -> i64 {
    let exp = attempt.saturating_sub(1).min(40);
    let full = base_ms.max(1).saturating_mul(1_i64 << exp);
    let half = full / 2;
    let drawn = half + ((full - half) as f64 * unit.clamp(0.0, 1.0)) as i64;
    drawn.min(cap_ms.max(1))
}

/// Whether a receiver's HTTP status says the item was taken.
pub fn accepted(status: u16) -> bool {
    (200..300).contains(&status)
}

/// HMAC-SHA256 (RFC 2104) of `message` under `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// The webhook signature header's value: `t=<unix seconds>,v1=<hex HMAC-SHA256 of
/// "<unix seconds>.<body>">`. The timestamp inside the signed text lets a receiver refuse old
/// replays; the body is signed byte for byte as sent.
pub fn signature(secret: &str, unix_seconds: i64, body: &[u8]) -> String {
    let mut signed = format!("{unix_seconds}.").into_bytes();
    signed.extend_from_slice(body);
    format!(
        "t={unix_seconds},v1={}",
        hex::encode(hmac_sha256(secret.as_bytes(), &signed))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2.
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block is hashed first.
        assert_eq!(
            hex::encode(hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn signature_signs_time_and_body() {
        let s = signature("secret", 1_700_000_000, b"{}");
        let expected = hex::encode(hmac_sha256(b"secret", b"1700000000.{}"));
        assert_eq!(s, format!("t=1700000000,v1={expected}"));
    }

    #[test]
    fn backoff_grows_and_stops_at_the_cap() {
        assert_eq!(backoff_ms(1, 1000, 60_000, 0.0), 500);
        assert_eq!(backoff_ms(1, 1000, 60_000, 0.999), 999);
        assert_eq!(backoff_ms(2, 1000, 60_000, 0.0), 1000);
        assert_eq!(backoff_ms(3, 1000, 60_000, 0.5), 3000);
        assert_eq!(backoff_ms(30, 1000, 60_000, 0.0), 60_000);
        assert_eq!(backoff_ms(u32::MAX, 1000, 60_000, 1.0), 60_000);
        // Whatever the draws, a wait is never shorter than the one before.
        for attempt in 1..20 {
            assert!(
                backoff_ms(attempt + 1, 700, 50_000, 0.0) >= backoff_ms(attempt, 700, 50_000, 1.0)
            );
        }
    }

    #[test]
    fn reps_deliver_details_systems_the_rest() {
        assert!(!delivered_by_system(Channel::FaceToFace));
        assert!(!delivered_by_system(Channel::RemoteDetail));
        assert!(delivered_by_system(Channel::Email));
        assert!(delivered_by_system(Channel::Webinar));
        assert_eq!(
            DeliveryStatus::parse("status", "dead").unwrap(),
            DeliveryStatus::Dead
        );
        assert_eq!(
            DeliveryStatus::parse("status", "gone").unwrap_err().field,
            "status"
        );
    }
}
