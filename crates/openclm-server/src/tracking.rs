//! The Segment-compatible Tracking API (`/v1/track`, `identify`, `page`, `screen`, `group`,
//! `alias`, `batch`): what any Segment or RudderStack SDK sends, authenticated by a write key
//! (an API key, as the HTTP Basic user name or the body's `writeKey`), stored as OpenCLM events
//! and profile changes. Visitors known only by an anonymous id have their events held until an
//! identify or alias links them to a user.

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use openclm_core::auth::Action as Permission;
use openclm_core::hcp::{ExternalId, HcpInput, parse_identifier};
use openclm_core::segment::{
    self, Action, Call, Envelope, MAX_BATCH_BYTES, MAX_BATCH_MESSAGES, MAX_MESSAGE_BYTES, Message,
    TraitChanges,
};
use openclm_core::{Event, FieldError, Hcp, HcpId, Timestamp};
use openclm_store::prelude::*;
use openclm_store::{HoldLimits, IngestOutcome, Parked, ParkedEvent, UnknownHcpPolicy, Upserted};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::auth::{Caller, caller_for};
use crate::{ApiError, AppState};

pub(crate) fn routes<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/v1/track", post(single::<S, Track>))
        .route("/v1/page", post(single::<S, Page>))
        .route("/v1/screen", post(single::<S, Screen>))
        .route("/v1/identify", post(single::<S, Identify>))
        .route("/v1/group", post(single::<S, Group>))
        .route("/v1/alias", post(single::<S, Alias>))
        .route("/v1/batch", post(batch::<S>))
        // The name some SDKs use for the same call.
        .route("/v1/import", post(batch::<S>))
}

/// A route's call, as a type, so one handler serves the six single-message routes.
pub(crate) trait CallRoute: Send + 'static {
    const CALL: Call;
}
macro_rules! call_route {
    ($name:ident, $call:expr) => {
        pub(crate) struct $name;
        impl CallRoute for $name {
            const CALL: Call = $call;
        }
    };
}
call_route!(Track, Call::Track);
call_route!(Page, Call::Page);
call_route!(Screen, Call::Screen);
call_route!(Identify, Call::Identify);
call_route!(Group, Call::Group);
call_route!(Alias, Call::Alias);

/// The answer: Segment's `success`, with what OpenCLM did with each message.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub(crate) struct TrackResponse {
    success: bool,
    accepted: usize,
    duplicates: usize,
    /// Held until the visitor is identified.
    held: usize,
    ignored: usize,
    /// Already stored under the same `messageId` with different content: nothing changed.
    conflicts: usize,
    rejected: usize,
    results: Vec<MessageResult>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct MessageResult {
    index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_id: Option<String>,
    status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<FieldError>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
#[schema(as = SegmentMessageStatus)]
enum Status {
    /// Stored (an event, or a profile change).
    Accepted,
    Duplicate,
    Held,
    Ignored,
    Conflict,
    Rejected,
}

async fn single<S: Store, C: CallRoute>(
    State(state): State<AppState<S>>,
    caller: Result<Caller, ApiError>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = read_body(&headers, body, MAX_MESSAGE_BYTES, "message").await?;
    let value = parse_json(&body)?;
    let caller = authenticate(&state, caller, &value).await?;
    let received_at = (state.clock)();
    let response = process(
        &state,
        &caller,
        vec![value],
        Some(C::CALL),
        &Envelope::default(),
        received_at,
    )
    .await?;
    // One message: its refusal is the request's, as the specification answers 400.
    match response.results.first() {
        Some(MessageResult {
            status: Status::Rejected,
            error: Some(error),
            ..
        }) => return Err(ApiError::Invalid(error.clone())),
        Some(MessageResult {
            status: Status::Conflict,
            error: Some(error),
            ..
        }) => return Err(ApiError::Conflict(error.clone())),
        _ => {}
    }
    Ok(Json(response).into_response())
}

async fn batch<S: Store>(
    State(state): State<AppState<S>>,
    caller: Result<Caller, ApiError>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = read_body(&headers, body, MAX_BATCH_BYTES, "batch").await?;
    let value = parse_json(&body)?;
    let caller = authenticate(&state, caller, &value).await?;
    let Value::Object(mut body) = value else {
        return Err(FieldError::new("body", "must be a JSON object with a batch array").into());
    };
    let envelope = Envelope::of_batch(&body)?;
    let messages = match body.remove("batch") {
        Some(Value::Array(messages)) => messages,
        Some(_) => return Err(FieldError::new("batch", "must be an array of messages").into()),
        None => return Err(FieldError::missing("batch").into()),
    };
    if messages.len() > MAX_BATCH_MESSAGES {
        return Err(ApiError::BadRequest(format!(
            "batch: {} messages is over the limit of {MAX_BATCH_MESSAGES} messages per batch; \
             split the batch",
            messages.len()
        )));
    }
    for (i, message) in messages.iter().enumerate() {
        let size = serde_json::to_vec(message).map_or(0, |v| v.len());
        if size > MAX_MESSAGE_BYTES {
            return Err(ApiError::BadRequest(format!(
                "batch[{i}]: {size} bytes is over the limit of 32 KB ({MAX_MESSAGE_BYTES} bytes) \
                 per message; nothing of this batch was stored"
            )));
        }
    }
    let received_at = (state.clock)();
    let response = process(&state, &caller, messages, None, &envelope, received_at).await?;
    Ok(Json(response).into_response())
}

/// Reads the body up to `limit` bytes; beyond it, a 400 that names the limit.
async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    what: &str,
) -> Result<Bytes, ApiError> {
    if let Some(encoding) = headers.get(header::CONTENT_ENCODING)
        && !encoding.as_bytes().eq_ignore_ascii_case(b"identity")
    {
        return Err(ApiError::UnsupportedMediaType(
            "Content-Encoding: send the body uncompressed".into(),
        ));
    }
    let too_large = || {
        ApiError::BadRequest(format!(
            "the body is over the limit of {} KB ({limit} bytes) per {what}; nothing was stored",
            limit / 1024
        ))
    };
    crate::extract::read_limited(headers, body, limit, too_large).await
}

fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::Invalid(FieldError::new("body", format!("is not valid JSON: {e}"))))
}

/// The caller: by the `Authorization` header (Basic with the write key as user name, or
/// Bearer), else by the body's `writeKey`.
async fn authenticate<S: Store>(
    state: &AppState<S>,
    from_headers: Result<Caller, ApiError>,
    body: &Value,
) -> Result<Caller, ApiError> {
    let caller = match (from_headers, body.get("writeKey").and_then(Value::as_str)) {
        (Ok(caller), _) => caller,
        (Err(ApiError::Unauthorized), Some(key)) => caller_for(state, key).await?,
        (Err(e), _) => return Err(e),
    };
    caller.require(Permission::Track)?;
    Ok(caller)
}

/// What became of each message, before the store is asked.
enum Pending {
    Done(Status, Option<String>, Option<FieldError>),
    /// An event of this user.
    Event {
        event_id: String,
        user_id: String,
        object: Map<String, Value>,
        properties: Map<String, Value>,
    },
    /// An event of a visitor known only by their anonymous id.
    Anonymous {
        event_id: String,
        anonymous_id: String,
        object: Map<String, Value>,
        properties: Map<String, Value>,
    },
}

async fn process<S: Store>(
    state: &AppState<S>,
    caller: &Caller,
    messages: Vec<Value>,
    call: Option<Call>,
    envelope: &Envelope,
    received_at: Timestamp,
) -> Result<TrackResponse, ApiError> {
    let config = &state.config.segment;
    let source = config.source.clone();
    let mut pending = Vec::with_capacity(messages.len());
    // Identity first, in order: an identify later in a batch still claims the events before it.
    // (message index, anonymous id, user id): stored only if the message is not refused.
    let mut links: Vec<(usize, String, String)> = Vec::new();
    let mut profile: Vec<(usize, Message, Action)> = Vec::new();
    // A write key that ships in web pages is public: it tracks, and changes neither consent nor
    // master data, which take a key of the ingest role.
    let trusted = caller.role.allows(Permission::IngestEvents);
    let may_write_hcps = caller.role.allows(Permission::WriteHcps);
    for (index, value) in messages.into_iter().enumerate() {
        let read = segment::read(value, call, envelope, received_at)
            .and_then(|m| segment::action(&m, config).map(|a| (m, a)));
        let (message, action) = match read {
            Ok(x) => x,
            Err(e) => {
                pending.push(Pending::Done(Status::Rejected, None, Some(e)));
                continue;
            }
        };
        match action {
            Action::Event(object)
                if !trusted
                    && matches!(
                        object.get("type").and_then(Value::as_str),
                        Some("unsubscribed" | "consent_changed")
                    ) =>
            {
                pending.push(Pending::Done(
                    Status::Rejected,
                    Some(message.event_id),
                    Some(FieldError::new(
                        "event",
                        format!(
                            "the role {} may not change consent; send consent changes with a \
                             key of the ingest role",
                            caller.role
                        ),
                    )),
                ));
            }
            Action::Event(object) => {
                let properties = segment::properties(&message);
                pending.push(match (message.user_id, message.anonymous_id) {
                    (Some(user_id), _) => Pending::Event {
                        event_id: message.event_id,
                        user_id,
                        object,
                        properties,
                    },
                    (None, Some(anonymous_id)) => Pending::Anonymous {
                        event_id: message.event_id,
                        anonymous_id,
                        object,
                        properties,
                    },
                    (None, None) => Pending::Done(
                        Status::Rejected,
                        Some(message.event_id),
                        Some(FieldError::missing("userId")),
                    ),
                });
            }
            Action::Ignored(_) => {
                pending.push(Pending::Done(Status::Ignored, Some(message.event_id), None))
            }
            Action::Group { .. } if !may_write_hcps => {
                pending.push(Pending::Done(Status::Ignored, Some(message.event_id), None))
            }
            action => {
                match (&action, &message.user_id, &message.anonymous_id) {
                    (Action::Identify(_), Some(user), Some(anonymous)) => {
                        links.push((index, anonymous.clone(), user.clone()))
                    }
                    (Action::Alias { previous_id }, Some(user), _) => {
                        links.push((index, previous_id.clone(), user.clone()))
                    }
                    _ => {}
                }
                pending.push(Pending::Done(
                    Status::Accepted,
                    Some(message.event_id.clone()),
                    None,
                ));
                profile.push((index, message, action));
            }
        }
    }

    // Profile changes (identify traits, groups), each answered in its message's place.
    for (index, message, action) in profile {
        if let Err(e) = apply_profile(state, caller, &message, &action, received_at).await? {
            pending[index] = Pending::Done(Status::Rejected, Some(message.event_id), Some(e));
        }
    }

    // Links of the messages not refused, releasing what was held for the visitors they name.
    let mut released = Vec::new();
    for (index, anonymous_id, user_id) in links {
        if matches!(pending[index], Pending::Done(Status::Rejected, ..)) {
            continue;
        }
        let held = state
            .store
            .link_anonymous(
                source.clone(),
                anonymous_id.clone(),
                user_id.clone(),
                received_at,
            )
            .await?;
        if !held.is_empty() {
            released.push((anonymous_id, user_id, held));
        }
    }
    for (anonymous_id, user_id, held) in released {
        release(state, &source, &anonymous_id, &user_id, held, received_at).await?;
    }

    // Anonymous events of visitors already linked become their user's.
    let anonymous: Vec<String> = pending
        .iter()
        .filter_map(|p| match p {
            Pending::Anonymous { anonymous_id, .. } => Some(anonymous_id.clone()),
            _ => None,
        })
        .collect();
    let linked: HashMap<String, String> = if anonymous.is_empty() {
        HashMap::new()
    } else {
        state
            .store
            .resolve_anonymous(source.clone(), anonymous)
            .await?
            .into_iter()
            .collect()
    };

    // Parse every event with its HCP; hold the unlinked ones.
    let mut to_ingest: Vec<Event> = Vec::new();
    let mut ingest_at: Vec<usize> = Vec::new();
    let mut to_park: Vec<ParkedEvent> = Vec::new();
    let mut park_at: Vec<usize> = Vec::new();
    // What a held event is, should its visitor turn out to be linked by the time it is held.
    let mut park_objects: Vec<(Map<String, Value>, Map<String, Value>)> = Vec::new();
    for (index, p) in pending.iter_mut().enumerate() {
        let (event_id, user, object, properties, anonymous_id) = match p {
            Pending::Done(..) => continue,
            Pending::Event {
                event_id,
                user_id,
                object,
                properties,
            } => (event_id, Some(user_id.clone()), object, properties, None),
            Pending::Anonymous {
                event_id,
                anonymous_id,
                object,
                properties,
            } => (
                event_id,
                linked.get(anonymous_id.as_str()).cloned(),
                object,
                properties,
                Some(anonymous_id.clone()),
            ),
        };
        let event_id = event_id.clone();
        let object = std::mem::take(object);
        match user {
            Some(user) => match segment::parse_event(object, &user, properties) {
                Ok(event) => {
                    to_ingest.push(event);
                    ingest_at.push(index);
                }
                Err(e) => *p = Pending::Done(Status::Rejected, Some(event_id), Some(e)),
            },
            None => {
                // Checked now, so what is held will parse when released.
                let checked = segment::parse_event(object.clone(), "anonymous", properties);
                match checked {
                    Ok(_) => {
                        to_park.push(ParkedEvent {
                            anonymous_id: anonymous_id.unwrap_or_default(),
                            event_id: event_id.clone(),
                            payload: Value::Object(object.clone()).to_string(),
                        });
                        park_at.push(index);
                        park_objects.push((object, properties.clone()));
                        *p = Pending::Done(Status::Held, Some(event_id), None);
                    }
                    Err(e) => *p = Pending::Done(Status::Rejected, Some(event_id), Some(e)),
                }
            }
        }
    }
    if !to_park.is_empty() {
        let parked = state
            .store
            .park_anonymous(
                source.clone(),
                to_park,
                HoldLimits {
                    per_visitor: config.hold_per_visitor,
                    max_age_ms: i64::from(config.hold_days) * 86_400_000,
                },
                received_at,
            )
            .await?;
        for ((i, outcome), (object, properties)) in
            park_at.into_iter().zip(parked).zip(park_objects)
        {
            match outcome {
                Parked::Held => {}
                Parked::Full => {
                    if let Pending::Done(status, _, error) = &mut pending[i] {
                        *status = Status::Rejected;
                        *error = Some(FieldError::new(
                            "anonymousId",
                            format!(
                                "this visitor holds {} events already, the most one not yet \
                                 identified may; identify the visitor to store them",
                                config.hold_per_visitor
                            ),
                        ));
                    }
                }
                Parked::AlreadyHeld => {
                    if let Pending::Done(status, ..) = &mut pending[i] {
                        *status = Status::Duplicate;
                    }
                }
                // Linked since this request looked: the event is the user's now.
                Parked::Linked(user) => match segment::parse_event(object, &user, &properties) {
                    Ok(event) => {
                        to_ingest.push(event);
                        ingest_at.push(i);
                    }
                    Err(e) => {
                        if let Pending::Done(status, _, error) = &mut pending[i] {
                            *status = Status::Rejected;
                            *error = Some(e);
                        }
                    }
                },
            }
        }
    }
    if !to_ingest.is_empty() {
        let ids: Vec<String> = to_ingest.iter().map(|e| e.event_id.clone()).collect();
        let outcomes = state
            .store
            .ingest(to_ingest, state.config.unknown_hcp, received_at)
            .await?;
        for ((i, outcome), event_id) in ingest_at.into_iter().zip(outcomes).zip(ids) {
            pending[i] = match outcome {
                IngestOutcome::Accepted => Pending::Done(Status::Accepted, Some(event_id), None),
                IngestOutcome::Duplicate => Pending::Done(Status::Duplicate, Some(event_id), None),
                IngestOutcome::Conflict => Pending::Done(
                    Status::Conflict,
                    Some(event_id),
                    Some(FieldError::new(
                        "messageId",
                        "a message with this id is already stored with different content",
                    )),
                ),
                IngestOutcome::Rejected(e) => {
                    Pending::Done(Status::Rejected, Some(event_id), Some(as_message_field(e)))
                }
            };
        }
    }

    let mut response = TrackResponse {
        success: true,
        ..TrackResponse::default()
    };
    for (index, p) in pending.into_iter().enumerate() {
        let Pending::Done(status, event_id, error) = p else {
            continue;
        };
        match status {
            Status::Accepted => response.accepted += 1,
            Status::Duplicate => response.duplicates += 1,
            Status::Held => response.held += 1,
            Status::Ignored => response.ignored += 1,
            Status::Conflict => response.conflicts += 1,
            Status::Rejected => response.rejected += 1,
        }
        response.results.push(MessageResult {
            index,
            event_id,
            status,
            error,
        });
    }
    tracing::debug!(
        accepted = response.accepted,
        duplicates = response.duplicates,
        held = response.held,
        rejected = response.rejected,
        "tracking messages processed"
    );
    Ok(response)
}

/// The store names the event's fields; a client of this API knows them as the message's.
fn as_message_field(e: FieldError) -> FieldError {
    match e.field.as_str() {
        "hcp" => FieldError::new("userId", e.reason),
        "event_id" => FieldError::new("messageId", e.reason),
        _ => e,
    }
}

/// Ingests the events held for a visitor now linked to `user_id`, then lets go of those stored
/// (or stored before). Events refused (the user is no HCP OpenCLM knows yet) stay held for a
/// later link; a crash between the two steps leaves them held, and their resend is a duplicate.
async fn release<S: Store>(
    state: &AppState<S>,
    source: &str,
    anonymous_id: &str,
    user_id: &str,
    held: Vec<ParkedEvent>,
    now: Timestamp,
) -> Result<(), ApiError> {
    let mut events = Vec::with_capacity(held.len());
    for parked in held {
        let Ok(Value::Object(object)) = serde_json::from_str::<Value>(&parked.payload) else {
            tracing::warn!("a held tracking event is not a JSON object; left held");
            continue;
        };
        match segment::parse_event(object, user_id, &Map::new()) {
            Ok(event) => events.push(event),
            Err(e) => {
                tracing::warn!(field = %e.field, "a held tracking event does not parse; left held")
            }
        }
    }
    if events.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = events.iter().map(|e| e.event_id.clone()).collect();
    let outcomes = state
        .store
        .ingest(events, state.config.unknown_hcp, now)
        .await?;
    let stored: Vec<String> = ids
        .into_iter()
        .zip(outcomes)
        .filter(|(_, o)| !matches!(o, IngestOutcome::Rejected(_)))
        .map(|(id, _)| id)
        .collect();
    if !stored.is_empty() {
        state
            .store
            .unpark(source.to_owned(), anonymous_id.to_owned(), stored)
            .await?;
    }
    Ok(())
}

/// Applies an identify's traits or a group to the user's HCP, and checks that an identify or
/// alias names an HCP OpenCLM knows (or may make): a link to nobody is refused, naming `userId`.
/// The outer error is the server's; the inner, the message's.
async fn apply_profile<S: Store>(
    state: &AppState<S>,
    caller: &Caller,
    message: &Message,
    action: &Action,
    now: Timestamp,
) -> Result<Result<(), FieldError>, ApiError> {
    let Some(user_id) = &message.user_id else {
        return Ok(Ok(()));
    };
    let (changes, group) = match action {
        Action::Identify(changes) => (Some(changes), None),
        Action::Group { segment } => (None, Some(segment)),
        Action::Alias { .. } => (None, None),
        _ => return Ok(Ok(())),
    };
    // A tracking key's identify links the visitor only; its traits stay out of master data.
    let may_write = caller.role.allows(Permission::WriteHcps);
    let changes = changes.filter(|c| may_write && !c.is_empty());
    let source = &state.config.segment.source;
    let existing = state
        .store
        .hcp_by_external_id(source.clone(), user_id.clone())
        .await?;
    let updated = match (existing, changes) {
        (Some(_), None) if group.is_none() => return Ok(Ok(())),
        (Some(hcp), _) => {
            let mut input = input_of(&hcp);
            if let Some(changes) = changes {
                apply_traits(&mut input, changes);
            }
            if let Some(segment) = group
                && !input.segments.contains(segment)
            {
                input.segments.push(segment.clone());
            }
            match input.validate(hcp.id.as_str()) {
                Ok(updated) if updated == hcp => return Ok(Ok(())),
                Ok(updated) => updated,
                Err(e) => return Ok(Err(e.within("traits"))),
            }
        }
        (None, Some(changes)) if changes.is_complete() => {
            let mut input = HcpInput {
                external_ids: vec![ExternalId {
                    system: source.clone(),
                    id: user_id.clone(),
                }],
                ..HcpInput::default()
            };
            apply_traits(&mut input, changes);
            let id = new_hcp_id(source, user_id);
            // An HCP of that id exists under other external ids: never replace it.
            if let Ok(existing) = HcpId::parse("id", &id)
                && state.store.get_hcp(existing).await?.is_some()
            {
                return Ok(Err(FieldError::new(
                    "userId",
                    format!(
                        "no HCP has this id in {source:?}, and the HCP {id} it would create \
                         exists already; add the id to its external ids"
                    ),
                )));
            }
            match input.validate(&id) {
                Ok(hcp) => hcp,
                Err(e) => return Ok(Err(e.within("traits"))),
            }
        }
        // Events of an unknown user make a stub under this policy; its master data comes later.
        (None, _) if state.config.unknown_hcp == UnknownHcpPolicy::CreateStub => return Ok(Ok(())),
        (None, _) if !may_write && is_complete_identify(action) => {
            return Ok(Err(FieldError::new(
                "userId",
                format!(
                    "no HCP has this id in {source:?}, and a key of the {} role may not create \
                     HCPs; nothing was linked or stored: send the identify with a key of the \
                     ingest role",
                    caller.role
                ),
            )));
        }
        (None, _) => {
            let how = match action {
                Action::Identify(_) => {
                    "an identify creates one only with the traits name, specialty and country"
                }
                _ => "identify the user with their traits first",
            };
            return Ok(Err(FieldError::new(
                "userId",
                format!("no HCP has this id in {source:?}; nothing was linked or stored: {how}"),
            )));
        }
    };
    let written = state
        .store
        .put_hcps(vec![updated], caller.actor(), now)
        .await?
        .pop()
        .unwrap_or(Ok(Upserted::Updated));
    Ok(written.map(|_| ()))
}

/// An identify whose traits would create an HCP, were the caller allowed to.
fn is_complete_identify(action: &Action) -> bool {
    matches!(action, Action::Identify(changes) if changes.is_complete())
}

fn input_of(hcp: &Hcp) -> HcpInput {
    HcpInput {
        name: Some(hcp.name.clone()),
        specialty: Some(hcp.specialty.clone()),
        country: Some(hcp.country.clone()),
        territory: hcp.territory.clone(),
        segments: hcp.segments.clone(),
        email: hcp.email.clone(),
        external_ids: hcp.external_ids.clone(),
        restricted_products: hcp.restricted_products.clone(),
    }
}

fn apply_traits(input: &mut HcpInput, changes: &TraitChanges) {
    if let Some(name) = &changes.name {
        input.name = Some(name.clone());
    }
    if let Some(email) = &changes.email {
        input.email = Some(email.clone());
    }
    if let Some(specialty) = &changes.specialty {
        input.specialty = Some(specialty.clone());
    }
    if let Some(country) = &changes.country {
        input.country = Some(country.clone());
    }
}

/// The OpenCLM id of an HCP a tracking source creates: the source and the user id when that
/// makes an identifier, else a hash of them.
fn new_hcp_id(source: &str, user_id: &str) -> String {
    let plain = format!("{source}-{user_id}");
    if parse_identifier("id", &plain).is_ok() {
        plain
    } else {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(format!("{source}\0{user_id}").as_bytes());
        format!("{source}-{}", hex::encode(&digest[..12]))
    }
}
