//! Audit and privacy: a record's full history from the audit trail (for those who may read
//! it), and the privacy officer's access export and erasure of an HCP, through the API's own
//! handlers (both audited there).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use maud::html;
use openclm_core::auth::Action;
use openclm_store::prelude::*;
use serde::Deserialize;

use super::layout::{csrf, when_text};
use super::{Nav, Viewer, WebError, body_of, checked_form, done, json_of};
use crate::AppState;
use crate::governance::AuditQuery;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RecordQuery {
    record: Option<String>,
    notice: Option<String>,
}

/// The record as the trail names it: `hcp:<id>` stands for the HCP's hashed record name (the
/// trail never holds an HCP's id in clear).
fn record_name(asked: &str) -> String {
    match asked.strip_prefix("hcp:") {
        Some(id) => openclm_core::privacy::hcp_record(id.trim()),
        None => asked.to_owned(),
    }
}

pub(crate) async fn show<S: Store>(
    State(state): State<AppState<S>>,
    viewer: Viewer,
    Query(q): Query<RecordQuery>,
) -> Result<Response, WebError> {
    let may_audit = viewer.may(Action::ReadAudit);
    let may_privacy = viewer.may(Action::PrivacyRequests);
    if !may_audit && !may_privacy {
        viewer.caller.require(Action::ReadAudit)?;
    }
    let notice = super::Notice { notice: q.notice }.shown();
    let asked = q
        .record
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    let entries = match (&asked, may_audit) {
        (Some(asked), true) => Some(
            json_of(
                crate::governance::audit(
                    State(state),
                    viewer.caller.clone(),
                    Ok(Query(AuditQuery {
                        record: Some(record_name(asked)),
                        after: None,
                        limit: Some(1000),
                    })),
                )
                .await,
            )
            .await?,
        ),
        _ => None,
    };
    let body = html! {
        @if may_audit {
            section aria-labelledby="history" {
                h2 id="history" { "A record's history" }
                form method="get" action="/audit" class="inline" {
                    label { "Record (content/ID, campaign/ID, user/ID, ae_case/ID, hcp:ID)"
                        input name="record" value=(asked.clone().unwrap_or_default()) size="40"; }
                    button type="submit" { "Show history" }
                }
                @if let Some(entries) = &entries {
                    @let list = entries["entries"].as_array().cloned().unwrap_or_default();
                    p class="muted" data-testid="audit-count" { (list.len()) " entries" }
                    div class="scroll" {
                        table data-testid="audit" {
                            thead { tr {
                                th { "#" } th { "When" } th { "Who" } th { "Action" } th { "Old value" } th { "New value" } th { "Reason" }
                            } }
                            tbody {
                                @for e in &list {
                                    tr {
                                        td class="num" { (e["seq"]) }
                                        td { (when_text(e["at"].as_str())) }
                                        td { (e["actor"].as_str().unwrap_or_default()) }
                                        td { (e["action"].as_str().unwrap_or_default()) }
                                        td { details { summary { "old" } pre { (e["old_value"].as_str().unwrap_or("–")) } } }
                                        td { details { summary { "new" } pre { (e["new_value"].as_str().unwrap_or("–")) } } }
                                        td { (e["reason"].as_str().unwrap_or("–")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if may_privacy {
            section aria-labelledby="privacy" class="card" {
                h2 id="privacy" { "Data-subject requests" }
                p class="muted" { "Both are recorded in the audit trail. Erasure pseudonymizes the HCP everywhere; adverse-event cases and the audit trail are kept, as the law requires." }
                form method="post" action="/privacy/export" class="inline" data-testid="export-form" {
                    (csrf(&viewer))
                    label { "HCP id" input name="hcp" required; }
                    button type="submit" class="secondary" { "Download access export (JSON)" }
                }
                form method="post" action="/privacy/erase" class="inline" data-testid="erase-form"
                    data-confirm="Erase this HCP? This cannot be undone." {
                    (csrf(&viewer))
                    label { "HCP id" input name="hcp" required; }
                    label { "Request being answered" input name="reason" required; }
                    button type="submit" class="danger" { "Erase" }
                }
            }
        }
    };
    Ok(super::page(
        &viewer,
        Nav::Audit,
        "Audit and privacy",
        notice,
        body,
    ))
}

#[derive(Debug, Deserialize)]
pub(crate) struct PrivacyForm {
    hcp: Option<String>,
    reason: Option<String>,
}

fn hcp_of(form: &PrivacyForm) -> Result<String, WebError> {
    form.hcp
        .as_deref()
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| openclm_core::FieldError::new("hcp", "is required").into())
}

pub(crate) async fn export<S: Store>(
    State(state): State<AppState<S>>,
    viewer: Viewer,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, WebError> {
    let form: PrivacyForm = checked_form(&viewer, &headers, &body)?;
    let id = hcp_of(&form)?;
    let answer =
        crate::governance::get_privacy_export(State(state), viewer.caller.clone(), Path(id))
            .await?;
    let mut response = answer.into_response();
    response.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"hcp-export.json\""),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

pub(crate) async fn erase<S: Store>(
    State(state): State<AppState<S>>,
    viewer: Viewer,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, WebError> {
    let form: PrivacyForm = checked_form(&viewer, &headers, &body)?;
    let id = hcp_of(&form)?;
    let json = body_of(&[("reason", form.reason.as_deref())]);
    crate::governance::post_privacy_erase(State(state), viewer.caller.clone(), Path(id), json)
        .await?;
    Ok(done(
        "/audit",
        "The HCP was erased; the AE cases and the audit trail are kept.",
    ))
}
