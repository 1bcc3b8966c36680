//! Who may call OpenCLM: API keys, people's accounts and their login sessions.

use openclm_core::Timestamp;
use openclm_core::audit::NewAudit;
use openclm_core::auth::User;
use serde::Serialize;

use crate::Result;

/// An API key as stored (its hash, never the key).
#[derive(Debug, Clone, Serialize)]
pub struct ApiKeyRecord {
    pub key_id: String,
    #[serde(skip)]
    pub hash: String,
    pub role: String,
    pub label: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// A person's account as stored, with what login needs.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub user: User,
    pub password_hash: String,
    pub failed_logins: u32,
    pub locked_until: Option<Timestamp>,
}

/// How long a login session lives.
#[derive(Debug, Clone, Copy)]
pub struct SessionLimits {
    /// Ended after this long without a request.
    pub idle_ms: i64,
    /// Ended this long after login, however busy.
    pub max_ms: i64,
}

impl SessionLimits {
    /// The longest a request may go unrecorded: a request within this of the session's last
    /// recorded use writes nothing, so a busy session (the dashboard polls every 2 s) costs a
    /// write at most this often, not on every request. A 120th of the idle time (0.5 s for one
    /// minute, 15 s for the default 30), never more than a minute.
    pub fn touch_every_ms(self) -> i64 {
        (self.idle_ms / 120).clamp(0, 60_000)
    }

    /// Whether a request at `now` must record itself as the session's last use.
    pub fn needs_touch(self, last_seen: i64, now: i64) -> bool {
        !(0..=self.touch_every_ms()).contains(&(now - last_seen))
    }

    /// Whether a session made at `created` and last recorded as used at `last_seen` is still
    /// live at `now`. A request after `last_seen` may have gone unrecorded (up to
    /// `touch_every_ms` later), so the idle time counts from the latest moment that request can
    /// have been: activity always keeps a session alive, and silence ends it between `idle_ms`
    /// and `idle_ms + touch_every_ms` after the last request.
    pub fn live(self, created: i64, last_seen: i64, now: i64) -> bool {
        now - last_seen <= self.idle_ms + self.touch_every_ms() && now - created <= self.max_ms
    }
}

crate::store::store_trait! {
    /// Who may call OpenCLM: API keys, people's accounts and their login sessions.
    pub trait Access {
        /// Stores a new key with its audit entry.
        async fn create_api_key(
            &self,
            key: ApiKeyRecord,
            audit: NewAudit,
            now: Timestamp,
        ) -> Result<()>;
        async fn find_api_key(&self, key_id: String) -> Result<Option<ApiKeyRecord>>;
        async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>>;
        /// Revokes a key; false when there is no such key.
        /// Revokes an active key; `false` if there is no active key with this id.
        async fn revoke_api_key(&self, key_id: String, audit: NewAudit, now: Timestamp)
        -> Result<bool>;

        /// Creates an account; `false` if the id is taken.
        async fn create_user(&self, user: User, password_hash: String, audit: NewAudit)
        -> Result<bool>;
        async fn find_user(&self, user_id: String) -> Result<Option<UserRecord>>;
        async fn list_users(&self) -> Result<Vec<User>>;
        /// Disables an account and ends its sessions; `false` if there is no such account.
        async fn disable_user(
            &self,
            user_id: String,
            audit: NewAudit,
            now: Timestamp,
        ) -> Result<bool>;
        /// Before a password is checked (`succeeded` false): counts the attempt as failed unless
        /// the account is locked or disabled, locking it once too many have failed in a row;
        /// `false` when the attempt may not proceed. After a password matched (`succeeded` true):
        /// clears the count. Counting first means parallel guesses cannot exceed the limit.
        async fn record_login(
            &self,
            user_id: String,
            succeeded: bool,
            now: Timestamp,
        ) -> Result<bool>;
        async fn create_session(
            &self,
            token_hash: String,
            user_id: String,
            now: Timestamp,
        ) -> Result<()>;
        /// The session's user if the session is live (not ended, idle or too old, the account not
        /// disabled), marking it used now; a session found dead is ended.
        async fn touch_session(
            &self,
            token_hash: String,
            now: Timestamp,
            limits: SessionLimits,
        ) -> Result<Option<User>>;
        async fn end_session(&self, token_hash: String, now: Timestamp) -> Result<bool>;
    }
}
