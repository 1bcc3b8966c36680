//! The delivery queue page: how many deliveries stand in each state per channel, and the dead
//! letters with their last error and a button to queue each again (through the same use cases as the API, `openclm_app::deliveries`).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use maud::html;
use openclm_app::deliveries;
use openclm_core::auth::Action;
use openclm_core::delivery::DeliveryStatus;
use openclm_store::PageRequest;
use openclm_store::prelude::*;
use serde::Deserialize;

use super::layout::{count, csrf, tile, when_text};
use super::{Nav, Notice, Viewer, WebError, checked_form, done, page};
use crate::AppState;

pub(crate) async fn show<S: Store>(
    State(state): State<AppState<S>>,
    viewer: Viewer,
    notice: Query<Notice>,
) -> Result<Response, WebError> {
    let counts = deliveries::summary(&state.store, &viewer.caller).await?;
    let dead = deliveries::list(
        &state.store,
        &viewer.caller,
        Some("dead"),
        None,
        PageRequest {
            cursor: None,
            limit: 100,
        },
    )
    .await?;
    let total = |status: DeliveryStatus| -> u64 {
        counts
            .iter()
            .filter(|c| c.status == status)
            .map(|c| c.count)
            .sum()
    };
    let mut channels: Vec<&str> = counts.iter().map(|c| c.channel.as_str()).collect();
    channels.sort_unstable();
    channels.dedup();
    let cell = |channel: &str, status: DeliveryStatus| -> u64 {
        counts
            .iter()
            .find(|c| c.channel.as_str() == channel && c.status == status)
            .map_or(0, |c| c.count)
    };
    let letters = &dead.items;
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
                        @for d in letters {
                            @let id = d.delivery_id.as_str();
                            tr data-delivery=(id) {
                                td { (id) }
                                td { (d.channel.as_str().replace('_', " ")) }
                                td { (d.content_id) }
                                td class="num" { (d.attempts) }
                                td { (d.last_error.as_deref().unwrap_or("–")) }
                                td { (when_text(Some(&d.updated_at.to_string()))) }
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
            @if dead.next_cursor.is_some() {
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
    deliveries::retry(&state.store, &viewer.caller, id, (state.clock)()).await?;
    Ok(done("/deliveries", "Dead letter queued again."))
}
