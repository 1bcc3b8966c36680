//! Who may do what: roles and the permission policy, API keys, passwords and login sessions.
//!
//! The policy is one table ([`Role::scope`]); everything not listed there is denied.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fmt;

use crate::FieldError;

/// What a user or an API key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Role {
    /// Everything, including users and keys.
    Admin,
    /// Brand / omnichannel marketer: content drafts, campaigns, reports, next best actions.
    Marketer,
    /// Medical, legal and regulatory review: approves and withdraws content.
    MlrReviewer,
    /// Field representative: only the HCPs of their territories.
    Rep,
    /// Pharmacovigilance: the potential adverse-event queue.
    PvOfficer,
    /// Consent, access and erasure requests, the audit trail.
    PrivacyOfficer,
    /// Reads reports, campaigns, content and profiles; changes nothing.
    Analyst,
    /// A machine that loads data: events, HCP master data, content drafts, reps.
    Ingest,
    /// A tracking SDK's write key, which ships inside web pages and apps and so is public: it
    /// may only send tracking messages, which cannot change consent or master data.
    Tracking,
}

/// An operation a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    IngestEvents,
    /// Send messages to the Segment-compatible tracking API.
    Track,
    WriteHcps,
    ReadHcps,
    Decide,
    ReadContent,
    WriteContent,
    ReviewContent,
    WithdrawContent,
    ReadCampaigns,
    WriteCampaigns,
    ReadReports,
    ManageReps,
    ReadSuggestions,
    ActOnSuggestions,
    ReadAeCases,
    TriageAeCases,
    WriteConsent,
    ReadAudit,
    PrivacyRequests,
    ManageUsers,
    /// A delivery system leases due deliveries and reports what came of them.
    PullDeliveries,
    ReadDeliveries,
    /// Puts dead letters back in the delivery queue.
    RetryDeliveries,
}

impl Action {
    pub const ALL: [Action; 24] = [
        Action::IngestEvents,
        Action::Track,
        Action::WriteHcps,
        Action::ReadHcps,
        Action::Decide,
        Action::ReadContent,
        Action::WriteContent,
        Action::ReviewContent,
        Action::WithdrawContent,
        Action::ReadCampaigns,
        Action::WriteCampaigns,
        Action::ReadReports,
        Action::ManageReps,
        Action::ReadSuggestions,
        Action::ActOnSuggestions,
        Action::ReadAeCases,
        Action::TriageAeCases,
        Action::WriteConsent,
        Action::ReadAudit,
        Action::PrivacyRequests,
        Action::ManageUsers,
        Action::PullDeliveries,
        Action::ReadDeliveries,
        Action::RetryDeliveries,
    ];
}

impl Action {
    /// What a refusal calls this action when only a person may do it: the MLR reviewer's
    /// return, approval and withdrawal, the PV officer's reading and triage of cases (which
    /// hold what was reported), and the privacy officer's access export and erasure. These are
    /// a named person's acts, answerable in the audit trail; an API key, whatever its role, is
    /// a machine and may not do them. `None` for everything else.
    pub fn personal(self) -> Option<&'static str> {
        match self {
            Action::ReviewContent => Some("approving or returning content"),
            Action::WithdrawContent => Some("withdrawing content"),
            Action::ReadAeCases => Some("reading adverse-event cases"),
            Action::TriageAeCases => Some("triaging adverse-event cases"),
            Action::PrivacyRequests => Some("a data-subject access export or erasure"),
            _ => None,
        }
    }
}

/// How far a permission reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Not allowed.
    Denied,
    /// Only records of the caller's own territories (HCPs, reps, their suggestions).
    OwnTerritories,
    /// Every record.
    All,
}

impl Role {
    pub const ALL: [Role; 9] = [
        Role::Admin,
        Role::Marketer,
        Role::MlrReviewer,
        Role::Rep,
        Role::PvOfficer,
        Role::PrivacyOfficer,
        Role::Analyst,
        Role::Ingest,
        Role::Tracking,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Marketer => "marketer",
            Role::MlrReviewer => "mlr_reviewer",
            Role::Rep => "rep",
            Role::PvOfficer => "pv_officer",
            Role::PrivacyOfficer => "privacy_officer",
            Role::Analyst => "analyst",
            Role::Ingest => "ingest",
            Role::Tracking => "tracking",
        }
    }

    /// Parses a role name; `read`, the name of the read-only role before there were users, reads
    /// as `analyst`.
    pub fn parse(field: &str, text: &str) -> Result<Self, FieldError> {
        if text == "read" {
            return Ok(Role::Analyst);
        }
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == text)
            .ok_or_else(|| {
                FieldError::new(
                    field,
                    format!(
                        "unknown role {text:?}; expected one of {}",
                        Self::ALL.map(Role::as_str).join(", ")
                    ),
                )
            })
    }

    /// Whether an API key (a machine, not a person) may carry this role. The duties of a rep,
    /// a reviewer, a PV officer and a privacy officer are personal: they need a user account.
    pub fn allowed_for_keys(self) -> bool {
        matches!(
            self,
            Role::Admin | Role::Marketer | Role::Analyst | Role::Ingest | Role::Tracking
        )
    }

    /// The permission policy: how far `action` reaches for this role. Deny by default.
    pub fn scope(self, action: Action) -> Scope {
        use Action as A;
        let all = match self {
            Role::Admin => true,
            Role::Marketer => matches!(
                action,
                A::ReadHcps
                    | A::Decide
                    | A::ReadContent
                    | A::WriteContent
                    | A::ReadCampaigns
                    | A::WriteCampaigns
                    | A::ReadReports
                    | A::ReadSuggestions
                    | A::ReadDeliveries
                    | A::RetryDeliveries
            ),
            Role::MlrReviewer => matches!(
                action,
                A::ReadContent | A::ReviewContent | A::WithdrawContent
            ),
            Role::Rep => {
                return match action {
                    A::ReadContent => Scope::All,
                    A::ReadHcps | A::Decide | A::ReadSuggestions | A::ActOnSuggestions => {
                        Scope::OwnTerritories
                    }
                    _ => Scope::Denied,
                };
            }
            Role::PvOfficer => matches!(action, A::ReadAeCases | A::TriageAeCases | A::ReadHcps),
            Role::PrivacyOfficer => matches!(
                action,
                A::ReadHcps | A::WriteConsent | A::ReadAudit | A::PrivacyRequests
            ),
            Role::Analyst => matches!(
                action,
                A::ReadHcps
                    | A::ReadContent
                    | A::ReadCampaigns
                    | A::ReadReports
                    | A::ReadSuggestions
                    | A::ReadDeliveries
            ),
            // A CRM integration also relays reps' answers to their suggestions.
            Role::Ingest => matches!(
                action,
                A::IngestEvents
                    | A::Track
                    | A::WriteHcps
                    | A::WriteContent
                    | A::ManageReps
                    | A::WriteConsent
                    | A::ActOnSuggestions
                    | A::PullDeliveries
            ),
            Role::Tracking => matches!(action, A::Track),
        };
        if all { Scope::All } else { Scope::Denied }
    }

    /// Whether the role may do `action` on at least some records.
    pub fn allows(self, action: Action) -> bool {
        self.scope(action) != Scope::Denied
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Fewer characters than this is refused.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// More is refused too: hashing a megabyte on every login attempt would be a way to stall the
/// server.
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Failed logins in a row after which an account is locked for [`LOCKOUT_MS`].
pub const MAX_FAILED_LOGINS: u32 = 5;
pub const LOCKOUT_MS: i64 = 15 * 60 * 1000;

/// Checks the password policy; names `field` in the error.
pub fn check_password(field: &str, password: &str) -> Result<(), FieldError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(FieldError::new(
            field,
            format!("must be at least {MIN_PASSWORD_CHARS} characters (got {chars})"),
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(FieldError::new(
            field,
            format!("must be at most {MAX_PASSWORD_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// Hashes a password with Argon2id (the crate's defaults, OWASP's recommended minimum) and a
/// random 16-byte salt, as a PHC string.
pub fn hash_password(password: &str, rng: &mut impl RngCore) -> Result<String, FieldError> {
    let mut salt = [0u8; 16];
    rng.fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt)
        .map_err(|e| FieldError::new("password", format!("cannot salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| FieldError::new("password", format!("cannot hash: {e}")))
}

/// Whether `password` is the one `stored` (a PHC string) was made from. A malformed stored hash
/// verifies nothing.
pub fn verify_password(password: &str, stored: &str) -> bool {
    password.len() <= MAX_PASSWORD_BYTES
        && PasswordHash::new(stored).is_ok_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
}

/// A person's account, as stored (without the password hash).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    pub user_id: String,
    /// The printed name an electronic signature carries.
    pub display_name: String,
    pub role: Role,
    /// For reps: the territories whose HCPs they may see and act on.
    pub territories: Vec<String>,
    pub created_at: crate::Timestamp,
    pub disabled_at: Option<crate::Timestamp>,
}

/// A new account as an administrator asks for it, before validation.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserInput {
    pub user_id: Option<String>,
    pub display_name: Option<String>,
    pub role: Option<String>,
    #[serde(default)]
    pub territories: Vec<String>,
    pub password: Option<String>,
}

impl UserInput {
    /// Validates the account and the password; returns the user and the password to hash.
    pub fn validate(self, now: crate::Timestamp) -> Result<(User, String), FieldError> {
        let user_id = crate::hcp::parse_identifier(
            "user_id",
            self.user_id
                .as_deref()
                .ok_or_else(|| FieldError::new("user_id", "is required"))?,
        )?;
        let display_name = self
            .display_name
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty())
            .ok_or_else(|| {
                FieldError::new("display_name", "is required (the name a signature prints)")
            })?;
        if display_name.chars().count() > 200 {
            return Err(FieldError::new(
                "display_name",
                "must be at most 200 characters",
            ));
        }
        let role = Role::parse(
            "role",
            self.role
                .as_deref()
                .ok_or_else(|| FieldError::new("role", "is required"))?,
        )?;
        let mut territories = Vec::new();
        for (i, t) in self.territories.iter().enumerate() {
            territories.push(crate::hcp::parse_identifier(
                &format!("territories[{i}]"),
                t,
            )?);
        }
        territories.sort();
        territories.dedup();
        if role == Role::Rep && territories.is_empty() {
            return Err(FieldError::new(
                "territories",
                "a rep needs at least one territory",
            ));
        }
        if role != Role::Rep && !territories.is_empty() {
            return Err(FieldError::new(
                "territories",
                "only reps are bound to territories",
            ));
        }
        let password = self
            .password
            .ok_or_else(|| FieldError::new("password", "is required"))?;
        check_password("password", &password)?;
        Ok((
            User {
                user_id,
                display_name,
                role,
                territories,
                created_at: now,
                disabled_at: None,
            },
            password,
        ))
    }
}

const SESSION_PREFIX: &str = "oclms";

/// A new login session: the token is given to the client once; only its hash is stored.
pub struct NewSession {
    pub token: String,
    pub hash: String,
}

impl NewSession {
    pub fn generate(rng: &mut impl RngCore) -> Self {
        let mut secret = [0u8; 32];
        rng.fill_bytes(&mut secret);
        let token = format!("{SESSION_PREFIX}_{}", hex::encode(secret));
        let hash = hash_key(&token);
        Self { token, hash }
    }
}

/// Whether a presented credential has the shape of a session token.
pub fn is_session_token(presented: &str) -> bool {
    presented
        .strip_prefix(SESSION_PREFIX)
        .and_then(|r| r.strip_prefix('_'))
        .is_some_and(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
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
        assert!(Role::Admin.allows(Action::ManageUsers));
        assert!(Role::Ingest.allows(Action::IngestEvents));
        assert!(!Role::Ingest.allows(Action::ReadHcps));
        assert!(!Role::Analyst.allows(Action::IngestEvents));
        assert!(!Role::Marketer.allows(Action::ReviewContent));
        assert!(!Role::MlrReviewer.allows(Action::ReadHcps));
        assert_eq!(Role::Rep.scope(Action::ReadHcps), Scope::OwnTerritories);
        assert_eq!(Role::Rep.scope(Action::ReadAeCases), Scope::Denied);
        assert_eq!(Role::parse("role", "read").unwrap(), Role::Analyst);
        // Only admin and PV see adverse-event cases.
        let pv: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| r.allows(Action::ReadAeCases))
            .collect();
        assert_eq!(pv, [Role::Admin, Role::PvOfficer]);
    }

    #[test]
    fn review_pv_and_privacy_steps_are_personal_and_machine_work_is_not() {
        let personal: Vec<Action> = Action::ALL
            .into_iter()
            .filter(|a| a.personal().is_some())
            .collect();
        assert_eq!(
            personal,
            [
                Action::ReviewContent,
                Action::WithdrawContent,
                Action::ReadAeCases,
                Action::TriageAeCases,
                Action::PrivacyRequests
            ]
        );
        // What machines are for stays open to keys.
        for action in [
            Action::IngestEvents,
            Action::WriteContent,
            Action::PullDeliveries,
        ] {
            assert_eq!(action.personal(), None, "{action:?}");
        }
    }

    #[test]
    fn passwords_are_checked_hashed_and_verified() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let short = check_password("password", "short-pass1").unwrap_err();
        assert_eq!(short.field, "password");
        assert!(short.reason.contains("at least 12"), "{}", short.reason);
        check_password("password", "twelve chars").unwrap();
        let hash = hash_password("correct horse battery", &mut rng).unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse batterz", &hash));
        assert!(!verify_password("correct horse battery", "not a hash"));
        let again = hash_password("correct horse battery", &mut rng).unwrap();
        assert_ne!(hash, again, "each hash has its own salt");
    }

    #[test]
    fn session_tokens_have_their_own_shape() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let s = NewSession::generate(&mut rng);
        assert!(is_session_token(&s.token));
        assert_eq!(key_id_of(&s.token), None);
        assert_eq!(s.hash, hash_key(&s.token));
        let key = NewApiKey::generate(&mut rng);
        assert!(!is_session_token(&key.secret));
    }
}
