//! The pharmacovigilance queue: potential adverse-event cases with the time left on their clock,
//! overdue first, a page at a time and filtered by source, product and deadline; each case on its
//! own page with its full text and triage; the reconciliation per source.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use maud::{Markup, html};
use openclm_app::pv::{AE_PAGE_SIZE, AeQuery, MAX_AE_PAGE, TriageInput};
use openclm_core::auth::Action;
use openclm_core::pv::AeStatus;
use openclm_store::AeCase;
use openclm_store::prelude::*;
use serde::Deserialize;
use serde_json::Value;

use super::layout::{count, csrf, time_left, when};
use super::{Nav, Notice, Viewer, WebError, checked_form, done, filled, page, percent_encode};
use crate::AppState;

fn list(findings: &Value, key: &str) -> String {
    findings[key]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(|s| s.replace('_', " ")))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// The characters of a case's text the compact list shows: enough to recognise it, the rest is
/// on the case's own page (which, like this one, only PV reads).
const SNIPPET_CHARS: usize = 90;

fn snippet(text: &str) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(SNIPPET_CHARS).collect();
    if chars.next().is_some() {
        format!("{}…", head.trim_end())
    } else {
        head
    }
}

fn clock_class(left: i64) -> &'static str {
    if left < 0 {
        "bad"
    } else if left < 4 * 3600 {
        "warn"
    } else {
        "good"
    }
}

fn criteria(findings: &Value) -> Markup {
    html! {
        @for (key, label) in [("patient", "patient"), ("reporter", "reporter"), ("product", "product"), ("event", "event")] {
            @let present = findings["criteria"][key] == true;
            span class=(if present { "good" } else { "muted" }) {
                (if present { "✓ " } else { "✗ " }) (label)
            }
            " "
        }
    }
}

/// The queue's filters, as the page's form sends them.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct QueueQuery {
    source: Option<String>,
    product: Option<String>,
    /// A checkbox: present ("1") when only overdue cases are wanted.
    overdue: Option<String>,
    page: Option<u32>,
}

impl QueueQuery {
    fn overdue_only(&self) -> bool {
        self.overdue
            .as_deref()
            .is_some_and(|o| !o.is_empty() && o != "0")
    }

    /// The queue's address for `page` with the same filters.
    fn href(&self, page: u32) -> String {
        let field = |v: &Option<String>| percent_encode(v.as_deref().unwrap_or_default().trim());
        format!(
            "/pv?source={}&product={}&overdue={}&page={page}",
            field(&self.source),
            field(&self.product),
            if self.overdue_only() { "1" } else { "" },
        )
    }
}

/// The queue: the tiles, filters, one page of open cases as a compact list (each opening on
/// its own page), the reconciliation per source and the latest triaged cases.
pub(crate) async fn queue<S: Store>(
    State(state): State<AppState<S>>,
    viewer: Viewer,
    Query(q): Query<QueueQuery>,
    notice: Query<Notice>,
) -> Result<Response, WebError> {
    let now = (state.clock)();
    let listing = openclm_app::pv::listing(
        &state.store,
        &viewer.caller,
        AeQuery {
            status: Some("open".into()),
            overdue: Some(q.overdue_only()),
            source: q.source.clone(),
            product: q.product.clone(),
            page: Some(q.page.unwrap_or(1)),
            limit: Some(AE_PAGE_SIZE),
        },
        now,
    )
    .await?;
    let triaged = openclm_app::pv::listing(
        &state.store,
        &viewer.caller,
        AeQuery {
            status: None,
            page: Some(1),
            limit: Some(MAX_AE_PAGE),
            ..AeQuery::default()
        },
        (state.clock)(),
    )
    .await?;
    let counts = openclm_app::pv::counts(&state.store, &viewer.caller, listing.now).await?;
    let sources = openclm_app::pv::reconciliation(&state.store, &viewer.caller)
        .await?
        .sources;
    let source_names: Vec<&str> = sources.iter().map(|s| s.source.as_str()).collect();
    let chosen_source = q.source.as_deref().map(str::trim).unwrap_or_default();
    let done_cases: Vec<&AeCase> = triaged
        .cases
        .iter()
        .filter(|c| c.status != AeStatus::Open)
        .take(AE_PAGE_SIZE as usize)
        .collect();
    let filtered = !chosen_source.is_empty()
        || q.product.as_deref().is_some_and(|p| !p.trim().is_empty())
        || q.overdue_only();
    let body = html! {
        div class="tiles" {
            (super::layout::tile("Open cases", &count(counts.open), "ae_open"))
            (super::layout::tile("Overdue", &count(counts.overdue), "ae_overdue"))
            (super::layout::tile("Triaged", &count(counts.triaged), "ae_triaged"))
        }
        @if counts.overdue > 0 {
            p class="error" role="alert" data-testid="overdue-alert" {
                (counts.overdue) " case(s) past the deadline: forward them to PV now."
            }
        }
        h2 { "Open cases" }
        form method="get" action="/pv" class="inline" role="search" data-testid="pv-filters" {
            label { "Source "
                select name="source" {
                    option value="" selected[chosen_source.is_empty()] { "any" }
                    @for name in &source_names {
                        option value=(name) selected[*name == chosen_source] { (name) }
                    }
                }
            }
            label { "Product " input name="product" value=(q.product.as_deref().unwrap_or_default()); }
            label { input type="checkbox" name="overdue" value="1" checked[q.overdue_only()]; " Overdue only" }
            button type="submit" { "Filter" }
            @if filtered { " " a href="/pv" { "Clear" } }
        }
        @if listing.cases.is_empty() {
            p class="muted" { (if filtered { "No open case matches." } else { "No open case." }) }
        } @else {
            div class="scroll" {
                table data-testid="pv-queue" {
                    thead { tr {
                        th scope="col" { "Case" } th scope="col" { "Received" } th scope="col" { "Clock" }
                        th scope="col" { "Source" } th scope="col" { "Product" } th scope="col" { "Criteria" }
                        th scope="col" { "Text" }
                    } }
                    tbody {
                        @for c in &listing.cases {
                            @let left = (c.due_at.millis() - now.millis()) / 1000;
                            tr data-case=(c.case_id) {
                                td { a href={"/pv/" (percent_encode(&c.case_id))} { (c.case_id) } }
                                td { (when(c.received_at)) }
                                td data-testid="clock" class=(clock_class(left)) { (time_left(left)) }
                                td { (c.source) }
                                td { (list(&c.findings, "products")) }
                                td { (criteria(&c.findings)) }
                                td class="muted" { (snippet(&c.text)) }
                            }
                        }
                    }
                }
            }
        }
        nav aria-label="Pages of the queue" class="inline" data-testid="pv-pages" {
            @if listing.page > 1 { a rel="prev" href=(q.href(listing.page - 1)) { "Previous page" } " " }
            span class="muted" { "Page " (listing.page) }
            @if listing.has_next { " " a rel="next" href=(q.href(listing.page + 1)) { "Next page" } }
        }
        h2 { "Reconciliation per source" }
        div class="scroll" {
            table data-testid="reconciliation" {
                thead { tr {
                    th scope="col" { "Source" } th scope="col" class="num" { "Screened" }
                    th scope="col" class="num" { "Flagged" } th scope="col" class="num" { "Forwarded" }
                    th scope="col" class="num" { "Acknowledged" }
                } }
                tbody {
                    @for s in &sources {
                        tr {
                            td { (s.source) }
                            @for n in [s.screened, s.flagged, s.forwarded, s.acknowledged] {
                                td class="num" { (count(n)) }
                            }
                        }
                    }
                }
            }
        }
        @if !done_cases.is_empty() {
            h2 { "Triaged" }
            div class="scroll" {
                table data-testid="triaged" {
                    thead { tr {
                        th scope="col" { "Case" } th scope="col" { "Decision" } th scope="col" { "Reference" }
                        th scope="col" { "By" } th scope="col" { "When" }
                    } }
                    tbody {
                        @for c in &done_cases {
                            tr data-case=(c.case_id) {
                                td { a href={"/pv/" (percent_encode(&c.case_id))} { (c.case_id) } }
                                td { (c.status.as_str().replace('_', " ")) }
                                td { (c.external_ref.as_deref().unwrap_or("–")) }
                                td { (c.triaged_by.as_deref().unwrap_or("–")) }
                                td { (c.triaged_at.map_or("–".to_owned(), when)) }
                            }
                        }
                    }
                }
            }
            @if counts.triaged > done_cases.len() as u64 {
                p class="muted" { "Showing " (done_cases.len()) " of " (count(counts.triaged)) " triaged cases; the API lists them all (GET /v1/ae-cases)." }
            }
        }
    };
    Ok(page(
        &viewer,
        Nav::Pv,
        "Pharmacovigilance queue",
        notice.shown(),
        body,
    ))
}

/// One case on its own page: the full text, what screening found, the clock and, while it is
/// open, the triage form.
pub(crate) async fn case<S: Store>(
    State(state): State<AppState<S>>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let c = openclm_app::pv::case(&state.store, &viewer.caller, id).await?;
    let now = (state.clock)();
    let left = (c.due_at.millis() - now.millis()) / 1000;
    let open = c.status == AeStatus::Open;
    let body = html! {
        p { a href="/pv" { "← Back to the queue" } }
        article class="card" data-case=(c.case_id) aria-labelledby="case-title" {
            h2 id="case-title" { "Case " (c.case_id) }
            @if open {
                p data-testid="clock" class=(clock_class(left)) { (time_left(left)) }
            } @else {
                p data-testid="decision" { "Triaged: " (c.status.as_str().replace('_', " ")) }
            }
            dl class="facts" {
                dt { "Received (day zero)" } dd { (when(c.received_at)) }
                dt { "Due" } dd { (when(c.due_at)) }
                dt { "Reporter (HCP)" } dd { (c.hcp_id) }
                dt { "Source" } dd { (c.source) " · " (c.field) }
                dt { "Products" } dd data-testid="products" { (list(&c.findings, "products")) }
                dt { "Events" } dd { (list(&c.findings, "events")) }
                dt { "Special situations" } dd { (list(&c.findings, "situations")) }
                dt { "Minimum criteria" } dd data-testid="criteria" { (criteria(&c.findings)) }
                @if !open {
                    dt { "Reference" } dd { (c.external_ref.as_deref().unwrap_or("–")) }
                    dt { "By" } dd { (c.triaged_by.as_deref().unwrap_or("–")) }
                    dt { "When" } dd { (c.triaged_at.map_or("–".to_owned(), when)) }
                }
            }
            blockquote data-testid="ae-text" { (c.text) }
            @if open && viewer.may(Action::TriageAeCases) {
                form method="post" action={"/pv/" (percent_encode(&c.case_id)) "/triage"} class="inline" {
                    (csrf(&viewer))
                    label { "Decision"
                        select name="status" required {
                            option value="ae_forwarded" { "AE forwarded to safety" }
                            option value="product_complaint" { "Product complaint" }
                            option value="not_ae" { "Not an AE" }
                        }
                    }
                    label { "External reference" input name="external_ref"; }
                    label { "Note" input name="note"; }
                    button type="submit" { "Triage" }
                }
            }
        }
    };
    Ok(page(
        &viewer,
        Nav::Pv,
        &format!("Case {}", c.case_id),
        None,
        body,
    ))
}

#[derive(Debug, Deserialize)]
pub(crate) struct TriageForm {
    status: Option<String>,
    external_ref: Option<String>,
    note: Option<String>,
}

pub(crate) async fn triage<S: Store>(
    State(state): State<AppState<S>>,
    viewer: Viewer,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, WebError> {
    let form: TriageForm = checked_form(&viewer, &headers, &body)?;
    let input = TriageInput {
        status: filled(form.status),
        external_ref: filled(form.external_ref),
        note: filled(form.note),
    };
    openclm_app::pv::triage(&state.store, &viewer.caller, id, input, (state.clock)()).await?;
    Ok(done("/pv", "Case triaged."))
}
