//! Content items: registering and editing them, reading them, their MLR lifecycle (submit,
//! approve with the reviewer's password as a signature, return, withdraw), the sends of an item,
//! the approvals about to expire, and what each item drew.

use openclm_core::audit::NewAudit;
use openclm_core::auth::{Action, Role};
use openclm_core::content::{
    ApprovalInput, Content, ContentInput, ContentStatus, EXPIRY_WARNING_DAYS, MlrError,
};
use openclm_core::measure::kpi::{Counts, Rates};
use openclm_core::{FieldError, Timestamp};
use openclm_store::{
    ContentActivity, ContentFilter, Page, PageRequest, SendFilter, SendRecord, Store,
    WithdrawalEffect,
};
use serde::{Deserialize, Serialize};

use crate::{AppError, Caller};

fn content_not_found() -> AppError {
    AppError::NotFound("content".into())
}

/// A request field the caller may not set through this way in.
fn guarded(field: &str, how: &str) -> AppError {
    AppError::Invalid(FieldError::new(field, format!("cannot be set here; {how}")))
}

fn mlr_error(e: MlrError) -> AppError {
    match e {
        MlrError::Invalid(f) => AppError::Invalid(f),
        MlrError::WrongState(why) => AppError::Conflict(FieldError::new("status", why)),
        MlrError::SelfApproval => AppError::Forbidden(
            "separation of duties: the author cannot approve their own content".into(),
        ),
    }
}

// ---- reading ---------------------------------------------------------------------------------

/// One item as it stands at `now`.
pub async fn get<S: Store>(
    store: &S,
    caller: &Caller,
    id: String,
    now: Timestamp,
) -> Result<Content, AppError> {
    caller.require(Action::ReadContent)?;
    store
        .get_content(id, now)
        .await?
        .ok_or_else(content_not_found)
}

/// Which items to list.
#[derive(Debug, Default, Deserialize)]
pub struct ContentQuery {
    pub status: Option<String>,
    pub product: Option<String>,
}

/// One page of the items with a status and of a product.
pub async fn list<S: Store>(
    store: &S,
    caller: &Caller,
    q: ContentQuery,
    page: PageRequest,
    now: Timestamp,
) -> Result<Page<Content>, AppError> {
    caller.require(Action::ReadContent)?;
    let filter = ContentFilter {
        status: q
            .status
            .filter(|s| !s.is_empty())
            .map(|s| ContentStatus::parse("status", &s))
            .transpose()?,
        product: q.product.filter(|p| !p.is_empty()),
    };
    Ok(store.list_content(filter, page, now).await?)
}

/// Every item of `filter`, all pages read.
async fn all_content<S: Store>(
    store: &S,
    filter: ContentFilter,
    now: Timestamp,
) -> Result<Vec<Content>, AppError> {
    let mut items = Vec::new();
    let mut page = PageRequest {
        cursor: None,
        limit: 1000,
    };
    loop {
        let got = store
            .list_content(filter.clone(), page.clone(), now)
            .await?;
        items.extend(got.items);
        match got.next_cursor {
            Some(next) => page.cursor = Some(next),
            None => break,
        }
    }
    Ok(items)
}

/// The whole library, whatever each item's status, ordered by id.
pub async fn library<S: Store>(
    store: &S,
    caller: &Caller,
    now: Timestamp,
) -> Result<Vec<Content>, AppError> {
    caller.require(Action::ReadContent)?;
    let mut items = all_content(store, ContentFilter::default(), now).await?;
    items.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(items)
}

/// Approved content expiring within the warning window.
#[derive(Debug, Serialize)]
pub struct Expiring {
    pub items: Vec<Content>,
    pub within_days: i64,
}

pub async fn expiring<S: Store>(
    store: &S,
    caller: &Caller,
    now: Timestamp,
) -> Result<Expiring, AppError> {
    caller.require(Action::ReadContent)?;
    let approved = ContentFilter {
        status: Some(ContentStatus::Approved),
        product: None,
    };
    let mut items: Vec<Content> = all_content(store, approved, now)
        .await?
        .into_iter()
        .filter(|c| c.expires_soon(now))
        .collect();
    items.sort_by_key(|c| c.expires_at);
    Ok(Expiring {
        items,
        within_days: EXPIRY_WARNING_DAYS,
    })
}

/// The versions of an item sent to HCPs.
#[derive(Debug, Serialize)]
pub struct Sends {
    pub sends: Vec<SendRecord>,
}

/// The sends of an item, at most `limit`.
pub async fn sends<S: Store>(
    store: &S,
    caller: &Caller,
    id: String,
    limit: usize,
) -> Result<Sends, AppError> {
    caller.require(Action::ReadReports)?;
    let sends = store
        .send_history(
            SendFilter {
                content_id: Some(id),
                hcp: None,
            },
            limit,
        )
        .await?;
    Ok(Sends { sends })
}

/// What items drew, per item and slide / key message: of one item, or of all. Brand-wide
/// figures, as the overview's: for those who read reports.
pub async fn activity<S: Store>(
    store: &S,
    caller: &Caller,
    content_id: Option<String>,
) -> Result<Vec<ContentActivity>, AppError> {
    caller.require(Action::ReadReports)?;
    Ok(store.content_activity(content_id).await?)
}

/// Counts and the rates read from them.
#[derive(Debug, Serialize)]
pub struct Drawn {
    pub counts: Counts,
    pub rates: Rates,
}

/// What one slide / key message drew (empty: events naming the whole item).
#[derive(Debug, Serialize)]
pub struct SlideDrawn {
    pub counts: Counts,
    pub key_message: String,
    pub rates: Rates,
}

/// What an item drew: in all, and per slide / key message.
#[derive(Debug, Serialize)]
pub struct Performance {
    pub content_id: String,
    pub slides: Vec<SlideDrawn>,
    pub total: Drawn,
}

/// What an item drew, every stored event naming it counted. Brand-wide figures, as the
/// overview's: for those who read reports.
pub async fn performance<S: Store>(
    store: &S,
    caller: &Caller,
    id: String,
    now: Timestamp,
) -> Result<Performance, AppError> {
    caller.require(Action::ReadReports)?;
    if store.get_content(id.clone(), now).await?.is_none() {
        return Err(content_not_found());
    }
    let rows = store.content_activity(Some(id.clone())).await?;
    let mut total = Counts::default();
    for r in &rows {
        total.add(&r.counts);
    }
    Ok(Performance {
        content_id: id,
        slides: rows
            .into_iter()
            .map(|r| SlideDrawn {
                rates: r.counts.rates(),
                counts: r.counts,
                key_message: r.key_message,
            })
            .collect(),
        total: Drawn {
            counts: total,
            rates: total.rates(),
        },
    })
}

// ---- registering and editing -----------------------------------------------------------------

/// A content item to write, with what the stored item must still be for the write to apply.
#[derive(Debug)]
pub struct ContentWrite {
    pub content: Content,
    /// The stored item as read: `None` for a new item. An edit applies only if the item still
    /// has this status and hash when written (see `Store::transition_content`), so an edit can
    /// never undo a withdrawal or an approval made meanwhile.
    pub old: Option<Content>,
}

/// The content item to store for an edit or creation. A person edits drafts: status and approval
/// fields are set only through the lifecycle steps, and an edit that changes an approved version
/// makes it a draft again. Only an `ingest` key (a connector to another MLR system of record) may
/// load approvals made there, recorded as such; it may not replace an item in review, signed in
/// OpenCLM, or withdrawn.
pub async fn prepare<S: Store>(
    store: &S,
    caller: &Caller,
    input: ContentInput,
    now: Timestamp,
) -> Result<ContentWrite, AppError> {
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
    let old = store.get_content(content.id.clone(), now).await?;
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
            return Err(AppError::Conflict(FieldError::new(
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
pub async fn write<S: Store>(
    store: &S,
    caller: &Caller,
    writes: Vec<ContentWrite>,
    now: Timestamp,
) -> Result<usize, AppError> {
    let actor = caller.actor();
    let (new, edits): (Vec<ContentWrite>, Vec<ContentWrite>) =
        writes.into_iter().partition(|w| w.old.is_none());
    let created = new.len();
    if !new.is_empty() {
        let items = new.into_iter().map(|w| w.content).collect();
        store.put_content(items, actor.clone(), now).await?;
    }
    for w in edits {
        let Some(old) = w.old else { continue };
        let expected = (old.status, old.content_hash());
        let id = w.content.id.clone();
        let audit = NewAudit::new(&actor, "update", format!("content/{id}"))
            .old(&old)
            .new_value(&w.content);
        match store
            .transition_content(w.content, expected, audit, now)
            .await?
        {
            Some((true, _)) => {}
            _ => {
                return Err(AppError::Conflict(FieldError::new(
                    "id",
                    format!("content {id} changed meanwhile; reload it and try again"),
                )));
            }
        }
    }
    Ok(created)
}

/// Creates or edits the item `id`; whether it was created, and the item as stored.
pub async fn put<S: Store>(
    store: &S,
    caller: &Caller,
    id: String,
    mut input: ContentInput,
    now: Timestamp,
) -> Result<(bool, Content), AppError> {
    caller.require(Action::WriteContent)?;
    match &input.id {
        Some(body_id) if *body_id != id => {
            return Err(FieldError::new("id", "differs from the id in the path").into());
        }
        _ => input.id = Some(id),
    }
    let write_one = prepare(store, caller, input, now).await?;
    let content = write_one.content.clone();
    let created = write(store, caller, vec![write_one], now).await?;
    Ok((created > 0, content))
}

/// How many items a registration created and updated.
#[derive(Debug, Serialize)]
pub struct Registered {
    pub created: usize,
    pub updated: usize,
}

/// Registers items: every item is checked before any is written (an error names the item by
/// its place, `[i]`); new items are written together, then each edit as its own compare-and-set.
pub async fn register<S: Store>(
    store: &S,
    caller: &Caller,
    inputs: Vec<ContentInput>,
    now: Timestamp,
) -> Result<Registered, AppError> {
    caller.require(Action::WriteContent)?;
    let mut writes = Vec::with_capacity(inputs.len());
    for (i, input) in inputs.into_iter().enumerate() {
        writes.push(
            prepare(store, caller, input, now)
                .await
                .map_err(|e| e.within(&format!("[{i}]")))?,
        );
    }
    let total = writes.len();
    let created = write(store, caller, writes, now).await?;
    Ok(Registered {
        created,
        updated: total - created,
    })
}

// ---- the MLR lifecycle -----------------------------------------------------------------------

/// A step of the MLR lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Submit,
    Approve,
    Return,
    Withdraw,
}

impl Step {
    /// The step a route or form names; `None` for any other word.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "submit" => Some(Step::Submit),
            "approve" => Some(Step::Approve),
            "return" => Some(Step::Return),
            "withdraw" => Some(Step::Withdraw),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Step::Submit => "submit",
            Step::Approve => "approve",
            Step::Return => "return",
            Step::Withdraw => "withdraw",
        }
    }

    /// What the caller's role must allow to take this step.
    pub fn action(self) -> Action {
        match self {
            Step::Submit => Action::WriteContent,
            Step::Approve | Step::Return => Action::ReviewContent,
            Step::Withdraw => Action::WithdrawContent,
        }
    }
}

/// What a step takes: for an approval the reviewer's password again (the approval is an
/// electronic signature), the code and validity; for a return or withdrawal the reason.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepInput {
    pub password: Option<String>,
    pub approval_code: Option<String>,
    pub valid_from: Option<String>,
    pub expires_at: Option<String>,
    pub reason: Option<String>,
}

/// The item after a step, and what a withdrawal stopped.
#[derive(Debug, Serialize)]
pub struct Stepped {
    pub content: Content,
    pub stopped: WithdrawalEffect,
}

/// Takes one lifecycle step on the item `id`.
pub async fn step<S: Store>(
    store: &S,
    caller: &Caller,
    id: String,
    step: Step,
    input: StepInput,
    now: Timestamp,
) -> Result<Stepped, AppError> {
    caller.require(step.action())?;
    let mut content = store
        .get_content(id.clone(), now)
        .await?
        .ok_or_else(content_not_found)?;
    let expected = (content.status, content.content_hash());
    let old = content.clone();
    let actor = caller.actor();
    match step {
        Step::Submit => content.submit(&actor, now).map_err(mlr_error)?,
        Step::Approve => {
            let user = caller.require_person()?.clone();
            let password = input.password.ok_or_else(|| {
                FieldError::new("password", "is required: re-enter it to sign the approval")
            })?;
            // Re-authentication for the signature counts towards the lock like a login.
            crate::accounts::authenticate(store, &user.user_id, password, now)
                .await
                .map_err(|_| {
                    AppError::Forbidden(
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
        Step::Return => content
            .return_to_draft(input.reason.as_deref().unwrap_or_default())
            .map_err(mlr_error)?,
        Step::Withdraw => content
            .withdraw(&actor, input.reason.as_deref().unwrap_or_default(), now)
            .map_err(mlr_error)?,
    }
    let reason = match step {
        Step::Withdraw | Step::Return => input.reason.map(|r| r.trim().to_owned()),
        _ => None,
    };
    let audit = NewAudit::new(&actor, step.as_str(), format!("content/{id}"))
        .old(&old)
        .new_value(&content)
        .reason(reason);
    match store
        .transition_content(content.clone(), expected, audit, now)
        .await?
    {
        None => Err(content_not_found()),
        Some((false, _)) => Err(AppError::Conflict(FieldError::new(
            "status",
            "the item changed meanwhile; reload it and try again",
        ))),
        Some((true, effect)) => {
            if step == Step::Withdraw {
                tracing::info!(
                    content = %id,
                    suggestions = effect.suggestions_cancelled,
                    sends = effect.sends_cancelled,
                    "content withdrawn"
                );
            }
            Ok(Stepped {
                content,
                stopped: effect,
            })
        }
    }
}
