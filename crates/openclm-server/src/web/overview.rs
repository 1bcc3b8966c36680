//! The overview: brand-wide KPIs of the last weeks with their trends (reach, engagement rate,
//! opens by people and by machines, touches per HCP, ROMI), kept live by polling
//! `/overview/live` every two seconds — no reload; and, when there are any, the stored events the
//! folds set aside instead of counting.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use openclm_core::auth::Action;
use openclm_store::Fold;
use openclm_store::prelude::*;
use serde_json::{Value, json};

use super::charts::{self, Axis};
use super::layout::{count, figure, money, number, pct, when};
use super::{Nav, Viewer, WebError};
use crate::AppState;
use openclm_app::overview::{DEFAULT_WEEKS, Overview, WeekFigures, overview};

/// How many of the events the folds set aside the page lists (the newest).
const SET_ASIDE_SHOWN: usize = 20;

/// The figures the page shows in its tiles, formatted, by their `data-kpi` name.
fn tiles(o: &Overview) -> Vec<(&'static str, &'static str, String)> {
    let t = &o.total;
    vec![
        ("reach", "HCPs reached", count(t.reached)),
        ("delivered", "Deliveries", count(t.counts.delivered)),
        (
            "engagement_rate",
            "Engagement rate (HCPs reached who engaged)",
            pct(t.engagement_rate),
        ),
        (
            "opened_human",
            "Opens by people",
            count(t.counts.opened_human),
        ),
        (
            "opened_machine",
            "Opens by machines",
            count(t.counts.opened_machine),
        ),
        (
            "touches_per_hcp",
            "Deliveries per HCP reached",
            number(t.touches_per_hcp, 2),
        ),
        ("romi", "ROMI (campaigns pooled)", number(o.pooled_romi, 2)),
    ]
}

async fn read<S: Store>(state: &AppState<S>, viewer: &Viewer) -> Result<Overview, WebError> {
    Ok(
        openclm_app::overview::read(&state.store, &viewer.caller, DEFAULT_WEEKS, (state.clock)())
            .await?,
    )
}

pub(crate) async fn show<S: Store>(
    State(state): State<AppState<S>>,
    viewer: Viewer,
) -> Result<Response, WebError> {
    // Those who read no reports start where their work is.
    if !viewer.may(Action::ReadReports) {
        return Ok(match Nav::home(&viewer) {
            Some(home) if home != Nav::Overview => Redirect::to(home.href()).into_response(),
            _ => {
                viewer.caller.require(Action::ReadReports)?;
                Redirect::to("/login").into_response()
            }
        });
    }
    let o = read(&state, &viewer).await?;
    let set_aside = state.store.quarantined_events(SET_ASIDE_SHOWN).await?;
    let labels: Vec<String> = o
        .weeks
        .iter()
        .map(|w| w.week_start.get(5..).unwrap_or(&w.week_start).to_owned())
        .collect();
    let series = |f: &dyn Fn(&WeekFigures) -> Option<f64>| -> Vec<f64> {
        o.weeks.iter().map(|w| f(w).unwrap_or(f64::NAN)).collect()
    };
    let reach = series(&|w| Some(w.figures.reached as f64));
    let engagement = series(&|w| w.figures.engagement_rate);
    let human = series(&|w| Some(w.figures.counts.opened_human as f64));
    let machine = series(&|w| Some(w.figures.counts.opened_machine as f64));
    let per_hcp = series(&|w| w.figures.touches_per_hcp);
    let romi: Vec<(String, f64, f64, f64)> = o
        .campaigns
        .iter()
        .filter_map(|c| {
            c.romi
                .as_ref()
                .map(|r| (c.name.clone(), r.romi, r.interval.low, r.interval.high))
        })
        .collect();
    let body = html! {
        section data-live="/overview/live" data-every="2000" aria-labelledby="kpis" {
            h2 id="kpis" class="muted" {
                "Weeks " (o.from) " to " (o.until) " · live, updated " span data-live-at { (when(o.as_of)) }
            }
            div class="tiles" {
                @for (id, label, value) in tiles(&o) { (super::layout::tile(label, &value, id)) }
            }
        }
        h2 { "Trends, week by week" }
        div class="grid2" {
            (figure("HCPs reached per week", &charts::lines(&labels, &[("reached", reach)], Axis::Number)))
            (figure("Engagement rate per week: share of the HCPs reached who engaged", &charts::lines(&labels, &[("engagement", engagement)], Axis::Percent)))
            (figure("Email opens per week: people and machines (privacy proxies)", &charts::lines(&labels, &[("people", human), ("machines", machine)], Axis::Number)))
            (figure("Deliveries per HCP reached, per week", &charts::lines(&labels, &[("per HCP", per_hcp)], Axis::Number)))
            @if !romi.is_empty() {
                (figure("ROMI per campaign with its 95% interval", &charts::intervals(&romi, Axis::Number)))
            }
        }
        h2 { "By channel" }
        div class="scroll" {
            table data-testid="channels" {
                thead { tr {
                    th scope="col" { "Channel" } th scope="col" class="num" { "Touches" } th scope="col" class="num" { "Delivered" }
                    th scope="col" class="num" { "Opens (people)" } th scope="col" class="num" { "Opens (machines)" }
                    th scope="col" class="num" { "Clicks" } th scope="col" class="num" { "Engaged reactions" } th scope="col" class="num" { "Engaged per delivery" }
                } }
                tbody {
                    @for c in &o.channels {
                        tr {
                            td { (c.channel.as_str().replace('_', " ")) }
                            td class="num" { (count(c.counts.touches)) }
                            td class="num" { (count(c.counts.delivered)) }
                            td class="num" { (count(c.counts.opened_human)) }
                            td class="num" { (count(c.counts.opened_machine)) }
                            td class="num" { (count(c.counts.clicked)) }
                            td class="num" { (count(c.counts.engaged)) }
                            td class="num" { (number(c.rates.engagement_rate, 2)) }
                        }
                    }
                }
            }
        }
        h2 { "Campaigns" }
        @if o.campaigns.is_empty() { p class="muted" { "No campaign yet." } }
        @else {
            div class="scroll" {
                table data-testid="campaign-romi" {
                    thead { tr { th { "Campaign" } th class="num" { "Cost" } th class="num" { "ROMI" } th class="num" { "95% interval" } } }
                    tbody {
                        @for c in &o.campaigns {
                            tr {
                                td { a href={"/campaigns/" (super::percent_encode(&c.campaign_id))} { (c.name) } }
                                td class="num" { (money(c.cost)) }
                                td class="num" { (c.romi.as_ref().map_or("–".into(), |r| format!("{:.2}", r.romi))) }
                                td class="num" { (c.romi.as_ref().map_or("–".into(), |r| format!("{:.2} to {:.2}", r.interval.low, r.interval.high))) }
                            }
                        }
                    }
                }
            }
        }
        @if !set_aside.is_empty() {
            h2 { "Events set aside" }
            p class="muted" {
                "Stored events the KPIs and the activity figures leave out: each could not be counted, "
                "so its fold went on without it. The newest " (set_aside.len()) " are shown; "
                code { "openclm quarantine" } " lists more."
            }
            div class="scroll" {
                table data-testid="set-aside" {
                    thead { tr {
                        th scope="col" { "Set aside" } th scope="col" { "Figures" } th scope="col" class="num" { "Seq" }
                        th scope="col" { "Event" } th scope="col" { "Why" }
                    } }
                    tbody {
                        @for q in &set_aside {
                            tr {
                                td { (when(q.quarantined_at)) }
                                td { (match q.fold { Fold::CampaignKpis => "campaign KPIs", Fold::Activity => "activity" }) }
                                td class="num" { (q.seq) }
                                td { (q.event_id.as_deref().unwrap_or("–")) }
                                td { (q.reason) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(super::page(&viewer, Nav::Overview, "Overview", None, body))
}

/// The tiles' figures, formatted as the page shows them, for the page's script. Campaign ROMI
/// is left out (a report per campaign on every poll would cost more than it tells: it moves
/// with campaign outcomes, not with each event).
pub(crate) async fn live<S: Store>(
    State(state): State<AppState<S>>,
    viewer: Viewer,
) -> Result<Response, WebError> {
    viewer.caller.require(Action::ReadReports)?;
    let o = overview(&state.store, DEFAULT_WEEKS, (state.clock)(), false).await?;
    let kpis: serde_json::Map<String, Value> = tiles(&o)
        .into_iter()
        .filter(|(id, ..)| *id != "romi")
        .map(|(id, _, value)| (id.to_owned(), Value::String(value)))
        .collect();
    Ok((
        super::secure_headers(),
        Json(json!({"at": when(o.as_of), "kpis": kpis})),
    )
        .into_response())
}
