//! Compliance routes: sign-in and sessions, accounts and API keys, the MLR lifecycle of content,
//! the pharmacovigilance queue, the audit trail and data-subject requests.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use openclm_core::audit::NewAudit;
use openclm_core::auth::{
    Action, MAX_FAILED_LOGINS, NewApiKey, NewSession, Role, UserInput, hash_password,
    verify_password,
};
use openclm_core::content::{ApprovalInput, Content, ContentInput, ContentStatus, MlrError};
use openclm_core::privacy::{SuppressedId, pseudonym, suppression_hash};
use openclm_core::pv::{AeStatus, Triage};
use openclm_core::{FieldError, HcpId, Timestamp};
use openclm_store::{
    AeCase, AeFilter, ApiKeyRecord, PageRequest, SendFilter, Store, TimelineFilter,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::{Caller, SESSION_COOKIE, guarded};
use crate::routes::{body_json, query, visible_hcp};
use crate::{ApiError, AppState};

// ---- sign-in ---------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginInput {
    user_id: Option<String>,
    password: Option<String>,
}

/// The same answer for an unknown user, a wrong password, a disabled or a locked account: a
/// caller learns nothing about which accounts exist.
fn login_refused() -> ApiError {
    ApiError::Forbidden(format!(
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
async fn authenticate<S: Store>(
    state: &AppState<S>,
    user_id: &str,
    password: String,
) -> Result<openclm_core::auth::User, ApiError> {
    let now = (state.clock)();
    let Some(record) = state.store.find_user(user_id.to_owned()).await? else {
        // Spend the same time as for a real account.
        let _ = password_matches(password, None).await;
        return Err(login_refused());
    };
    // The attempt is counted as failed before the password is checked, so parallel guesses
    // cannot exceed the limit; a match then clears the count.
    if !state
        .store
        .record_login(user_id.to_owned(), false, now)
        .await?
    {
        let _ = password_matches(password, None).await;
        tracing::warn!(user = %user_id, "login refused: account disabled or locked");
        return Err(login_refused());
    }
    if !password_matches(password, Some(record.password_hash.clone())).await {
        tracing::warn!(user = %user_id, "login failed");
        return Err(login_refused());
    }
    state
        .store
        .record_login(user_id.to_owned(), true, now)
        .await?;
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

pub(crate) async fn login<S: Store>(
    State(state): State<AppState<S>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let input: LoginInput = body_json(&body)?;
    let user_id = input
        .user_id
        .ok_or_else(|| FieldError::new("user_id", "is required"))?;
    let password = input
        .password
        .ok_or_else(|| FieldError::new("password", "is required"))?;
    let user = authenticate(&state, &user_id, password).await?;
    let session = NewSession::generate(&mut rand::rng());
    state
        .store
        .create_session(session.hash, user.user_id.clone(), (state.clock)())
        .await?;
    tracing::info!(user = %user.user_id, "signed in");
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; Secure; SameSite=Strict",
        session.token
    );
    Ok((
        [(header::SET_COOKIE, cookie)],
        Json(json!({
            "token": session.token,
            "user": user,
            "idle_timeout_s": state.config.session_idle_ms / 1000,
        })),
    )
        .into_response())
}

pub(crate) async fn logout<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    if let Some(hash) = caller.session_hash {
        state.store.end_session(hash, (state.clock)()).await?;
    }
    let expired =
        format!("{SESSION_COOKIE}=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0");
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, expired)]).into_response())
}

pub(crate) async fn me(caller: Caller) -> Json<Value> {
    let allowed: Vec<String> = Action::ALL
        .into_iter()
        .filter(|a| caller.may(*a))
        .map(|a| format!("{a:?}"))
        .collect();
    Json(json!({
        "actor": caller.actor(),
        "role": caller.role,
        "user": caller.user(),
        "may": allowed,
    }))
}

// ---- accounts and keys -----------------------------------------------------------------------

pub(crate) async fn list_users<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.require(Action::ManageUsers)?;
    Ok(Json(json!({"users": state.store.list_users().await?})).into_response())
}

pub(crate) async fn create_user<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require(Action::ManageUsers)?;
    // Accounts and keys are made by a person, never by a key: a key must not mint people.
    caller.require_person()?;
    let now = (state.clock)();
    let (user, password) = body_json::<UserInput>(&body)?.validate(now)?;
    let hash = tokio::task::spawn_blocking(move || hash_password(&password, &mut rand::rng()))
        .await
        .map_err(|_| ApiError::Unavailable)??;
    let audit =
        NewAudit::new(&caller.actor(), "create", format!("user/{}", user.user_id)).new_value(&user);
    if !state.store.create_user(user.clone(), hash, audit).await? {
        return Err(ApiError::Conflict(FieldError::new(
            "user_id",
            "is taken by another account",
        )));
    }
    Ok((StatusCode::CREATED, Json(user)).into_response())
}

pub(crate) async fn disable_user<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Action::ManageUsers)?;
    // Accounts and keys are made by a person, never by a key: a key must not mint people.
    caller.require_person()?;
    let audit = NewAudit::new(&caller.actor(), "disable", format!("user/{id}"));
    if !state.store.disable_user(id, audit, (state.clock)()).await? {
        return Err(ApiError::NotFound("user".into()));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyInput {
    role: Option<String>,
    label: Option<String>,
}

pub(crate) async fn list_keys<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.require(Action::ManageUsers)?;
    Ok(Json(json!({"keys": state.store.list_api_keys().await?})).into_response())
}

pub(crate) async fn create_key<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require(Action::ManageUsers)?;
    // Accounts and keys are made by a person, never by a key: a key must not mint people.
    caller.require_person()?;
    let input: KeyInput = body_json(&body)?;
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
    let now = (state.clock)();
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
    state
        .store
        .create_api_key(record.clone(), audit, now)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"key": key.secret, "record": record})),
    )
        .into_response())
}

pub(crate) async fn revoke_key<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Action::ManageUsers)?;
    // Accounts and keys are made by a person, never by a key: a key must not mint people.
    caller.require_person()?;
    let audit = NewAudit::new(&caller.actor(), "revoke", format!("key/{id}"));
    if !state
        .store
        .revoke_api_key(id, audit, (state.clock)())
        .await?
    {
        return Err(ApiError::NotFound("active key".into()));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---- content lifecycle -----------------------------------------------------------------------

/// A content item to write, with what the stored item must still be for the write to apply.
pub(crate) struct ContentWrite {
    pub content: Content,
    /// The stored item as read: `None` for a new item. An edit applies only if the item still
    /// has this status and hash when written (see `Store::transition_content`), so an edit can
    /// never undo a withdrawal or an approval made meanwhile.
    pub old: Option<Content>,
}

/// The content item to store for an edit or creation through the API. A person edits drafts:
/// status and approval fields are set only through the lifecycle routes, and an edit that
/// changes an approved version makes it a draft again. Only an `ingest` key (a connector to
/// another MLR system of record) may load approvals made there, recorded as such; it may not
/// replace an item in review, signed in OpenCLM, or withdrawn.
pub(crate) async fn content_to_store<S: Store>(
    state: &AppState<S>,
    caller: &Caller,
    input: ContentInput,
) -> Result<ContentWrite, ApiError> {
    let sets_status = input.status.as_deref().is_some_and(|s| s != "draft")
        || input.approval_code.is_some()
        || input.approved_at.is_some();
    let external = caller.user().is_none() && caller.role == Role::Ingest;
    if sets_status && !external {
        return Err(guarded(
            "status",
            "submit, approve and withdraw through /v1/content/{id}/submit, /approve and /withdraw",
        ));
    }
    let mut content = input.validate()?;
    let actor = caller.actor();
    let now = (state.clock)();
    let old = state.store.get_content(content.id.clone(), now).await?;
    if external && sets_status {
        if !matches!(
            content.status,
            ContentStatus::Approved | ContentStatus::Expired
        ) {
            return Err(guarded(
                "status",
                "an imported item is a draft or approved; withdraw through /v1/content/{id}/withdraw",
            ));
        }
        if content.expires_at.is_none() {
            return Err(
                FieldError::new("expires_at", "is required: every approval expires").into(),
            );
        }
        if let Some(o) = &old
            && (matches!(o.status, ContentStatus::Withdrawn | ContentStatus::InReview)
                || o.mlr.signature.is_some())
        {
            return Err(ApiError::Conflict(FieldError::new(
                "status",
                format!(
                    "the item is {} {}; an import cannot replace it",
                    o.status,
                    if o.mlr.signature.is_some() {
                        "and signed in OpenCLM"
                    } else {
                        "in OpenCLM"
                    }
                ),
            )));
        }
        content.mlr.author = old.as_ref().and_then(|o| o.mlr.author.clone());
        return Ok(ContentWrite {
            content: content.with_external_approval(&actor),
            old,
        });
    }
    match old {
        None => {
            content.mlr.author = Some(actor);
            Ok(ContentWrite { content, old: None })
        }
        Some(old) => {
            let content = old.edit(content, &actor).map_err(mlr_error)?;
            Ok(ContentWrite {
                content,
                old: Some(old),
            })
        }
    }
}

/// Writes prepared content: new items together, edits one by one as compare-and-set steps (an
/// edit that leaves approved content unapproved releases its queued sends like a withdrawal).
/// Returns how many were created; an edit that lost a race is a conflict naming the item.
pub(crate) async fn write_content<S: Store>(
    state: &AppState<S>,
    caller: &Caller,
    writes: Vec<ContentWrite>,
) -> Result<usize, ApiError> {
    let now = (state.clock)();
    let actor = caller.actor();
    let (new, edits): (Vec<ContentWrite>, Vec<ContentWrite>) =
        writes.into_iter().partition(|w| w.old.is_none());
    let created = new.len();
    if !new.is_empty() {
        let items = new.into_iter().map(|w| w.content).collect();
        state.store.put_content(items, actor.clone(), now).await?;
    }
    for w in edits {
        let Some(old) = w.old else { continue };
        let expected = (old.status, old.content_hash());
        let id = w.content.id.clone();
        let audit = NewAudit::new(&actor, "update", format!("content/{id}"))
            .old(&old)
            .new_value(&w.content);
        match state
            .store
            .transition_content(w.content, expected, audit, now)
            .await?
        {
            Some((true, _)) => {}
            _ => {
                return Err(ApiError::Conflict(FieldError::new(
                    "id",
                    format!("content {id} changed meanwhile; reload it and try again"),
                )));
            }
        }
    }
    Ok(created)
}

fn mlr_error(e: MlrError) -> ApiError {
    match e {
        MlrError::Invalid(f) => ApiError::Invalid(f),
        MlrError::WrongState(why) => ApiError::Conflict(FieldError::new("status", why)),
        MlrError::SelfApproval => ApiError::Forbidden(
            "separation of duties: the author cannot approve their own content".into(),
        ),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LifecycleInput {
    /// The reviewer's password again: the approval is an electronic signature.
    password: Option<String>,
    approval_code: Option<String>,
    valid_from: Option<String>,
    expires_at: Option<String>,
    reason: Option<String>,
}

/// One lifecycle step: `submit`, `approve`, `return` or `withdraw`.
pub(crate) async fn content_step<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path((id, step)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let input: LifecycleInput = if body.is_empty() {
        LifecycleInput::default()
    } else {
        body_json(&body)?
    };
    let action = match step.as_str() {
        "submit" => Action::WriteContent,
        "approve" | "return" => Action::ReviewContent,
        "withdraw" => Action::WithdrawContent,
        _ => return Err(ApiError::NotFound("route".into())),
    };
    caller.require(action)?;
    let now = (state.clock)();
    let mut content = state
        .store
        .get_content(id.clone(), now)
        .await?
        .ok_or_else(|| ApiError::NotFound("content".into()))?;
    let expected = (content.status, content.content_hash());
    let old = content.clone();
    let actor = caller.actor();
    match step.as_str() {
        "submit" => content.submit(&actor, now).map_err(mlr_error)?,
        "approve" => {
            let user = caller.require_person()?.clone();
            let password = input.password.ok_or_else(|| {
                FieldError::new("password", "is required: re-enter it to sign the approval")
            })?;
            // Re-authentication for the signature counts towards the lock like a login.
            authenticate(&state, &user.user_id, password)
                .await
                .map_err(|_| {
                    ApiError::Forbidden(
                        "the password does not match; the approval was not signed".into(),
                    )
                })?;
            let approval = ApprovalInput {
                approval_code: input.approval_code,
                valid_from: input.valid_from,
                expires_at: input.expires_at,
            };
            content
                .approve(&actor, &user.display_name, approval, now)
                .map_err(mlr_error)?;
        }
        "return" => content
            .return_to_draft(input.reason.as_deref().unwrap_or_default())
            .map_err(mlr_error)?,
        _ => content
            .withdraw(&actor, input.reason.as_deref().unwrap_or_default(), now)
            .map_err(mlr_error)?,
    }
    let reason = match step.as_str() {
        "withdraw" | "return" => input.reason.map(|r| r.trim().to_owned()),
        _ => None,
    };
    let audit = NewAudit::new(&actor, &step, format!("content/{id}"))
        .old(&old)
        .new_value(&content)
        .reason(reason);
    match state
        .store
        .transition_content(content.clone(), expected, audit, now)
        .await?
    {
        None => Err(ApiError::NotFound("content".into())),
        Some((false, _)) => Err(ApiError::Conflict(FieldError::new(
            "status",
            "the item changed meanwhile; reload it and try again",
        ))),
        Some((true, effect)) => {
            if step == "withdraw" {
                tracing::info!(
                    content = %id,
                    suggestions = effect.suggestions_cancelled,
                    sends = effect.sends_cancelled,
                    "content withdrawn"
                );
            }
            Ok(Json(json!({"content": content, "stopped": effect})).into_response())
        }
    }
}

pub(crate) async fn content_sends<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Action::ReadReports)?;
    let sends = state
        .store
        .send_history(
            SendFilter {
                content_id: Some(id),
                hcp: None,
            },
            10_000,
        )
        .await?;
    Ok(Json(json!({"sends": sends})).into_response())
}

/// Approved content expiring within the warning window.
pub(crate) async fn expiring_content<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.require(Action::ReadContent)?;
    let now = (state.clock)();
    let mut expiring = Vec::new();
    let mut page = PageRequest {
        cursor: None,
        limit: 1000,
    };
    loop {
        let got = state
            .store
            .list_content(
                openclm_store::ContentFilter {
                    status: Some(ContentStatus::Approved),
                    product: None,
                },
                page.clone(),
                now,
            )
            .await?;
        expiring.extend(got.items.into_iter().filter(|c| c.expires_soon(now)));
        match got.next_cursor {
            Some(next) => page.cursor = Some(next),
            None => break,
        }
    }
    expiring.sort_by_key(|c| c.expires_at);
    Ok(
        Json(json!({"within_days": openclm_core::content::EXPIRY_WARNING_DAYS, "items": expiring}))
            .into_response(),
    )
}

// ---- pharmacovigilance -----------------------------------------------------------------------

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AeQuery {
    pub status: Option<String>,
    pub overdue: Option<bool>,
    pub source: Option<String>,
    pub product: Option<String>,
    /// 1 for the first page; with `limit`, the queue comes in pages.
    pub page: Option<u32>,
    pub limit: Option<u32>,
}

/// The cases one page of the queue holds unless a limit says otherwise: a screen of a compact
/// list, not the whole queue.
pub const AE_PAGE_SIZE: u32 = 25;
/// The most cases one page of the queue holds.
pub const MAX_AE_PAGE: u32 = 500;

/// One page of the queue, in its order (overdue first, then by time left).
pub(crate) struct AeListing {
    pub cases: Vec<AeCase>,
    /// 1-based; 1 when the queue was not paged.
    pub page: u32,
    pub has_next: bool,
    pub now: Timestamp,
}

/// A filter value as given: trimmed, empty meaning "any", bounded in length.
fn filter_value(value: Option<String>, field: &str) -> Result<Option<String>, FieldError> {
    let Some(value) = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if value.chars().count() > 200 {
        return Err(FieldError::new(field, "must be at most 200 characters"));
    }
    Ok(Some(value))
}

/// The queue as asked: filtered by status, source, product and the deadline, a page at a time:
/// `limit` cases (25 when only a page is given; the most a page holds, 500, when neither is).
pub(crate) async fn ae_listing<S: Store>(
    state: &AppState<S>,
    caller: &Caller,
    q: AeQuery,
) -> Result<AeListing, ApiError> {
    caller.require(Action::ReadAeCases)?;
    let now = (state.clock)();
    let status = q
        .status
        .filter(|s| !s.is_empty())
        .map(|s| AeStatus::parse("status", &s))
        .transpose()?;
    if q.page == Some(0) {
        return Err(FieldError::new("page", "must be 1 or more (1 is the first page)").into());
    }
    if q.limit.is_some_and(|l| !(1..=MAX_AE_PAGE).contains(&l)) {
        return Err(FieldError::new("limit", format!("must be from 1 to {MAX_AE_PAGE}")).into());
    }
    let page = q.page.unwrap_or(1);
    // Bounded whatever is asked: unpaged, the first page of the largest size.
    let limit = match (q.page, q.limit) {
        (None, None) => MAX_AE_PAGE,
        (_, limit) => limit.unwrap_or(AE_PAGE_SIZE),
    };
    let mut cases = state
        .store
        .ae_cases(AeFilter {
            status,
            due_before: q.overdue.filter(|o| *o).map(|_| now),
            not_alerted: false,
            source: filter_value(q.source, "source")?,
            product: filter_value(q.product, "product")?,
            offset: u64::from(page - 1) * u64::from(limit),
            // One more than the page holds tells whether there is a next page.
            limit: Some(limit + 1),
        })
        .await?;
    let has_next = cases.len() > limit as usize;
    cases.truncate(limit as usize);
    Ok(AeListing {
        cases,
        page,
        has_next,
        now,
    })
}

/// The queue: overdue first, then by time left.
pub(crate) async fn list_ae_cases<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    q: Result<Query<AeQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let listing = ae_listing(&state, &caller, query(q)?).await?;
    let now = listing.now;
    let items: Vec<Value> = listing
        .cases
        .into_iter()
        .map(|c| {
            let left = c.due_at.millis() - now.millis();
            let mut v = serde_json::to_value(&c).unwrap_or_default();
            v["time_left_s"] = json!(left / 1000);
            v["overdue"] = json!(c.status == AeStatus::Open && left < 0);
            v
        })
        .collect();
    Ok(Json(json!({
        "items": items,
        "page": listing.page,
        "next_page": listing.has_next.then_some(listing.page + 1),
    }))
    .into_response())
}

/// How the queue stands: open, overdue and triaged cases.
pub(crate) async fn ae_counts<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
) -> Result<Json<openclm_store::AeCounts>, ApiError> {
    caller.require(Action::ReadAeCases)?;
    Ok(Json(state.store.ae_case_counts((state.clock)()).await?))
}

pub(crate) async fn get_ae_case<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Action::ReadAeCases)?;
    let case = state
        .store
        .get_ae_case(id)
        .await?
        .ok_or_else(|| ApiError::NotFound("case".into()))?;
    Ok(Json(case).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TriageInput {
    status: Option<String>,
    external_ref: Option<String>,
    note: Option<String>,
}

pub(crate) async fn triage_ae_case<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require(Action::TriageAeCases)?;
    let user = caller.require_person()?;
    let input: TriageInput = body_json(&body)?;
    let triage = Triage::parse(input.status.as_deref(), input.external_ref, input.note)?;
    // The trail records the decision, not PV's note: notes quote reports, which only PV reads.
    let audit = NewAudit::new(&caller.actor(), "triage", format!("ae_case/{id}")).new_value(
        json!({"status": triage.status, "external_ref": triage.external_ref,
            "note_recorded": triage.note.is_some()}),
    );
    match state
        .store
        .triage_ae_case(
            id.clone(),
            triage,
            user.user_id.clone(),
            audit,
            (state.clock)(),
        )
        .await?
    {
        None => Err(ApiError::NotFound("case".into())),
        Some(false) => Err(ApiError::Conflict(FieldError::new(
            "status",
            "the case has already been triaged",
        ))),
        Some(true) => {
            let case = state.store.get_ae_case(id).await?;
            Ok(Json(case).into_response())
        }
    }
}

pub(crate) async fn ae_reconciliation<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.require(Action::ReadAeCases)?;
    Ok(Json(json!({"sources": state.store.screening_report().await?})).into_response())
}

/// Where overdue-case alerts are posted, and how hard to try.
#[derive(Debug, Clone)]
pub struct AlertWebhook {
    pub url: String,
    pub client: reqwest::Client,
    /// Attempts per alert before leaving it for the next round.
    pub attempts: u32,
    /// The wait before the second attempt; it doubles after each failure.
    pub first_backoff: std::time::Duration,
}

impl AlertWebhook {
    pub fn new(url: String) -> Self {
        Self {
            url,
            client: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            attempts: 4,
            first_backoff: std::time::Duration::from_secs(1),
        }
    }

    /// Posts one alert, retrying with backoff; whether the receiver took it (a 2xx answer).
    async fn post(&self, alert: &Value) -> bool {
        let mut wait = self.first_backoff;
        for attempt in 1..=self.attempts {
            match self.client.post(&self.url).json(alert).send().await {
                Ok(r) if r.status().is_success() => return true,
                Ok(r) => {
                    tracing::warn!(status = %r.status(), attempt, "the PV alert webhook refused an alert")
                }
                Err(e) => {
                    tracing::warn!(error = %e, attempt, "the PV alert webhook cannot be reached")
                }
            }
            if attempt < self.attempts {
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
        }
        false
    }
}

/// Raises each overdue case once: a warning in the log (ids and times only, never the text) and,
/// when a webhook is set, an alert posted to it. A case whose alert the webhook did not take
/// stays unalerted, so the next round tries again. Returns the cases alerted.
pub async fn alert_overdue<S: Store>(
    store: &S,
    now: Timestamp,
    webhook: Option<&AlertWebhook>,
) -> openclm_store::Result<usize> {
    let overdue = store
        .ae_cases(AeFilter {
            status: Some(AeStatus::Open),
            due_before: Some(now),
            not_alerted: true,
            ..AeFilter::default()
        })
        .await?;
    let mut alerted = Vec::new();
    for case in &overdue {
        tracing::warn!(
            case = %case.case_id,
            due_at = %case.due_at,
            source = %case.source,
            "adverse-event case overdue for PV triage"
        );
        let delivered = match webhook {
            None => true,
            Some(hook) => {
                let alert = json!({
                    "type": "ae_case_overdue",
                    "case_id": case.case_id,
                    "source": case.source,
                    "received_at": case.received_at,
                    "due_at": case.due_at,
                    "overdue_by_s": (now.millis() - case.due_at.millis()) / 1000,
                });
                hook.post(&alert).await
            }
        };
        if delivered {
            alerted.push(case.case_id.clone());
        } else {
            tracing::error!(case = %case.case_id, "the overdue alert was not delivered; retrying next round");
        }
    }
    let n = alerted.len();
    if n > 0 {
        store.mark_ae_alerted(alerted, now).await?;
    }
    Ok(n)
}

/// Checks for overdue cases every `every` until the process ends.
pub fn spawn_ae_watch<S: Store>(
    store: S,
    clock: crate::Clock,
    every: std::time::Duration,
    webhook: Option<AlertWebhook>,
) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if let Err(e) = alert_overdue(&store, clock(), webhook.as_ref()).await {
                tracing::error!(error = %e, "checking overdue adverse-event cases failed");
            }
        }
    });
}

// ---- audit -----------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditQuery {
    pub record: Option<String>,
    pub after: Option<i64>,
    pub limit: Option<usize>,
}

pub(crate) async fn audit<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    q: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    caller.require(Action::ReadAudit)?;
    let q = query(q)?;
    let limit = q.limit.unwrap_or(1000).clamp(1, 10_000);
    let entries = state
        .store
        .audit_entries(
            q.record.filter(|r| !r.is_empty()),
            q.after.unwrap_or(0),
            limit,
        )
        .await?;
    Ok(Json(json!({"entries": entries})).into_response())
}

// ---- data-subject requests -------------------------------------------------------------------

/// Everything held about an HCP, machine-readable. The export itself is audited.
pub async fn privacy_export<S: Store>(
    store: &S,
    id: HcpId,
    actor: &str,
    now: Timestamp,
) -> Result<Option<Value>, ApiError> {
    let Some(hcp) = store.get_hcp(id.clone()).await? else {
        return Ok(None);
    };
    let consent = store.consent_history(id.clone()).await?.unwrap_or_default();
    let mut events = Vec::new();
    let mut page = PageRequest {
        cursor: None,
        limit: 1000,
    };
    loop {
        let Some(got) = store
            .timeline(id.clone(), TimelineFilter::default(), page.clone())
            .await?
        else {
            break;
        };
        events.extend(got.items);
        match got.next_cursor {
            Some(next) => page.cursor = Some(next),
            None => break,
        }
    }
    let learned = store
        .hcp_state(id.clone())
        .await?
        .map(|s| s.summary(now, &openclm_core::state::StateConfig::default()));
    let sends = store
        .send_history(
            SendFilter {
                content_id: None,
                hcp: Some(id.clone()),
            },
            100_000,
        )
        .await?;
    let audit = NewAudit::new(
        actor,
        "export",
        openclm_core::privacy::hcp_record(id.as_str()),
    )
    .reason(Some("data-subject access request".into()));
    store.append_audit(vec![audit], now).await?;
    Ok(Some(json!({
        "exported_at": now,
        "hcp": hcp,
        "consent": consent,
        "events": events,
        "learned_state": learned,
        "sends": sends,
    })))
}

/// Erases an HCP (see `Store::erase_hcp`), suppressing their identifiers against re-import.
pub async fn privacy_erase<S: Store>(
    store: &S,
    id: HcpId,
    actor: &str,
    reason: &str,
    now: Timestamp,
) -> Result<Option<openclm_store::ErasureReport>, ApiError> {
    let Some(hcp) = store.get_hcp(id.clone()).await? else {
        return Ok(None);
    };
    let mut suppress = vec![suppression_hash(SuppressedId::ExternalId, id.as_str())];
    for ext in &hcp.external_ids {
        suppress.push(suppression_hash(SuppressedId::ExternalId, &ext.id));
    }
    if let Some(email) = &hcp.email {
        suppress.push(suppression_hash(SuppressedId::Email, email));
    }
    let pseudonym = pseudonym(&mut rand::rng());
    let audit = NewAudit::new(
        actor,
        "erase",
        openclm_core::privacy::hcp_record(id.as_str()),
    )
    .reason(Some(reason.to_owned()));
    Ok(store.erase_hcp(id, pseudonym, suppress, audit, now).await?)
}

pub(crate) async fn get_privacy_export<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Action::PrivacyRequests)?;
    visible_hcp(&state, &caller, Action::PrivacyRequests, &id).await?;
    let id = HcpId::parse("id", &id)?;
    privacy_export(&state.store, id, &caller.actor(), (state.clock)())
        .await?
        .map(|v| Json(v).into_response())
        .ok_or_else(crate::auth::hcp_not_found)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EraseInput {
    reason: Option<String>,
}

pub(crate) async fn post_privacy_erase<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require(Action::PrivacyRequests)?;
    caller.require_person()?;
    let input: EraseInput = body_json(&body)?;
    let reason = input
        .reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty())
        .ok_or_else(|| FieldError::new("reason", "is required (the request being answered)"))?;
    let id = HcpId::parse("id", &id)?;
    privacy_erase(&state.store, id, &caller.actor(), &reason, (state.clock)())
        .await?
        .map(|r| Json(r).into_response())
        .ok_or_else(crate::auth::hcp_not_found)
}
