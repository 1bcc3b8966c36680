//! The rep view: this week's suggestions for the signed-in rep (the plan is made on first
//! read), each with its reason; accept, dismiss with a reason, or complete — through the same
//! use cases as the API (`openclm_app::plan`).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use maud::html;
use openclm_core::auth::Role;
use openclm_core::suggest::{DismissReason, FeedbackInput, SuggestionStatus};
use openclm_store::prelude::*;
use serde::Deserialize;

use super::layout::{count, csrf, pct};
use super::{Nav, Notice, Viewer, WebError, checked_form, done, page, percent_encode};
use crate::AppState;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RepQuery {
    rep: Option<String>,
    notice: Option<String>,
}

fn reason_label(r: DismissReason) -> &'static str {
    match r {
        DismissReason::NotRelevant => "Not relevant for this HCP",
        DismissReason::AlreadyDiscussed => "Already discussed",
        DismissReason::HcpNotInterested => "HCP not interested",
        DismissReason::HcpUnavailable => "HCP unavailable this week",
        DismissReason::NoTime => "No time this week",
        DismissReason::Other => "Other",
    }
}

pub(crate) async fn week<S: Store>(
    State(state): State<AppState<S>>,
    viewer: Viewer,
    Query(q): Query<RepQuery>,
) -> Result<Response, WebError> {
    viewer
        .caller
        .require(openclm_core::auth::Action::ReadSuggestions)?;
    let notice = Notice { notice: q.notice }.shown();
    // A rep sees their own plan; others (marketers, analysts) name the rep.
    let rep_id = match (viewer.caller.role, q.rep.filter(|r| !r.trim().is_empty())) {
        (Role::Rep, _) => Some(viewer.user.user_id.clone()),
        (_, asked) => asked,
    };
    let Some(rep_id) = rep_id else {
        let body = html! {
            form method="get" action="/rep" class="inline" {
                label { "Rep id" input name="rep" required; }
                button type="submit" { "Show the week's plan" }
            }
        };
        return Ok(page(&viewer, Nav::Rep, "Rep suggestions", notice, body));
    };
    let plan = openclm_app::plan::rep_plan(
        &state.store,
        &viewer.caller,
        &state.config.engine,
        &rep_id,
        None,
        (state.clock)(),
    )
    .await?;
    let open = plan
        .suggestions
        .iter()
        .filter(|s| s.status.is_open())
        .count();
    let back = format!("/rep?rep={}", percent_encode(&rep_id));
    let body = html! {
        p class="muted" {
            "Week " (plan.week) " · " (plan.capacity) " visits planned for rep " strong { (plan.rep_id) }
            @if plan.considered > 0 { " · " (count(plan.considered as u64)) " HCPs considered" }
        }
        @if let Some(note) = &plan.note { p class="notice" { (note) } }
        div class="tiles" {
            (super::layout::tile("Suggestions", &count(plan.suggestions.len() as u64), "suggestions"))
            (super::layout::tile("Still open", &count(open as u64), "suggestions_open"))
        }
        div class="cards" {
            @for s in &plan.suggestions {
                article class="card" data-suggestion=(s.suggestion_id) aria-labelledby={"s-" (s.suggestion_id)} {
                    h3 id={"s-" (s.suggestion_id)} {
                        a href={"/hcps/" (s.hcp_id)} { (s.hcp_id) } " · " (s.channel.as_str().replace('_', " "))
                    }
                    p { "Lead content " strong { (s.content_id) }
                        @if !s.key_messages.is_empty() { " · then " (s.key_messages.join(", ")) } }
                    p class="why" { "Why: " (s.explanation) }
                    p class="muted" { "Expected response " (pct(Some(s.score))) " · status "
                        strong data-testid="status" { (s.status.as_str()) }
                        @if let Some(r) = s.reason { " (" (reason_label(r)) ")" }
                        @if let Some(why) = &s.cancelled_because { " — " (why) }
                    }
                    @if s.status.is_open() {
                        div class="inline" {
                            @if s.status == SuggestionStatus::Pending {
                                form method="post" action={"/rep/suggestions/" (s.suggestion_id)} class="inline" {
                                    (csrf(&viewer))
                                    input type="hidden" name="rep" value=(rep_id);
                                    input type="hidden" name="status" value="accepted";
                                    button type="submit" { "Accept" }
                                }
                            }
                            form method="post" action={"/rep/suggestions/" (s.suggestion_id)} class="inline" {
                                (csrf(&viewer))
                                input type="hidden" name="rep" value=(rep_id);
                                input type="hidden" name="status" value="completed";
                                button type="submit" class="secondary" { "Completed (call made)" }
                            }
                        }
                        form method="post" action={"/rep/suggestions/" (s.suggestion_id)} class="inline" {
                            (csrf(&viewer))
                            input type="hidden" name="rep" value=(rep_id);
                            input type="hidden" name="status" value="dismissed";
                            label { "Reason"
                                select name="reason" required {
                                    @for r in DismissReason::ALL { option value=(r.as_str()) { (reason_label(r)) } }
                                }
                            }
                            label { "Note (optional)" input name="note"; }
                            button type="submit" class="secondary" { "Dismiss" }
                        }
                    }
                }
            }
        }
        @if plan.suggestions.is_empty() { p class="muted" { "No suggestions this week." } }
        p { a href=(back) { "Reload" } }
    };
    Ok(page(&viewer, Nav::Rep, "Rep suggestions", notice, body))
}

#[derive(Debug, Deserialize)]
pub(crate) struct FeedbackForm {
    rep: Option<String>,
    status: Option<String>,
    reason: Option<String>,
    note: Option<String>,
}

pub(crate) async fn feedback<S: Store>(
    State(state): State<AppState<S>>,
    viewer: Viewer,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, WebError> {
    let form: FeedbackForm = checked_form(&viewer, &headers, &body)?;
    let status = form.status.clone().unwrap_or_default();
    // An empty field is one left out.
    let filled =
        |field: Option<String>| field.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let input = FeedbackInput {
        status: filled(form.status),
        reason: filled(form.reason),
        note: filled(form.note),
    };
    openclm_app::plan::feedback(
        &state.store,
        &viewer.caller,
        &state.config.engine,
        &state.config.screener,
        &id,
        input,
        (state.clock)(),
    )
    .await?;
    let notice = match status.as_str() {
        "accepted" => "Suggestion accepted.",
        "dismissed" => "Suggestion dismissed.",
        _ => "Suggestion completed: the call is logged.",
    };
    let back = match form.rep.filter(|r| !r.is_empty()) {
        Some(rep) => format!("/rep?rep={}", percent_encode(&rep)),
        None => "/rep".into(),
    };
    Ok(done(&back, notice))
}
