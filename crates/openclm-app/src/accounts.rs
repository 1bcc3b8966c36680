//! Accounts: signing in and out, the caller's own view of their rights, people's accounts and
//! integrations' API keys. Passwords are checked and hashed off the async threads.

use openclm_core::audit::NewAudit;
use openclm_core::auth::{
    Action, MAX_FAILED_LOGINS, NewApiKey, NewSession, Role, User, UserInput, hash_password,
    verify_password,
};
use openclm_core::{FieldError, Timestamp};
use openclm_store::{ApiKeyRecord, Store, StoreError};
use serde::{Deserialize, Serialize};

use crate::{AppError, Caller};

/// A sign-in as asked.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginInput {
    pub user_id: Option<String>,
    pub password: Option<String>,
}

/// A new session: the token is given to the client once.
#[derive(Debug, Serialize)]
pub struct SignedIn {
    pub idle_timeout_s: i64,
    pub token: String,
    pub user: User,
}

/// The same answer for an unknown user, a wrong password, a disabled or a locked account: a
/// caller learns nothing about which accounts exist.
fn login_refused() -> AppError {
    AppError::Forbidden(format!(
        "wrong user id or password, or the account is disabled or locked after {MAX_FAILED_LOGINS} failed attempts"
    ))
}

/// Checks a password off the async threads (Argon2 takes tens of milliseconds on purpose);
/// against the dummy hash when there is no real one to check, so that a refusal takes as long.
async fn password_matches(password: String, hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let dummy = hash.is_none();
        let hash = hash.unwrap_or_else(|| DUMMY_HASH.clone());
        verify_password(&password, &hash) && !dummy
    })
    .await
    .unwrap_or(false)
}

/// Verifies `user_id`'s password, counting failures and honouring the lock.
pub async fn authenticate<S: Store>(
    store: &S,
    user_id: &str,
    password: String,
    now: Timestamp,
) -> Result<User, AppError> {
    let Some(record) = store.find_user(user_id.to_owned()).await? else {
        // Spend the same time as for a real account.
        let _ = password_matches(password, None).await;
        return Err(login_refused());
    };
    // The attempt is counted as failed before the password is checked, so parallel guesses
    // cannot exceed the limit; a match then clears the count.
    if !store.record_login(user_id.to_owned(), false, now).await? {
        let _ = password_matches(password, None).await;
        tracing::warn!(user = %user_id, "login refused: account disabled or locked");
        return Err(login_refused());
    }
    if !password_matches(password, Some(record.password_hash.clone())).await {
        tracing::warn!(user = %user_id, "login failed");
        return Err(login_refused());
    }
    store.record_login(user_id.to_owned(), true, now).await?;
    Ok(record.user)
}

/// An Argon2id hash of a random password, verified against when the user does not exist (made
/// with the same parameters as real ones, so both take the same time).
static DUMMY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let mut secret = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut secret);
    hash_password(&hex_string(&secret), &mut rand::rng())
        .expect("hashing a random password into memory cannot fail")
});

fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Signs a person in: checks the password and opens a session that ends after
/// `session_idle_ms` without use.
pub async fn login<S: Store>(
    store: &S,
    input: LoginInput,
    session_idle_ms: i64,
    now: Timestamp,
) -> Result<SignedIn, AppError> {
    let user_id = input
        .user_id
        .ok_or_else(|| FieldError::new("user_id", "is required"))?;
    let password = input
        .password
        .ok_or_else(|| FieldError::new("password", "is required"))?;
    let user = authenticate(store, &user_id, password, now).await?;
    let session = NewSession::generate(&mut rand::rng());
    store
        .create_session(session.hash, user.user_id.clone(), now)
        .await?;
    tracing::info!(user = %user.user_id, "signed in");
    Ok(SignedIn {
        idle_timeout_s: session_idle_ms / 1000,
        token: session.token,
        user,
    })
}

/// Ends the caller's session, if they are signed in with one.
pub async fn logout<S: Store>(store: &S, caller: &Caller, now: Timestamp) -> Result<(), AppError> {
    if let Some(hash) = caller.session_hash.clone() {
        store.end_session(hash, now).await?;
    }
    Ok(())
}

/// Who the caller is and what their role may do.
#[derive(Debug, Serialize)]
pub struct Me {
    pub actor: String,
    pub may: Vec<String>,
    pub role: Role,
    pub user: Option<User>,
}

pub fn me(caller: &Caller) -> Me {
    Me {
        actor: caller.actor(),
        may: Action::ALL
            .into_iter()
            .filter(|a| caller.may(*a))
            .map(|a| format!("{a:?}"))
            .collect(),
        role: caller.role,
        user: caller.user().cloned(),
    }
}

/// Accounts and keys are made by a person, never by a key: a key must not mint people.
pub fn require_admin(caller: &Caller) -> Result<(), AppError> {
    caller.require(Action::ManageUsers)?;
    caller.require_person()?;
    Ok(())
}

#[derive(Debug, Serialize)]
pub struct Users {
    pub users: Vec<User>,
}

pub async fn list_users<S: Store>(store: &S, caller: &Caller) -> Result<Users, AppError> {
    caller.require(Action::ManageUsers)?;
    Ok(Users {
        users: store.list_users().await?,
    })
}

/// Creates an account; its user id must be free.
pub async fn create_user<S: Store>(
    store: &S,
    caller: &Caller,
    input: UserInput,
    now: Timestamp,
) -> Result<User, AppError> {
    require_admin(caller)?;
    create_user_as(store, &caller.actor(), input, now).await
}

/// Creates an account under `actor` (an administrator, or the operator at the command line).
pub async fn create_user_as<S: Store>(
    store: &S,
    actor: &str,
    input: UserInput,
    now: Timestamp,
) -> Result<User, AppError> {
    let (user, password) = input.validate(now)?;
    let hash = tokio::task::spawn_blocking(move || hash_password(&password, &mut rand::rng()))
        .await
        .map_err(|_| StoreError::Unavailable("the password could not be hashed".into()))??;
    let audit = NewAudit::new(actor, "create", format!("user/{}", user.user_id)).new_value(&user);
    if !store.create_user(user.clone(), hash, audit).await? {
        return Err(AppError::Conflict(FieldError::new(
            "user_id",
            "is taken by another account",
        )));
    }
    Ok(user)
}

/// Disables an account and ends its sessions.
pub async fn disable_user<S: Store>(
    store: &S,
    caller: &Caller,
    user_id: String,
    now: Timestamp,
) -> Result<(), AppError> {
    require_admin(caller)?;
    disable_user_as(store, &caller.actor(), user_id, now).await
}

/// Disables an account under `actor` and ends its sessions.
pub async fn disable_user_as<S: Store>(
    store: &S,
    actor: &str,
    user_id: String,
    now: Timestamp,
) -> Result<(), AppError> {
    let audit = NewAudit::new(actor, "disable", format!("user/{user_id}"));
    if !store.disable_user(user_id, audit, now).await? {
        return Err(AppError::NotFound("user".into()));
    }
    Ok(())
}

#[derive(Debug, Serialize)]
pub struct Keys {
    pub keys: Vec<ApiKeyRecord>,
}

pub async fn list_keys<S: Store>(store: &S, caller: &Caller) -> Result<Keys, AppError> {
    caller.require(Action::ManageUsers)?;
    Ok(Keys {
        keys: store.list_api_keys().await?,
    })
}

/// A new API key as asked.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyInput {
    pub role: Option<String>,
    pub label: Option<String>,
}

/// A key just made: the secret, shown this once, and the record kept.
#[derive(Debug, Serialize)]
pub struct NewKey {
    pub key: String,
    pub record: ApiKeyRecord,
}

pub async fn create_key<S: Store>(
    store: &S,
    caller: &Caller,
    input: KeyInput,
    now: Timestamp,
) -> Result<NewKey, AppError> {
    require_admin(caller)?;
    let role = Role::parse(
        "role",
        input
            .role
            .as_deref()
            .ok_or_else(|| FieldError::new("role", "is required"))?,
    )?;
    if !role.allowed_for_keys() {
        return Err(FieldError::new(
            "role",
            format!("{role} duties are personal: create a user account instead of a key"),
        )
        .into());
    }
    let label = input
        .label
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .ok_or_else(|| FieldError::new("label", "is required (which integration uses the key)"))?;
    let key = NewApiKey::generate(&mut rand::rng());
    let record = ApiKeyRecord {
        key_id: key.key_id.clone(),
        hash: key.hash,
        role: role.as_str().to_owned(),
        label,
        created_at: now,
        revoked_at: None,
    };
    let audit =
        NewAudit::new(&caller.actor(), "create", format!("key/{}", key.key_id)).new_value(&record);
    store.create_api_key(record.clone(), audit, now).await?;
    Ok(NewKey {
        key: key.secret,
        record,
    })
}

pub async fn revoke_key<S: Store>(
    store: &S,
    caller: &Caller,
    key_id: String,
    now: Timestamp,
) -> Result<(), AppError> {
    require_admin(caller)?;
    let audit = NewAudit::new(&caller.actor(), "revoke", format!("key/{key_id}"));
    if !store.revoke_api_key(key_id, audit, now).await? {
        return Err(AppError::NotFound("active key".into()));
    }
    Ok(())
}
