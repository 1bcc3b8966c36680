//! Audit and privacy: a record's full history from the audit trail (for those who may read
//! it), and the privacy officer's access export and erasure of an HCP (both audited by the use
//! cases).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use maud::html;
use openclm_app::audit::{AuditQuery, record_name};
use openclm_app::privacy::EraseInput;
use openclm_core::auth::Action;
use openclm_store::prelude::*;
use serde::Deserialize;

use super::layout::{csrf, when};
use super::{Nav, Viewer, WebError, checked_form, done, filled};
use crate::AppState;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RecordQuery {
    record: Option<String>,
    notice: Option<String>,
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
            openclm_app::audit::entries(
                &state.store,
                &viewer.caller,
                AuditQuery {
                    record: Some(record_name(asked)),
                    after: None,
                    limit: Some(1000),
                },
            )
            .await?
            .entries,
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
                @if let Some(list) = &entries {
                    p class="muted" data-testid="audit-count" { (list.len()) " entries" }
                    div class="scroll" {
                        table data-testid="audit" {
                            thead { tr {
                                th { "#" } th { "When" } th { "Who" } th { "Action" } th { "Old value" } th { "New value" } th { "Reason" }
                            } }
                            tbody {
                                @for e in list.iter() {
                                    tr {
                                        td class="num" { (e.seq) }
                                        td { (when(e.at)) }
                                        td { (e.actor) }
                                        td { (e.action) }
                                        td { details { summary { "old" } pre { (e.old_value.as_deref().unwrap_or("–")) } } }
                                        td { details { summary { "new" } pre { (e.new_value.as_deref().unwrap_or("–")) } } }
                                        td { (e.reason.as_deref().unwrap_or("–")) }
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
    let export =
        openclm_app::privacy::export(&state.store, &viewer.caller, &id, (state.clock)()).await?;
    let mut response = Json(export).into_response();
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
    let input = EraseInput {
        reason: filled(form.reason),
    };
    openclm_app::privacy::erase(&state.store, &viewer.caller, &id, input, (state.clock)()).await?;
    Ok(done(
        "/audit",
        "The HCP was erased; the AE cases and the audit trail are kept.",
    ))
}
