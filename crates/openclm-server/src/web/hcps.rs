//! HCPs: a search (by id, or by territory, specialty and country) and the profile —
//! master data, consent per channel with its history, the timeline, learned preferences, the
//! next best actions with their reasons, and reps' feedback. A rep reaches only the HCPs of
//! their territories, exactly as through the API.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use openclm_app::hcps::{self, HcpListQuery, TimelineQuery};
use openclm_app::page::PageQuery;
use openclm_core::auth::Action;
use openclm_core::consent::ConsentState;
use openclm_store::SuggestionFilter;
use openclm_store::prelude::*;
use serde::Deserialize;

use super::charts::{self, Axis};
use super::layout::{count, figure, pct, when};
use super::{Nav, Viewer, WebError, page, percent_encode};
use crate::AppState;

/// HCPs listed per page, and the latest events shown on a profile.
const PAGE: usize = 50;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct SearchQuery {
    id: Option<String>,
    territory: Option<String>,
    specialty: Option<String>,
    country: Option<String>,
    cursor: Option<String>,
}

pub(crate) async fn search<S: Store>(
    State(state): State<AppState<S>>,
    viewer: Viewer,
    Query(q): Query<SearchQuery>,
) -> Result<Response, WebError> {
    viewer.caller.require(Action::ReadHcps)?;
    if let Some(id) = q.id.as_deref().map(str::trim).filter(|i| !i.is_empty()) {
        return Ok(Redirect::to(&format!("/hcps/{}", percent_encode(id))).into_response());
    }
    let list = hcps::list_hcps(
        &state.store,
        &viewer.caller,
        HcpListQuery {
            territory: q.territory.clone(),
            specialty: q.specialty.clone(),
            country: q.country.clone(),
            page: PageQuery::at(q.cursor.clone(), PAGE),
        },
    )
    .await?;
    let field = |v: &Option<String>| v.clone().unwrap_or_default();
    let next = list.next_cursor.as_deref().map(|cursor| {
        format!(
            "/hcps?territory={}&specialty={}&country={}&cursor={}",
            percent_encode(&field(&q.territory)),
            percent_encode(&field(&q.specialty)),
            percent_encode(&field(&q.country)),
            percent_encode(cursor)
        )
    });
    let body = html! {
        form method="get" action="/hcps" class="inline" role="search" {
            label { "HCP id" input name="id" type="search"; }
            button type="submit" { "Open" }
        }
        form method="get" action="/hcps" class="inline" {
            label { "Territory" input name="territory" value=(field(&q.territory)); }
            label { "Specialty" input name="specialty" value=(field(&q.specialty)); }
            label { "Country" input name="country" value=(field(&q.country)) size="4"; }
            button type="submit" class="secondary" { "Filter" }
        }
        div class="scroll" {
            table data-testid="hcp-table" {
                thead { tr {
                    th scope="col" { "HCP" } th scope="col" { "Name" } th scope="col" { "Specialty" }
                    th scope="col" { "Country" } th scope="col" { "Territory" } th scope="col" { "Segments" }
                } }
                tbody {
                    @for h in &list.items {
                        tr {
                            td { a href={"/hcps/" (percent_encode(h.id.as_str()))} { (h.id) } }
                            td { (h.name) }
                            td { (h.specialty) }
                            td { (h.country) }
                            td { (h.territory.as_deref().unwrap_or("–")) }
                            td { (h.segments.join(", ")) }
                        }
                    }
                }
            }
        }
        @if let Some(next) = next { p { a href=(next) { "Next page" } } }
    };
    Ok(page(&viewer, Nav::Hcps, "HCPs", None, body))
}

pub(crate) async fn show<S: Store>(
    State(state): State<AppState<S>>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let caller = &viewer.caller;
    let now = (state.clock)();
    // The same answers as the API's routes for this HCP (outside a rep's territories: not found).
    let hcp = hcps::get_hcp(&state.store, caller, &id).await?;
    let consent = hcps::consent(&state.store, caller, &id).await?;
    let timeline = hcps::timeline(
        &state.store,
        caller,
        &id,
        TimelineQuery {
            page: PageQuery::first(PAGE),
            ..TimelineQuery::default()
        },
    )
    .await?;
    let summary = hcps::hcp_state(&state.store, caller, &id, now).await?.state;
    let hcp_id = hcp.id.to_string();
    let actions = if viewer.may(Action::Decide) {
        Some(
            openclm_app::decide::preview(&state.store, &state.config.engine, hcp.clone(), 5, now)
                .await?,
        )
    } else {
        None
    };
    let feedback = if viewer.may(Action::ReadSuggestions) {
        let mut latest = state
            .store
            .list_suggestions(SuggestionFilter {
                hcp_id: Some(hcp_id.clone()),
                ..SuggestionFilter::default()
            })
            .await?;
        latest.truncate(20);
        Some(latest)
    } else {
        None
    };
    // Channels in the order of their names, as the API's answer lists them.
    let mut channels: Vec<(&str, f64)> = summary
        .channels
        .iter()
        .map(|(c, s)| (c.as_str(), s.engagement))
        .collect();
    channels.sort_by(|a, b| a.0.cmp(b.0));
    let channels: Vec<(String, f64)> = channels
        .into_iter()
        .map(|(c, e)| (c.replace('_', " "), e))
        .collect();
    let topics: Vec<(String, f64)> = summary
        .topics
        .iter()
        .map(|(t, v)| (t.clone(), *v))
        .collect();
    let h = &hcp;
    let body = html! {
        div class="grid2" {
            section class="card" aria-labelledby="master" {
                h2 id="master" { "Master data" }
                dl class="facts" data-testid="master" {
                    dt { "Name" } dd { (h.name) }
                    dt { "Specialty" } dd { (h.specialty) }
                    dt { "Country" } dd { (h.country) }
                    dt { "Territory" } dd { (h.territory.as_deref().unwrap_or("–")) }
                    dt { "Segments" } dd { (h.segments.join(", ")) }
                    dt { "Email" } dd { (h.email.as_deref().unwrap_or("–")) }
                    dt { "External ids" } dd {
                        @for e in &h.external_ids {
                            (e.system) ": " (e.id) " "
                        }
                    }
                    @if !h.restricted_products.is_empty() {
                        dt { "Restricted products" } dd { (h.restricted_products.join(", ")) }
                    }
                }
            }
            section class="card" aria-labelledby="consent" {
                h2 id="consent" { "Consent per channel" }
                table data-testid="consent" {
                    thead { tr { th scope="col" { "Channel" } th scope="col" { "Purpose" } th scope="col" { "State" } th scope="col" { "Since" } } }
                    tbody {
                        @for c in &consent.current {
                            tr {
                                td { (c.channel.as_str().replace('_', " ")) }
                                td { (c.purpose) }
                                td class=(if c.state == ConsentState::Granted { "good" } else { "bad" }) { (c.state.as_str()) }
                                td { (when(c.changed_at)) }
                            }
                        }
                    }
                }
                details {
                    summary { "History (" (consent.history.len()) " records)" }
                    table {
                        thead { tr { th { "When" } th { "Channel" } th { "State" } th { "Source" } th { "Evidence" } th { "Notice" } } }
                        tbody {
                            @for c in &consent.history {
                                tr {
                                    td { (when(c.changed_at)) }
                                    td { (c.channel.as_str().replace('_', " ")) }
                                    td { (c.state.as_str()) }
                                    td { (c.source) }
                                    td { (c.evidence.as_deref().unwrap_or("–")) }
                                    td { (c.notice_version.as_deref().unwrap_or("–")) }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(answer) = &actions {
            section aria-labelledby="nba" {
                h2 id="nba" { "Next best actions" }
                @if let Some(why) = &answer.nothing_allowed {
                    p class="warn" { "Nothing allowed now: " (why) }
                }
                @if let Some(held) = &answer.held {
                    p class="muted" { "The engine may hold back: " (held) }
                }
                ol class="cards" data-testid="nba" {
                    @for a in &answer.actions {
                        li class="card" {
                            strong { (a.content_id) } " by " (a.channel.as_str().replace('_', " "))
                            " · topic " (a.topic)
                            " · expected response " (pct(Some(a.score)))
                            p class="why" { (a.explanation) }
                        }
                    }
                }
                @let blocked = answer.blocked_count();
                @if blocked > 0 {
                    details {
                        summary { (blocked) " actions blocked by a hard rule" }
                        ul {
                            @for b in answer.blocked.iter().take(40) {
                                li { (b.content_id) " by " (b.channel.as_str()) ": " (b.reason) }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="learned" {
            h2 id="learned" { "Learned preferences" }
            p class="muted" {
                (count(summary.events)) " events · "
                (summary.touches_30d) " touches in 30 days"
                @if let Some(hour) = summary.preferred_hour_utc { " · prefers around " (hour) ":00 UTC" }
                @if let Some(day) = summary.preferred_weekday {
                    " on " (["Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays"].get(day as usize).copied().unwrap_or_default())
                }
            }
            div class="grid2" {
                @if !channels.is_empty() {
                    (figure("Engagement by channel (recency-weighted)", &charts::bars(&channels, Axis::Number)))
                }
                @if !topics.is_empty() {
                    (figure("Interest by topic (recency-weighted)", &charts::bars(&topics, Axis::Number)))
                }
            }
        }
        @if let Some(feedback) = &feedback {
            section aria-labelledby="feedback" {
                h2 id="feedback" { "Rep feedback" }
                @if feedback.is_empty() { p class="muted" { "No rep suggestion for this HCP yet." } }
                @else {
                    table data-testid="feedback" {
                        thead { tr { th { "Week" } th { "Rep" } th { "Content" } th { "Status" } th { "Reason" } th { "Note" } } }
                        tbody {
                            @for s in feedback {
                                tr {
                                    td { (s.week) } td { (s.rep_id) } td { (s.content_id) }
                                    td { (s.status.as_str()) }
                                    td { (s.reason.map(|r| r.as_str()).unwrap_or("–")) }
                                    td { (s.note.as_deref().unwrap_or("–")) }
                                }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="timeline" {
            h2 id="timeline" { "Timeline" }
            div class="scroll" {
                table data-testid="timeline" {
                    thead { tr { th { "When" } th { "Channel" } th { "Type" } th { "Content" } th { "Source" } } }
                    tbody {
                        @for e in &timeline.items {
                            tr {
                                td { (when(e.occurred_at)) }
                                td { (e.channel.as_str().replace('_', " ")) }
                                td { (e.kind.as_str().replace('_', " ")) }
                                td { (e.event["content_id"].as_str().unwrap_or("–")) @if let Some(k) = e.event["key_message"].as_str() { " / " (k) } }
                                td { (e.source) }
                            }
                        }
                    }
                }
            }
            @if timeline.next_cursor.is_some() { p class="muted" { "Showing the 50 latest events." } }
        }
        p class="muted" { "As of " (when(now)) }
    };
    Ok(page(
        &viewer,
        Nav::Hcps,
        &format!("HCP {}", hcp.name),
        None,
        body,
    ))
}
