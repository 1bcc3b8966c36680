//! The delivery queue page: how many deliveries stand in each state per channel, and the dead
//! letters with their last error and a button to queue each again (through the API's handlers).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use maud::html;
use openclm_core::auth::Action;
use openclm_core::delivery::DeliveryStatus;
use openclm_store::prelude::*;
use serde::Deserialize;
use serde_json::Value;

use super::layout::{count, csrf, tile, when_text};
use super::{Nav, Notice, Viewer, WebError, checked_form, done, json_of, page};
use crate::AppState;
use crate::delivery::ListQuery;

pub(crate) async fn show<S: Store>(
    State(state): State<AppState<S>>,
    viewer: Viewer,
    notice: Query<Notice>,
) -> Result<Response, WebError> {
    let summary =
        json_of(crate::delivery::summary(State(state.clone()), viewer.caller.clone()).await)
            .await?;
    let dead = json_of(
        crate::delivery::list(
            State(state),
            viewer.caller.clone(),
            Ok(Query(ListQuery {
                status: Some("dead".into()),
                ..Default::default()
            })),
        )
        .await,
    )
    .await?;
    let counts = summary["counts"].as_array().cloned().unwrap_or_default();
    let total = |status: DeliveryStatus| -> u64 {
        counts
            .iter()
            .filter(|c| c["status"] == status.as_str())
            .filter_map(|c| c["count"].as_u64())
            .sum()
    };
    let mut channels: Vec<&str> = counts
        .iter()
        .filter_map(|c| c["channel"].as_str())
        .collect();
    channels.sort_unstable();
    channels.dedup();
    let cell = |channel: &str, status: DeliveryStatus| -> u64 {
        counts
            .iter()
            .find(|c| c["channel"] == channel && c["status"] == status.as_str())
            .and_then(|c| c["count"].as_u64())
            .unwrap_or_default()
    };
    let letters: Vec<Value> = dead["deliveries"].as_array().cloned().unwrap_or_default();
    let may_retry = viewer.may(Action::RetryDeliveries);
    let body = html! {
        div class="tiles" {
            @for status in DeliveryStatus::ALL {
                (tile(status.as_str(), &count(total(status)), &format!("deliveries_{}", status.as_str())))
            }
        }
        h2 { "By channel" }
        @if channels.is_empty() { p class="muted" { "Nothing was queued yet." } }
        @else {
            div class="scroll" {
                table data-testid="delivery-counts" {
                    thead { tr {
                        th scope="col" { "Channel" }
                        @for status in DeliveryStatus::ALL { th scope="col" class="num" { (status.as_str()) } }
                    } }
                    tbody {
                        @for channel in &channels {
                            tr {
                                td { (channel.replace('_', " ")) }
                                @for status in DeliveryStatus::ALL {
                                    td class="num" { (count(cell(channel, status))) }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Dead letters" }
        @if letters.is_empty() { p class="muted" { "No dead letter." } }
        @else {
            div class="scroll" {
                table data-testid="dead-letters" {
                    thead { tr {
                        th scope="col" { "Delivery" } th scope="col" { "Channel" } th scope="col" { "Content" }
                        th scope="col" class="num" { "Attempts" } th scope="col" { "Last error" }
                        th scope="col" { "Last attempt" }
                        @if may_retry { th scope="col" { span class="visually-hidden" { "Action" } } }
                    } }
                    tbody {
                        @for d in &letters {
                            @let id = d["delivery_id"].as_str().unwrap_or_default();
                            tr data-delivery=(id) {
                                td { (id) }
                                td { (d["channel"].as_str().unwrap_or_default().replace('_', " ")) }
                                td { (d["content_id"].as_str().unwrap_or_default()) }
                                td class="num" { (d["attempts"].as_u64().unwrap_or_default()) }
                                td { (d["last_error"].as_str().unwrap_or("–")) }
                                td { (when_text(d["updated_at"].as_str())) }
                                @if may_retry {
                                    td {
                                        form method="post" action={"/deliveries/" (id) "/retry"} class="inline" {
                                            (csrf(&viewer))
                                            button type="submit" { "Retry" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if dead["next_cursor"].is_string() {
                p class="muted" { "The first " (letters.len()) " dead letters are shown; GET /v1/deliveries?status=dead lists them all." }
            }
        }
    };
    Ok(page(
        &viewer,
        Nav::Deliveries,
        "Delivery queue",
        notice.shown(),
        body,
    ))
}

#[derive(Debug, Deserialize)]
pub(crate) struct RetryForm {}

pub(crate) async fn retry<S: Store>(
    State(state): State<AppState<S>>,
    viewer: Viewer,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, WebError> {
    let _: RetryForm = checked_form(&viewer, &headers, &body)?;
    crate::delivery::retry(State(state), viewer.caller.clone(), Path(id)).await?;
    Ok(done("/deliveries", "Dead letter queued again."))
}
