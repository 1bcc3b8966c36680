//! API keys and roles: what a key may do, how a key is made and how it is checked.

use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fmt;

use crate::FieldError;

/// What an API key is for. Deny by default: a role may do only what [`Role::allows`] lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything.
    Admin,
    /// A machine that loads data: events, HCP master data, content.
    Ingest,
    /// Reads everything, changes nothing.
    Read,
}

/// An operation a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    WriteEvents,
    WriteMasterData,
    Read,
    Administer,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Ingest, Role::Read];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Ingest => "ingest",
            Role::Read => "read",
        }
    }

    pub fn parse(field: &str, text: &str) -> Result<Self, FieldError> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == text)
            .ok_or_else(|| {
                FieldError::new(
                    field,
                    format!("unknown role {text:?}; expected admin, ingest or read"),
                )
            })
    }

    pub fn allows(self, action: Action) -> bool {
        match self {
            Role::Admin => true,
            Role::Ingest => matches!(action, Action::WriteEvents | Action::WriteMasterData),
            Role::Read => matches!(action, Action::Read),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

const KEY_PREFIX: &str = "oclm";

/// A newly made API key: the secret is shown once; only its hash is stored.
pub struct NewApiKey {
    pub key_id: String,
    pub secret: String,
    pub hash: String,
}

impl NewApiKey {
    /// Makes a key from the given random source: `oclm_<12 hex id>_<64 hex secret>`.
    pub fn generate(rng: &mut impl RngCore) -> Self {
        let mut id = [0u8; 6];
        let mut secret = [0u8; 32];
        rng.fill_bytes(&mut id);
        rng.fill_bytes(&mut secret);
        let key_id = hex::encode(id);
        let full = format!("{KEY_PREFIX}_{key_id}_{}", hex::encode(secret));
        let hash = hash_key(&full);
        Self {
            key_id,
            secret: full,
            hash,
        }
    }
}

/// The key id a presented key claims, if it has the shape of an OpenCLM key.
pub fn key_id_of(presented: &str) -> Option<&str> {
    let rest = presented.strip_prefix(KEY_PREFIX)?.strip_prefix('_')?;
    let (id, secret) = rest.split_once('_')?;
    (id.len() == 12 && secret.len() == 64).then_some(id)
}

/// SHA-256 of the whole key, hex. Keys carry 256 random bits, so a fast hash is the right one.
pub fn hash_key(presented: &str) -> String {
    hex::encode(Sha256::digest(presented.as_bytes()))
}

/// Compares a presented key against a stored hash in time independent of where they differ.
pub fn key_matches(presented: &str, stored_hash: &str) -> bool {
    let computed = hash_key(presented);
    computed.len() == stored_hash.len()
        && computed
            .bytes()
            .zip(stored_hash.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn a_generated_key_verifies_and_a_changed_one_does_not() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let key = NewApiKey::generate(&mut rng);
        assert_eq!(key_id_of(&key.secret), Some(key.key_id.as_str()));
        assert!(key_matches(&key.secret, &key.hash));
        let mut tampered = key.secret.clone();
        tampered.pop();
        tampered.push('x');
        assert!(!key_matches(&tampered, &key.hash));
        assert_eq!(key_id_of("Bearer nonsense"), None);
    }

    #[test]
    fn roles_deny_by_default() {
        assert!(Role::Admin.allows(Action::Administer));
        assert!(Role::Ingest.allows(Action::WriteEvents));
        assert!(!Role::Ingest.allows(Action::Read));
        assert!(!Role::Read.allows(Action::WriteEvents));
        assert!(!Role::Read.allows(Action::WriteMasterData));
    }
}
