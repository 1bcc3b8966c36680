//! The pharmacovigilance queue: potential adverse-event cases with the time left on their clock,
//! overdue first, the reconciliation per source, and triage through the API's own handler.

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use maud::html;
use openclm_store::Store;
use serde::Deserialize;
use serde_json::Value;

use super::layout::{count, csrf, time_left, when_text};
use super::{Nav, Notice, Viewer, WebError, body_of, checked_form, done, json_of, page};
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

pub(crate) async fn queue<S: Store>(
    State(state): State<AppState<S>>,
    viewer: Viewer,
    notice: Query<Notice>,
) -> Result<Response, WebError> {
    let no_filter: Result<Query<crate::governance::AeQuery>, QueryRejection> =
        Ok(Query(crate::governance::AeQuery::default()));
    let cases = json_of(
        crate::governance::list_ae_cases(State(state.clone()), viewer.caller.clone(), no_filter)
            .await,
    )
    .await?;
    let sources =
        json_of(crate::governance::ae_reconciliation(State(state), viewer.caller.clone()).await)
            .await?;
    let items = cases["items"].as_array().cloned().unwrap_or_default();
    let open: Vec<&Value> = items.iter().filter(|c| c["status"] == "open").collect();
    let overdue = open.iter().filter(|c| c["overdue"] == true).count();
    let done_cases: Vec<&Value> = items.iter().filter(|c| c["status"] != "open").collect();
    let body = html! {
        div class="tiles" {
            (super::layout::tile("Open cases", &count(open.len() as u64), "ae_open"))
            (super::layout::tile("Overdue", &count(overdue as u64), "ae_overdue"))
            (super::layout::tile("Triaged", &count(done_cases.len() as u64), "ae_triaged"))
        }
        @if overdue > 0 {
            p class="error" role="alert" data-testid="overdue-alert" {
                (overdue) " case(s) past the deadline: forward them to PV now."
            }
        }
        h2 { "Open cases" }
        @if open.is_empty() { p class="muted" { "No open case." } }
        div class="cards" {
            @for c in &open {
                @let id = c["case_id"].as_str().unwrap_or_default();
                @let left = c["time_left_s"].as_i64().unwrap_or_default();
                article class="card" data-case=(id) aria-labelledby={"case-" (id)} {
                    h3 id={"case-" (id)} { "Case " (id) }
                    p data-testid="clock" class=(if left < 0 { "bad" } else if left < 4 * 3600 { "warn" } else { "good" }) {
                        (time_left(left))
                    }
                    dl class="facts" {
                        dt { "Received (day zero)" } dd { (when_text(c["received_at"].as_str())) }
                        dt { "Due" } dd { (when_text(c["due_at"].as_str())) }
                        dt { "Reporter (HCP)" } dd { (c["hcp_id"].as_str().unwrap_or_default()) }
                        dt { "Source" } dd { (c["source"].as_str().unwrap_or_default()) " · " (c["field"].as_str().unwrap_or_default()) }
                        dt { "Products" } dd { (list(&c["findings"], "products")) }
                        dt { "Events" } dd { (list(&c["findings"], "events")) }
                        dt { "Special situations" } dd { (list(&c["findings"], "situations")) }
                        dt { "Minimum criteria" } dd {
                            @for (key, label) in [("patient", "patient"), ("reporter", "reporter"), ("product", "product"), ("event", "event")] {
                                @let present = c["findings"]["criteria"][key] == true;
                                span class=(if present { "good" } else { "muted" }) {
                                    (if present { "✓ " } else { "✗ " }) (label)
                                }
                                " "
                            }
                        }
                    }
                    blockquote data-testid="ae-text" { (c["text"].as_str().unwrap_or_default()) }
                    form method="post" action={"/pv/" (id) "/triage"} class="inline" {
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
                    @for s in sources["sources"].as_array().into_iter().flatten() {
                        tr {
                            td { (s["source"].as_str().unwrap_or_default()) }
                            @for k in ["screened", "flagged", "forwarded", "acknowledged"] {
                                td class="num" { (count(s[k].as_u64().unwrap_or_default())) }
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
                            tr data-case=(c["case_id"].as_str().unwrap_or_default()) {
                                td { (c["case_id"].as_str().unwrap_or_default()) }
                                td { (c["status"].as_str().unwrap_or_default().replace('_', " ")) }
                                td { (c["external_ref"].as_str().unwrap_or("–")) }
                                td { (c["triaged_by"].as_str().unwrap_or("–")) }
                                td { (when_text(c["triaged_at"].as_str())) }
                            }
                        }
                    }
                }
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
    let json = body_of(&[
        ("status", form.status.as_deref()),
        ("external_ref", form.external_ref.as_deref()),
        ("note", form.note.as_deref()),
    ]);
    crate::governance::triage_ae_case(State(state), viewer.caller.clone(), Path(id), json).await?;
    Ok(done("/pv", "Case triaged."))
}
