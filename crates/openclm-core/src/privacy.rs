//! Data-protection primitives: sealing personal values under a per-HCP key (so erasing the key
//! erases every sealed copy, including those in the append-only audit trail), hashed suppression
//! identifiers, and pseudonyms for erased HCPs.

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A per-HCP key for [`seal`]; 32 random bytes.
pub fn new_seal_key(rng: &mut impl RngCore) -> [u8; 32] {
    let mut key = [0u8; 32];
    rng.fill_bytes(&mut key);
    key
}

/// Encrypts `plain` under `key` (XChaCha20-Poly1305, random nonce): hex of nonce ‖ ciphertext.
pub fn seal(key: &[u8; 32], plain: &str, rng: &mut impl RngCore) -> String {
    let mut nonce = [0u8; 24];
    rng.fill_bytes(&mut nonce);
    let cipher = XChaCha20Poly1305::new(key.into());
    let sealed = cipher
        .encrypt(XNonce::from_slice(&nonce), plain.as_bytes())
        .expect("encrypting to memory cannot fail");
    let mut out = hex::encode(nonce);
    out.push_str(&hex::encode(sealed));
    out
}

/// Decrypts what [`seal`] made; `None` if the key is wrong or the text was changed.
pub fn unseal(key: &[u8; 32], sealed: &str) -> Option<String> {
    let bytes = hex::decode(sealed).ok()?;
    if bytes.len() < 24 {
        return None;
    }
    let (nonce, body) = bytes.split_at(24);
    let cipher = XChaCha20Poly1305::new(key.into());
    let plain = cipher.decrypt(XNonce::from_slice(nonce), body).ok()?;
    String::from_utf8(plain).ok()
}

/// The kinds of identifier a suppression entry can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuppressedId {
    /// An HCP's id in a source system.
    ExternalId,
    Email,
}

/// The hashed form of an identifier on the suppression list: the list stops a re-import from
/// bringing an erased or opted-out HCP back, without itself holding who they were.
pub fn suppression_hash(kind: SuppressedId, value: &str) -> String {
    let kind = match kind {
        SuppressedId::ExternalId => "external_id",
        SuppressedId::Email => "email",
    };
    let normalized = value.trim().to_lowercase();
    let mut h = Sha256::new();
    h.update(b"openclm-suppression\0");
    h.update(kind.as_bytes());
    h.update(b"\0");
    h.update(normalized.as_bytes());
    hex::encode(h.finalize())
}

/// How the audit trail names an HCP: a hash of the id, so that the trail, which is never
/// changed, holds no identifier once the HCP is erased.
pub fn hcp_record(id: &str) -> String {
    let digest = Sha256::digest(format!("openclm-hcp\0{id}").as_bytes());
    format!("hcp/{}", &hex::encode(digest)[..16])
}

/// A pseudonym for an erased HCP: random, so nothing about the person can be derived from it.
pub fn pseudonym(rng: &mut impl RngCore) -> String {
    let mut bytes = [0u8; 8];
    rng.fill_bytes(&mut bytes);
    format!("erased-{}", hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn sealed_text_opens_with_its_key_only() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let key = new_seal_key(&mut rng);
        let other = new_seal_key(&mut rng);
        let sealed = seal(&key, "Dr. Ada Byron", &mut rng);
        assert!(!sealed.contains("Ada"));
        assert_eq!(unseal(&key, &sealed).as_deref(), Some("Dr. Ada Byron"));
        assert_eq!(unseal(&other, &sealed), None);
        let mut tampered = sealed.clone();
        tampered.replace_range(60..61, if &sealed[60..61] == "0" { "1" } else { "0" });
        assert_eq!(unseal(&key, &tampered), None);
        assert_eq!(unseal(&key, "zz"), None);
    }

    #[test]
    fn suppression_hashes_ignore_case_and_spacing_but_not_kind() {
        let a = suppression_hash(SuppressedId::Email, " Ada@Example.org ");
        assert_eq!(a, suppression_hash(SuppressedId::Email, "ada@example.org"));
        assert_ne!(
            a,
            suppression_hash(SuppressedId::ExternalId, "ada@example.org")
        );
        assert_eq!(a.len(), 64);
    }
}
