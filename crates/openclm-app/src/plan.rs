//! Reps and their weekly plans: a rep's plan for a week (made on first request and read back
//! unchanged after), a rep's feedback on a suggestion (a completed one recorded as the call it
//! was), and the report of what reps did with them. Only callers who reach all of a rep's
//! territories see the rep's plan; only those who reach a suggestion's HCP see the suggestion.

use openclm_core::auth::{Action, Scope};
use openclm_core::content::ContentStatus;
use openclm_core::engine::Engine;
use openclm_core::engine::rules::HcpFacts;
use openclm_core::pv::Screener;
use openclm_core::suggest::{
    FeedbackInput, Rep, RepInput, Suggestion, SuggestionStatus, VisitCandidate, Week, pick_visits,
};
use openclm_core::{Channel, Event, FieldError, HcpId, Timestamp};
use openclm_store::prelude::*;
use openclm_store::{
    HcpFilter, IngestOutcome, NewPlan, PageRequest, StoreError, SuggestionFilter, UnknownHcpPolicy,
    Upserted,
};
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;

use crate::decide::{HcpContext, decide_with, decision_library};
use crate::{AppError, Caller};

/// The channels a rep's call goes out on.
pub const REP_CHANNELS: [Channel; 2] = [Channel::FaceToFace, Channel::RemoteDetail];

/// Further key messages a suggestion carries besides its lead content.
const EXTRA_KEY_MESSAGES: usize = 2;

/// Plans are made for this week and up to this many weeks ahead: a plan holds its visits'
/// places under the caps, so one for a distant week would only block today's decisions.
pub const PLAN_WEEKS_AHEAD: u32 = 4;

/// A rep's plan for a week.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Plan {
    pub rep_id: String,
    pub week: Week,
    /// Visits the rep can make in the week.
    pub capacity: u32,
    /// HCPs of the rep's territories considered when the plan was made now (0 when it was read
    /// back).
    pub considered: usize,
    /// Why there is no plan, when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub suggestions: Vec<Suggestion>,
}

/// The rep's plan for `week`: the stored one, or one made now from the engine's decisions for
/// every HCP of the rep's territories (each on a rep channel, within every hard constraint),
/// keeping the `visits_per_week` HCPs with the highest expected response ([`pick_visits`]). Open suggestions
/// whose content or consent no longer allows them are cancelled before the plan is returned.
pub async fn plan_week<S: Store>(
    store: &S,
    engine: &Engine,
    rep: &Rep,
    week: Week,
    now: Timestamp,
) -> Result<Plan, StoreError> {
    let mut plan = Plan {
        rep_id: rep.id.clone(),
        week,
        capacity: rep.visits_per_week,
        considered: 0,
        note: None,
        suggestions: Vec::new(),
    };
    if let Some(stored) = store.get_plan(rep.id.clone(), week).await? {
        plan.suggestions = recheck(store, engine, stored, now).await?;
        return Ok(plan);
    }
    if week.end() <= now {
        plan.note = Some(format!("{week} is over and no plan was made for it"));
        return Ok(plan);
    }
    if week > Week::containing(now).plus(PLAN_WEEKS_AHEAD) {
        plan.note = Some(format!(
            "plans are made for this week and up to {PLAN_WEEKS_AHEAD} weeks ahead"
        ));
        return Ok(plan);
    }
    // A plan for a later week is decided as of its Monday.
    let at = now.max(week.start());
    let library = decision_library(store, at).await?;
    let mut candidates = Vec::new();
    for territory in &rep.territories {
        let mut cursor = None;
        loop {
            let filter = HcpFilter {
                territory: Some(territory.clone()),
                ..HcpFilter::default()
            };
            let page = store
                .list_hcps(filter, PageRequest { cursor, limit: 500 })
                .await?;
            for hcp in page.items {
                plan.considered += 1;
                let context = HcpContext::read(store, &library, hcp, at).await?;
                let decided = decide_with(
                    engine,
                    &library,
                    &context,
                    Some(&REP_CHANNELS),
                    10,
                    at,
                    week.end(),
                );
                if decided.chosen.is_some() {
                    let last_visit = REP_CHANNELS
                        .iter()
                        .filter_map(|c| context.state().last_touch(Some(*c)))
                        .max();
                    candidates.push((decided, last_visit));
                }
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    let scores: Vec<VisitCandidate> = candidates
        .iter()
        .filter_map(|(d, last_visit)| {
            let chosen = &d.answer.actions[d.chosen?];
            Some(VisitCandidate {
                hcp_id: d.record.hcp_id.as_str(),
                score: chosen.value.unwrap_or(chosen.score),
                last_visit: *last_visit,
            })
        })
        .collect();
    let picked: Vec<String> = pick_visits(&scores, rep.visits_per_week as usize)
        .into_iter()
        .map(str::to_owned)
        .collect();
    let mut decisions = Vec::with_capacity(picked.len());
    let mut suggestions = Vec::with_capacity(picked.len());
    for (decided, _) in candidates {
        if !picked.contains(&decided.record.hcp_id) {
            continue;
        }
        let Some(chosen) = decided.chosen.map(|c| &decided.answer.actions[c]) else {
            continue;
        };
        let key_messages = decided
            .answer
            .actions
            .iter()
            .filter(|a| a.channel == chosen.channel && a.content_id != chosen.content_id)
            .map(|a| a.content_id.clone())
            .take(EXTRA_KEY_MESSAGES)
            .collect();
        suggestions.push(Suggestion {
            suggestion_id: format!("sug_{:032x}", rand::random::<u128>()),
            rep_id: rep.id.clone(),
            week,
            hcp_id: decided.record.hcp_id.clone(),
            decision_id: decided.record.decision_id.clone(),
            channel: chosen.channel,
            content_id: chosen.content_id.clone(),
            key_messages,
            score: chosen.score,
            explanation: chosen.explanation.clone(),
            status: SuggestionStatus::Pending,
            reason: None,
            cancelled_because: None,
            note: None,
            created_at: now,
            updated_at: now,
        });
        let mut record = decided.record;
        if let Some(body) = record.body.as_object_mut() {
            body.insert(
                "plan".into(),
                json!({"rep_id": rep.id, "week": week, "picked_by": format!(
                    "the {} HCPs of the rep's territories with the highest expected response",
                    rep.visits_per_week)}),
            );
        }
        decisions.push(record);
    }
    let ours: Vec<String> = suggestions
        .iter()
        .map(|s| s.suggestion_id.clone())
        .collect();
    let stored = store
        .save_plan(NewPlan {
            rep_id: rep.id.clone(),
            week,
            decisions,
            suggestions,
            made_at: now,
        })
        .await?;
    // The plan just decided was checked as it was made (and its content again as it was stored);
    // one that another request stored first is checked now.
    plan.suggestions = if stored.iter().all(|s| ours.contains(&s.suggestion_id)) {
        stored
    } else {
        recheck(store, engine, stored, now).await?
    };
    Ok(plan)
}

/// Cancels the open suggestions that may no longer be carried out (content withdrawn or
/// expired, consent withdrawn, the HCP opted out) and returns the plan as now stored.
async fn recheck<S: Store>(
    store: &S,
    engine: &Engine,
    mut suggestions: Vec<Suggestion>,
    now: Timestamp,
) -> Result<Vec<Suggestion>, StoreError> {
    let mut cancellations: Vec<(String, String)> = Vec::new();
    for s in suggestions.iter().filter(|s| s.status.is_open()) {
        if let Some(why) = obstacle(store, engine, s, now).await? {
            cancellations.push((s.suggestion_id.clone(), why));
        }
    }
    if cancellations.is_empty() {
        return Ok(suggestions);
    }
    let ids: Vec<String> = cancellations.iter().map(|(id, _)| id.clone()).collect();
    store.cancel_suggestions(cancellations, now).await?;
    // As stored: a suggestion acted on meanwhile keeps what the rep did.
    for s in &mut suggestions {
        if ids.contains(&s.suggestion_id)
            && let Some(stored) = store.get_suggestion(s.suggestion_id.clone()).await?
        {
            *s = stored;
        }
    }
    Ok(suggestions)
}

/// Why a suggestion may not be carried out now, if it may not: any of its content no longer
/// usable for this HCP (withdrawn, expired, restricted, outside their country or specialty), or
/// consent for its channel withdrawn.
async fn obstacle<S: Store>(
    store: &S,
    engine: &Engine,
    s: &Suggestion,
    now: Timestamp,
) -> Result<Option<String>, StoreError> {
    let Ok(id) = HcpId::parse("hcp_id", &s.hcp_id) else {
        return Ok(None);
    };
    let Some(hcp) = store.get_hcp(id.clone()).await? else {
        return Ok(Some("the HCP is no longer known".into()));
    };
    let consent = store.consent_history(id.clone()).await?.unwrap_or_default();
    let state = store.hcp_state(id).await?.unwrap_or_default();
    let facts = HcpFacts {
        hcp: &hcp,
        consent: &consent,
        state: &state,
        planned: &[],
    };
    for content_id in std::iter::once(&s.content_id).chain(&s.key_messages) {
        let Some(content) = store.get_content(content_id.clone(), now).await? else {
            return Ok(Some(format!("content {content_id} is gone")));
        };
        if content.status_at(now) != ContentStatus::Approved {
            return Ok(Some(format!(
                "content {content_id} is {}",
                content.status_at(now)
            )));
        }
        if let Err(v) = engine.rules.check_content(&facts, &content, now) {
            return Ok(Some(format!("content {content_id}: {}", v.reason)));
        }
    }
    Ok(engine
        .rules
        .check_consent(&facts, s.channel, now)
        .err()
        .map(|v| v.reason))
}

fn rep_id(text: &str) -> Result<String, AppError> {
    Ok(openclm_core::hcp::parse_identifier("id", text)?)
}

/// Refuses `action` on a rep's plan unless the caller reaches all of the rep's territories.
fn require_rep(caller: &Caller, action: Action, rep: &Rep) -> Result<(), AppError> {
    let scope = caller.require(action)?;
    if rep
        .territories
        .iter()
        .all(|t| caller.reaches(scope, Some(t)))
    {
        Ok(())
    } else {
        tracing::warn!(caller = %caller.actor(), ?action, "denied: rep outside the caller's territories");
        Err(AppError::NotFound("rep".into()))
    }
}

/// Refuses `action` on a suggestion unless the caller reaches its HCP.
async fn require_suggestion<S: Store>(
    store: &S,
    caller: &Caller,
    action: Action,
    suggestion: &Suggestion,
) -> Result<(), AppError> {
    if caller.require(action)? == Scope::All {
        return Ok(());
    }
    crate::caller::visible_hcp(store, caller, action, &suggestion.hcp_id)
        .await
        .map(|_| ())
        .map_err(|_| AppError::NotFound("suggestion".into()))
}

/// The week `text` names (`2026-W49`), or the week of `now` when it names none.
pub fn parse_week(text: Option<&str>, now: Timestamp) -> Result<Week, AppError> {
    Ok(match text {
        None | Some("") => Week::containing(now),
        Some(text) => Week::parse("week", text)?,
    })
}

/// Stores the rep `id` as `input` describes, if the caller manages reps.
pub async fn save_rep<S: Store>(
    store: &S,
    caller: &Caller,
    id: &str,
    input: RepInput,
    now: Timestamp,
) -> Result<(Rep, Upserted), AppError> {
    caller.require(Action::ManageReps)?;
    let rep = input.validate(id)?;
    let upserted = store.put_rep(rep.clone(), now).await?;
    Ok((rep, upserted))
}

/// The rep `id` names, if the caller reaches all of the rep's territories.
pub async fn rep<S: Store>(store: &S, caller: &Caller, id: &str) -> Result<Rep, AppError> {
    caller.require(Action::ReadSuggestions)?;
    let id = rep_id(id)?;
    let rep = store
        .get_rep(id)
        .await?
        .ok_or_else(|| AppError::NotFound("rep".into()))?;
    require_rep(caller, Action::ReadSuggestions, &rep)?;
    Ok(rep)
}

/// The plan of rep `id` for `week` (this week when `None`), as [`plan_week`] makes or reads it,
/// if the caller reaches all of the rep's territories.
pub async fn rep_plan<S: Store>(
    store: &S,
    caller: &Caller,
    engine: &Engine,
    id: &str,
    week: Option<&str>,
    now: Timestamp,
) -> Result<Plan, AppError> {
    caller.require(Action::ReadSuggestions)?;
    let week = parse_week(week, now)?;
    let Some(rep) = store.get_rep(rep_id(id)?).await? else {
        return Err(AppError::NotFound("rep".into()));
    };
    require_rep(caller, Action::ReadSuggestions, &rep)?;
    Ok(plan_week(store, engine, &rep, week, now).await?)
}

/// The suggestion `id` names, if the caller reaches its HCP.
pub async fn suggestion<S: Store>(
    store: &S,
    caller: &Caller,
    id: &str,
) -> Result<Suggestion, AppError> {
    caller.require(Action::ReadSuggestions)?;
    let id = openclm_core::hcp::parse_identifier("id", id)?;
    let suggestion = store
        .get_suggestion(id)
        .await?
        .ok_or_else(|| AppError::NotFound("suggestion".into()))?;
    require_suggestion(store, caller, Action::ReadSuggestions, &suggestion).await?;
    Ok(suggestion)
}

/// Records a rep's feedback on suggestion `id`: a note is screened (and held for PV when it may
/// report an adverse event), a suggestion no longer allowed is cancelled instead of acted on,
/// and a completed one is recorded as the call it was.
pub async fn feedback<S: Store>(
    store: &S,
    caller: &Caller,
    engine: &Engine,
    screener: &Screener,
    id: &str,
    input: FeedbackInput,
    now: Timestamp,
) -> Result<Suggestion, AppError> {
    caller.require(Action::ActOnSuggestions)?;
    let id = openclm_core::hcp::parse_identifier("id", id)?;
    let mut feedback = input.validate()?;
    let hcp = match store.get_suggestion(id.clone()).await? {
        Some(s) => {
            require_suggestion(store, caller, Action::ActOnSuggestions, &s).await?;
            s.hcp_id
        }
        None => return Err(AppError::NotFound("suggestion".into())),
    };
    // A rep's note is free text like any other: screened before it is kept, and held for PV
    // when it may report an adverse event.
    if let Some(note) = &feedback.note
        && let Some(found) = screener.screen_text(note)
    {
        let case_id = openclm_core::pv::case_id(&id, "note", note);
        let case = openclm_store::NewAeCase {
            case_id: case_id.clone(),
            event_id: id.clone(),
            hcp: HcpId::parse("hcp", &hcp)?,
            source: "rep_feedback".into(),
            field: "note".into(),
            text: note.clone(),
            findings: serde_json::to_string(&found).unwrap_or_else(|_| "{}".into()),
            due_hours: screener.due_hours,
        };
        store.open_ae_case(case, now).await?;
        feedback.note = Some(openclm_core::pv::held_text(&case_id));
    }
    // Acting on a suggestion needs it to be allowed still; a dismissal always goes through.
    if feedback.status != SuggestionStatus::Dismissed
        && let Some(current) = store.get_suggestion(id.clone()).await?
        && current.status.is_open()
        && let Some(why) = obstacle(store, engine, &current, now).await?
    {
        store
            .cancel_suggestions(vec![(id.clone(), why.clone())], now)
            .await?;
        return Err(AppError::Conflict(FieldError::new(
            "status",
            format!("the suggestion was cancelled: {why}"),
        )));
    }
    let suggestion = match store.suggestion_feedback(id, feedback, now).await? {
        None => return Err(AppError::NotFound("suggestion".into())),
        Some(Err(e)) => return Err(AppError::Conflict(e)),
        Some(Ok(s)) => s,
    };
    if suggestion.status == SuggestionStatus::Completed {
        record_call(store, &suggestion, now).await?;
    }
    Ok(suggestion)
}

/// A completed suggestion is a call made: it is recorded as an event (once, whatever the number
/// of times the completion is reported), so that it counts under the caps like any other touch
/// and credits the decision's arm with its delivery.
async fn record_call<S: Store>(store: &S, s: &Suggestion, now: Timestamp) -> Result<(), AppError> {
    let event = json!({
        "event_id": format!("{}:completed", s.suggestion_id),
        "occurred_at": s.updated_at.min(now),
        "hcp": s.hcp_id,
        "source": "openclm",
        "channel": s.channel,
        "type": "call_logged",
        "content_id": s.content_id,
        "decision_id": s.decision_id,
        "rep_id": s.rep_id,
    });
    let event = Event::from_json(event)
        .map_err(|e| AppError::Store(StoreError::Corrupt(format!("a completed call: {e}"))))?;
    let outcome = store
        .ingest(vec![event], UnknownHcpPolicy::Reject, now)
        .await?;
    match outcome.first() {
        Some(IngestOutcome::Accepted | IngestOutcome::Duplicate) => Ok(()),
        other => {
            let reason = match other {
                Some(IngestOutcome::Rejected(e)) => e.field.clone(),
                Some(IngestOutcome::Conflict) => "conflict".into(),
                _ => "no outcome".into(),
            };
            tracing::warn!(%reason, "the call of a completed suggestion was not recorded");
            Ok(())
        }
    }
}

/// What reps did with the suggestions of a week: counts by status, dismissals by reason, and the
/// same per content item.
#[derive(Debug, Serialize)]
pub struct Report {
    pub week: Week,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rep_id: Option<String>,
    pub suggestions: usize,
    pub by_status: BTreeMap<&'static str, usize>,
    pub dismissed_because: BTreeMap<&'static str, usize>,
    pub by_content: Vec<ContentReport>,
}

#[derive(Debug, Serialize)]
pub struct ContentReport {
    pub content_id: String,
    pub suggested: usize,
    pub by_status: BTreeMap<&'static str, usize>,
}

pub fn report(week: Week, rep_id: Option<String>, suggestions: &[Suggestion]) -> Report {
    let mut by_status = BTreeMap::new();
    let mut dismissed_because = BTreeMap::new();
    let mut per_content: BTreeMap<&str, ContentReport> = BTreeMap::new();
    for s in suggestions {
        *by_status.entry(s.status.as_str()).or_insert(0) += 1;
        if let Some(reason) = s.reason {
            *dismissed_because.entry(reason.as_str()).or_insert(0) += 1;
        }
        let c = per_content
            .entry(&s.content_id)
            .or_insert_with(|| ContentReport {
                content_id: s.content_id.clone(),
                suggested: 0,
                by_status: BTreeMap::new(),
            });
        c.suggested += 1;
        *c.by_status.entry(s.status.as_str()).or_insert(0) += 1;
    }
    Report {
        week,
        rep_id,
        suggestions: suggestions.len(),
        by_status,
        dismissed_because,
        by_content: per_content.into_values().collect(),
    }
}

/// What reps did with the suggestions of `week` (this week when `None`), of one rep or all, if
/// the caller may read reports.
pub async fn suggestion_report<S: Store>(
    store: &S,
    caller: &Caller,
    week: Option<&str>,
    rep: Option<&str>,
    now: Timestamp,
) -> Result<Report, AppError> {
    caller.require(Action::ReadReports)?;
    let week = parse_week(week, now)?;
    let rep = rep.map(rep_id).transpose()?;
    let suggestions = store
        .list_suggestions(SuggestionFilter {
            week: Some(week),
            rep_id: rep.clone(),
            hcp_id: None,
        })
        .await?;
    Ok(report(week, rep, &suggestions))
}
