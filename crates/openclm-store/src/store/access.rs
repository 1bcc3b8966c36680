//! Who may call OpenCLM: API keys, people's accounts and their login sessions.

use crate::ApiKeyRecord;
use crate::Result;
use crate::SessionLimits;
use crate::UserRecord;
use openclm_core::Timestamp;
use openclm_core::audit::NewAudit;
use openclm_core::auth::User;

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
        async fn disable_user(&self, user_id: String, audit: NewAudit, now: Timestamp) -> Result<bool>;
        /// Before a password is checked (`succeeded` false): counts the attempt as failed unless the
        /// account is locked or disabled, locking it once too many have failed in a row; `false`
        /// when the attempt may not proceed. After a password matched (`succeeded` true): clears the
        /// count. Counting first means parallel guesses cannot exceed the limit.
        async fn record_login(&self, user_id: String, succeeded: bool, now: Timestamp) -> Result<bool>;
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
