//! The content library: every item's MLR state, approval and validity, expiry warnings,
//! performance per item and per slide; and the lifecycle steps (submit, approve with the
//! password re-entered, return, withdraw) through the API's own handler.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use maud::{Markup, html};
use openclm_core::auth::Action;
use openclm_core::content::{Content, ContentStatus};
use openclm_store::{ContentActivity, SendFilter, Store};
use serde::Deserialize;

use super::charts::{self, Axis};
use super::layout::{count, csrf, figure, number, when};
use super::{Nav, Notice, Viewer, WebError, body_of, checked_form, done, page};
use crate::AppState;

fn badge(status: ContentStatus) -> Markup {
    html! { span class={"badge " (status.as_str())} { (status.as_str().replace('_', " ")) } }
}

/// Per item (all slides together), from the all-activity rollup.
fn totals(
    rows: &[ContentActivity],
) -> std::collections::BTreeMap<&str, openclm_core::measure::kpi::Counts> {
    let mut by = std::collections::BTreeMap::new();
    for r in rows {
        by.entry(r.content_id.as_str())
            .or_insert_with(openclm_core::measure::kpi::Counts::default)
            .add(&r.counts);
    }
    by
}

pub(crate) async fn library<S: Store>(
    State(state): State<AppState<S>>,
    viewer: Viewer,
    notice: Query<Notice>,
) -> Result<Response, WebError> {
    viewer.caller.require(Action::ReadContent)?;
    let now = (state.clock)();
    let mut items = openclm_app::decide::content_library(&state.store, now).await?;
    items.sort_by(|a, b| a.id.cmp(&b.id));
    // Performance is brand-wide, as the overview: for those who read reports.
    let reports = viewer.may(Action::ReadReports);
    let activity = if reports {
        state.store.content_activity(None).await?
    } else {
        Vec::new()
    };
    let performance = totals(&activity);
    let expiring: Vec<&Content> = items.iter().filter(|c| c.expires_soon(now)).collect();
    let body = html! {
        @if !expiring.is_empty() {
            section aria-labelledby="expiring" class="card" {
                h2 id="expiring" { "Expiring within 30 days" }
                ul {
                    @for c in &expiring {
                        li data-testid="expiring" {
                            a href={"/content/" (c.id)} { (c.id) } " — " (c.title) ": expires "
                            span class="warn" { (c.expires_at.map(when).unwrap_or_default()) }
                        }
                    }
                }
            }
        }
        div class="scroll" {
            table data-testid="content-table" {
                caption { (items.len()) " items" }
                thead { tr {
                    th scope="col" { "Item" } th scope="col" { "Title" } th scope="col" { "Product" }
                    th scope="col" { "Status" } th scope="col" class="num" { "Version" }
                    th scope="col" { "Approval code" } th scope="col" { "Valid from" }
                    th scope="col" { "Expires" }
                    @if reports {
                        th scope="col" class="num" { "Delivered" }
                        th scope="col" class="num" { "Engaged per delivery" } th scope="col" class="num" { "Mean dwell" }
                    }
                } }
                tbody {
                    @for c in &items {
                        @let status = c.status_at(now);
                        @let perf = performance.get(c.id.as_str()).copied().unwrap_or_default();
                        @let rates = perf.rates();
                        tr data-content=(c.id) {
                            td { a href={"/content/" (c.id)} { (c.id) } }
                            td { (c.title) }
                            td { (c.product) }
                            td data-testid="status" { (badge(status)) }
                            td class="num" { (c.version) }
                            td { (c.approval_code.as_deref().unwrap_or("–")) }
                            td { (c.valid_from.map(when).unwrap_or_else(|| "–".into())) }
                            td {
                                (c.expires_at.map(when).unwrap_or_else(|| "–".into()))
                                @if c.expires_soon(now) { " " span class="warn" { "expires soon" } }
                            }
                            @if reports {
                                td class="num" { (count(perf.delivered)) }
                                td class="num" { (number(rates.engagement_rate, 2)) }
                                td class="num" { (rates.dwell_mean_s.map_or("–".into(), |s| format!("{s:.0} s"))) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page(
        &viewer,
        Nav::Content,
        "Content library",
        notice.shown(),
        body,
    ))
}

pub(crate) async fn show<S: Store>(
    State(state): State<AppState<S>>,
    viewer: Viewer,
    Path(id): Path<String>,
    notice: Query<Notice>,
) -> Result<Response, WebError> {
    viewer.caller.require(Action::ReadContent)?;
    let now = (state.clock)();
    let content = state
        .store
        .get_content(id.clone(), now)
        .await?
        .ok_or_else(|| crate::ApiError::NotFound("content".into()))?;
    let status = content.status_at(now);
    let reports = viewer.may(Action::ReadReports);
    let slides = if reports {
        state.store.content_activity(Some(id.clone())).await?
    } else {
        Vec::new()
    };
    let sends = if viewer.may(Action::ReadReports) {
        Some(
            state
                .store
                .send_history(
                    SendFilter {
                        content_id: Some(id.clone()),
                        hcp: None,
                    },
                    100_000,
                )
                .await?
                .len(),
        )
    } else {
        None
    };
    let dwell: Vec<(String, f64)> = slides
        .iter()
        .filter(|s| !s.key_message.is_empty())
        .filter_map(|s| {
            s.counts
                .rates()
                .dwell_mean_s
                .map(|d| (s.key_message.clone(), d))
        })
        .collect();
    let mlr = &content.mlr;
    let body = html! {
        div class="grid2" {
            section class="card" aria-labelledby="facts" {
                h2 id="facts" { (content.title) }
                dl class="facts" {
                    dt { "Status" } dd data-testid="status" { (badge(status)) }
                    dt { "Product" } dd { (content.product) }
                    dt { "Kind" } dd { (format!("{:?}", content.kind).to_lowercase()) }
                    dt { "Topics" } dd { (content.topics.join(", ")) }
                    dt { "Version" } dd { (content.version) }
                    dt { "Author" } dd { (mlr.author.as_deref().unwrap_or("–")) }
                    dt { "Approval code" } dd data-testid="approval-code" { (content.approval_code.as_deref().unwrap_or("–")) }
                    dt { "Valid from" } dd { (content.valid_from.map(when).unwrap_or_else(|| "–".into())) }
                    dt { "Expires" } dd {
                        (content.expires_at.map(when).unwrap_or_else(|| "–".into()))
                        @if content.expires_soon(now) { " " span class="warn" { "within 30 days" } }
                    }
                    @if let Some(sig) = &mlr.signature {
                        dt { "Signed by" } dd data-testid="signature" {
                            (sig.printed_name) " (" (sig.user_id) "), " (when(sig.signed_at)) ": “" (sig.meaning) "”"
                        }
                    }
                    @if let Some(by) = &mlr.approved_externally_by {
                        dt { "Approved in" } dd { (by) }
                    }
                    @if let Some(at) = mlr.withdrawn_at {
                        dt { "Withdrawn" } dd class="bad" {
                            (when(at)) @if let Some(r) = &mlr.withdrawal_reason { ": " (r) }
                        }
                    }
                    @if let Some(n) = sends {
                        dt { "Sends recorded" } dd data-testid="sends" { (count(n as u64)) }
                    }
                }
            }
            section class="card" aria-labelledby="actions" {
                h2 id="actions" { "Review" }
                (actions(&viewer, &content, status))
            }
        }
        @if reports { section aria-labelledby="perf" {
            h2 id="perf" { "Performance per slide" }
            @if slides.is_empty() {
                p class="muted" { "No activity with this item yet." }
            } @else {
                @if !dwell.is_empty() {
                    (figure("Mean dwell time per slide, in seconds", &charts::bars(&dwell, Axis::Number)))
                }
                div class="scroll" {
                    table data-testid="slides" {
                        thead { tr {
                            th scope="col" { "Slide / key message" } th scope="col" class="num" { "Delivered" }
                            th scope="col" class="num" { "Views" } th scope="col" class="num" { "Engaged" }
                            th scope="col" class="num" { "Mean dwell" } th scope="col" class="num" { "Median dwell" }
                        } }
                        tbody {
                            @for s in &slides {
                                @let r = s.counts.rates();
                                tr {
                                    td { @if s.key_message.is_empty() { "(whole item)" } @else { (s.key_message) } }
                                    td class="num" { (count(s.counts.delivered)) }
                                    td class="num" { (count(s.counts.dwell_n)) }
                                    td class="num" { (count(s.counts.engaged)) }
                                    td class="num" { (r.dwell_mean_s.map_or("–".into(), |d| format!("{d:.1} s"))) }
                                    td class="num" { (r.dwell_median_s.map_or("–".into(), |d| format!("{d:.1} s"))) }
                                }
                            }
                        }
                    }
                }
            }
        } }
    };
    Ok(page(
        &viewer,
        Nav::Content,
        &format!("Content {}", content.id),
        notice.shown(),
        body,
    ))
}

fn actions(viewer: &Viewer, content: &Content, status: ContentStatus) -> Markup {
    let id = &content.id;
    let mut any = false;
    let markup = html! {
        @if status == ContentStatus::Draft && viewer.may(Action::WriteContent) {
            ({ any = true; "" })
            form method="post" action={"/content/" (id) "/submit"} class="inline" {
                (csrf(viewer))
                button type="submit" { "Submit for review" }
            }
        }
        @if status == ContentStatus::InReview && viewer.may(Action::ReviewContent) {
            ({ any = true; "" })
            form method="post" action={"/content/" (id) "/approve"} class="stack" data-testid="approve-form" {
                (csrf(viewer))
                label for="approval_code" { "Approval code" }
                input id="approval_code" name="approval_code" required;
                label for="valid_from" { "Valid from (empty: now)" }
                input id="valid_from" name="valid_from" type="date";
                label for="expires_at" { "Expires on" }
                input id="expires_at" name="expires_at" type="date" required;
                label for="password" { "Your password (signs the approval: “approved for distribution”)" }
                input id="password" name="password" type="password" autocomplete="current-password" required;
                button type="submit" { "Approve and sign" }
            }
            form method="post" action={"/content/" (id) "/return"} class="inline" {
                (csrf(viewer))
                label { "Reason to return" input name="reason"; }
                button type="submit" class="secondary" { "Return to draft" }
            }
        }
        @if matches!(status, ContentStatus::Approved | ContentStatus::InReview | ContentStatus::Draft)
            && viewer.may(Action::WithdrawContent) {
            ({ any = true; "" })
            form method="post" action={"/content/" (id) "/withdraw"} class="inline"
                data-confirm="Withdraw this item? Pending sends and suggestions stop at once." {
                (csrf(viewer))
                label { "Reason to withdraw" input name="reason" required; }
                button type="submit" class="danger" { "Withdraw" }
            }
        }
    };
    if any {
        markup
    } else {
        html! { p class="muted" { "Nothing for your role to do with this item in its state (" (status.as_str()) ")." } }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct StepForm {
    approval_code: Option<String>,
    valid_from: Option<String>,
    expires_at: Option<String>,
    password: Option<String>,
    reason: Option<String>,
}

/// A date from a date field as the API's timestamp at `time` of that day, UTC.
fn on_day(text: Option<&str>, time: &str) -> Option<String> {
    let text = text?.trim();
    if text.is_empty() {
        return None;
    }
    Some(if text.len() == 10 {
        format!("{text}T{time}")
    } else {
        text.to_owned()
    })
}

pub(crate) async fn step<S: Store>(
    State(state): State<AppState<S>>,
    viewer: Viewer,
    Path((id, step)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, WebError> {
    let form: StepForm = checked_form(&viewer, &headers, &body)?;
    // Valid from the start of the first day; "expires on" a day means usable through it.
    let valid_from = on_day(form.valid_from.as_deref(), "00:00:00Z");
    let expires_at = on_day(form.expires_at.as_deref(), "23:59:59.999Z");
    let json = match step.as_str() {
        "approve" => body_of(&[
            ("approval_code", form.approval_code.as_deref()),
            ("valid_from", valid_from.as_deref()),
            ("expires_at", expires_at.as_deref()),
            ("password", form.password.as_deref()),
        ]),
        "return" | "withdraw" => body_of(&[("reason", form.reason.as_deref())]),
        _ => body_of(&[]),
    };
    crate::governance::content_step(
        State(state),
        viewer.caller.clone(),
        Path((id.clone(), step.clone())),
        json,
    )
    .await?;
    let notice = match step.as_str() {
        "submit" => "Submitted for review.",
        "approve" => "Approved and signed.",
        "return" => "Returned to draft.",
        _ => "Withdrawn: pending sends and suggestions stopped.",
    };
    Ok(done(
        &format!("/content/{}", super::percent_encode(&id)),
        notice,
    ))
}
