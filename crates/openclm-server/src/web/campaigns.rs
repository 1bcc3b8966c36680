//! Campaigns: the list, and a campaign's page — waves, arms, treatment against the holdout with
//! lift and its interval, ROMI, the daily trend, responders and non-responders with their
//! reasons, and the next wave's plan. The numbers are the API's report, computed by the same
//! functions.

use axum::extract::{Path, State};
use axum::response::Response;
use maud::{Markup, html};
use openclm_app::campaigns::view;
use openclm_app::reports::{self, Breakdown};
use openclm_core::Timestamp;
use openclm_core::measure::stats::Lift;
use openclm_store::prelude::*;

use super::charts::{self, Axis};
use super::layout::{count, figure, money, number, pct, when_text};
use super::{Nav, Viewer, WebError, page, percent_encode};
use crate::AppState;

fn when(at: Option<Timestamp>) -> String {
    when_text(at.map(|t| t.to_string()).as_deref())
}

pub(crate) async fn list<S: Store>(
    State(state): State<AppState<S>>,
    viewer: Viewer,
) -> Result<Response, WebError> {
    let all = openclm_app::campaigns::list(&state.store, &viewer.caller).await?;
    let mut rows = Vec::new();
    for c in &all {
        rows.push(view(&state.store, &viewer.caller, &c.id).await?);
    }
    let body = html! {
        @if rows.is_empty() { p class="muted" { "No campaign yet: create one with POST /v1/campaigns or openclm campaign create." } }
        div class="scroll" {
            table data-testid="campaigns" {
                thead { tr {
                    th scope="col" { "Campaign" } th scope="col" { "Product" } th scope="col" class="num" { "Treated" }
                    th scope="col" class="num" { "Holdout" } th scope="col" class="num" { "Waves run" }
                    th scope="col" { "Next wave" }
                } }
                tbody {
                    @for d in &rows {
                        @let c = &d.campaign;
                        @let ran = d.waves.iter().filter(|w| w.ran_at.is_some()).count();
                        @let next = d.waves.iter().find(|w| w.ran_at.is_none());
                        tr {
                            td { a href={"/campaigns/" (percent_encode(&c.id))} { (c.name) } " (" (c.id) ")" }
                            td { (c.product) }
                            td class="num" { (count(d.groups.treated)) }
                            td class="num" { (count(d.groups.holdout)) }
                            td class="num" { (ran) " of " (d.waves.len()) }
                            td { (next.map_or("–".to_owned(), |w| format!("{} at {}", w.name, when(Some(w.at))))) }
                        }
                    }
                }
            }
        }
    };
    Ok(page(&viewer, Nav::Campaigns, "Campaigns", None, body))
}

fn lift_cells(lift: Option<&Lift>) -> Markup {
    match lift {
        None => {
            html! { td class="num" { "–" } td class="num" { "–" } td class="num" { "–" } td class="num" { "–" } td class="num" { "–" } }
        }
        Some(l) => html! {
            td class="num" { (pct(Some(l.treated))) " vs " (pct(Some(l.control))) }
            td class="num" data-testid="lift" { (format!("{:+.1} pts", l.absolute * 100.0)) }
            td class="num" { (format!("[{:+.1}, {:+.1}]", l.absolute_interval.low * 100.0, l.absolute_interval.high * 100.0)) }
            td class="num" { (number(Some(l.p_value), 3)) " (always-valid " (number(Some(l.sequential.p_value), 3)) ")" }
            // The relative lift is a ratio with its own evidence: its own p-value and
            // always-valid interval, not the absolute lift's.
            td class="num" data-testid="relative-lift" {
                @match (l.relative, l.relative_interval, l.relative_p_value, l.relative_sequential) {
                    (Some(r), Some(i), Some(p), Some(s)) => {
                        (format!("{:+.0}% [{:+.0}%, {:+.0}%]", r * 100.0, i.low * 100.0, i.high * 100.0))
                        br;
                        span class="muted" {
                            "p " (number(Some(p), 3)) "; always-valid " (number(Some(s.p_value), 3))
                            (format!(" [{:+.0}%, {:+.0}%]", s.interval.low * 100.0, s.interval.high * 100.0))
                        }
                    }
                    _ => { "–" }
                }
            }
        },
    }
}

pub(crate) async fn show<S: Store>(
    State(state): State<AppState<S>>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let caller = &viewer.caller;
    let described = view(&state.store, caller, &id).await?;
    // Checked once; every figure below reads this campaign.
    let campaign = reports::open(&state.store, caller, &id).await?;
    let report = reports::report(&state.store, &campaign, 0.95).await?;
    let daily = reports::kpis(&state.store, &campaign, Some(Breakdown::Day), None, None).await?;
    let waves = &described.waves;
    let mut responders_of = Vec::new();
    for w in waves.iter().filter(|w| w.ran_at.is_some()) {
        let now = (state.clock)();
        responders_of
            .push(reports::responders(&state.store, &campaign, w.number as u32, now).await?);
    }
    let responders = responders_of;
    let c = &described.campaign;
    let level = report.level;
    let lift_points: Vec<(String, f64, f64, f64)> = report
        .lift
        .iter()
        .filter_map(|a| {
            a.responder_rate.as_ref().map(|l| {
                (
                    a.arm.clone(),
                    l.absolute,
                    l.absolute_interval.low,
                    l.absolute_interval.high,
                )
            })
        })
        .collect();
    let days: Vec<String> = daily.rows.iter().map(|r| r.key.clone()).collect();
    let day_labels: Vec<String> = days
        .iter()
        .map(|d| d.get(5..).unwrap_or(d).to_owned())
        .collect();
    let engagement: Vec<f64> = daily
        .rows
        .iter()
        .map(|r| r.rates.engagement_rate.unwrap_or(f64::NAN))
        .collect();
    let touches: Vec<f64> = daily.rows.iter().map(|r| r.counts.touches as f64).collect();
    let total = &report.kpis.total;
    let body = html! {
        p class="muted" {
            (c.product) " · objective: " (c.objective.response.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", "))
            " → " (c.objective.outcome.as_str())
            @if c.adaptive { " · adaptive: each wave adopts the last one's plan per HCP" }
        }
        div class="tiles" {
            (super::layout::tile("Treated HCPs", &count(described.groups.treated), "treated"))
            (super::layout::tile("Holdout HCPs", &count(described.groups.holdout), "holdout"))
            (super::layout::tile("Touches", &count(total.counts.touches), "touches"))
            (super::layout::tile("Open rate (people)", &pct(total.rates.open_rate), "open_rate"))
            (super::layout::tile("Engagement rate", &pct(total.rates.engagement_rate), "engagement_rate"))
            (super::layout::tile("Cost", &money(report.cost), "cost"))
            (super::layout::tile("ROMI", &report.romi.as_ref().map_or("–".into(), |r| format!("{:.2}", r.romi)), "romi"))
        }
        @if let Some(sr) = &report.sample_ratio {
            @if sr.mismatch {
                p class="error" role="alert" { "The holdout split is off (sample-ratio p = " (number(Some(sr.p_value), 5)) "): the lift cannot be trusted." }
            }
        }
        h2 { "Treatment against the holdout" }
        div class="grid2" {
            @if !lift_points.is_empty() {
                (figure(&format!("Lift in the responder rate, percentage points, with its {:.0}% interval", level * 100.0), &charts::intervals(&lift_points, Axis::Percent)))
            }
            div class="scroll" {
                table data-testid="lift" {
                    thead { tr {
                        th scope="col" { "Arm" } th scope="col" class="num" { "Treated" } th scope="col" class="num" { "Holdout" }
                        th scope="col" class="num" { "Responder rate" } th scope="col" class="num" { "Lift" }
                        th scope="col" class="num" { (format!("{:.0}% interval", level * 100.0)) } th scope="col" class="num" { "p" }
                        th scope="col" class="num" { "Relative lift, interval, p" }
                    } }
                    tbody {
                        @for a in &report.lift {
                            tr {
                                td { (a.arm) @if let Some(n) = &a.note { br; span class="muted" { (n) } } }
                                td class="num" { (count(a.treated)) }
                                td class="num" { (count(a.holdout)) }
                                (lift_cells(a.responder_rate.as_ref()))
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="romi" class="card" {
            h2 id="romi" { "Return on marketing investment" }
            @match &report.romi {
                Some(r) => {
                    p data-testid="romi" {
                        "ROMI " strong { (format!("{:.2}", r.romi)) }
                        " (" (format!("{:.0}", level * 100.0)) "% interval " (format!("{:.2} to {:.2}", r.interval.low, r.interval.high)) "): "
                        (number(Some(r.incremental_units), 1)) " incremental units worth " (money(r.incremental_value))
                        " for " (money(r.cost)) " spent."
                    }
                    (figure("ROMI with its interval", &charts::intervals(&[("ROMI".into(), r.romi, r.interval.low, r.interval.high)], Axis::Number)))
                }
                None => { p class="muted" { (report.romi_note.as_deref().unwrap_or("No ROMI yet.")) } }
            }
        }
        @if !days.is_empty() {
            h2 { "Day by day" }
            div class="grid2" {
                (figure("Touches per day", &charts::lines(&day_labels, &[("touches", touches)], Axis::Number)))
                (figure("Engagement rate per day", &charts::lines(&day_labels, &[("engagement", engagement)], Axis::Percent)))
            }
        }
        h2 { "Waves" }
        div class="scroll" {
            table data-testid="waves" {
                thead { tr { th { "Wave" } th { "Scheduled" } th { "Ran" } th class="num" { "Decisions" } } }
                tbody {
                    @for w in waves {
                        tr {
                            td { (w.number) ". " (w.name) }
                            td { (when(Some(w.at))) }
                            td { (when(w.ran_at)) }
                            td class="num" { (w.decided().map_or("–".into(), count)) }
                        }
                    }
                }
            }
        }
        @for r in &responders {
            section aria-labelledby={"resp-" (r.wave)} {
                h2 id={"resp-" (r.wave)} { "Wave " (r.wave) ": responders and non-responders" }
                p class="muted" { (count(r.treated)) " treated HCPs"
                    @if r.adopted_by_next_wave { " · the next wave adopts this plan" } }
                div class="grid2" {
                    (figure("Treated HCPs by outcome", &charts::bars(&r.reasons.iter().map(|x| (x.reason.as_str().replace('_', " "), x.hcps as f64)).collect::<Vec<_>>(), Axis::Number)))
                    table data-testid={"reasons-" (r.wave)} {
                        thead { tr { th { "Why" } th class="num" { "HCPs" } th class="num" { "Share" } th { "Next wave" } } }
                        tbody {
                            @for x in &r.reasons {
                                tr { td { (x.reason.as_str().replace('_', " ")) } td class="num" { (count(x.hcps)) }
                                     td class="num" { (pct(Some(x.share))) } td { (x.next_wave) } }
                            }
                        }
                    }
                }
                @if !r.differences.is_empty() {
                    h3 { "What responders have in common" }
                    table {
                        thead { tr { th { "Trait" } th class="num" { "Responders" } th class="num" { "Non-responders" } } }
                        tbody {
                            @for d in r.differences.iter().take(8) {
                                tr { td { (d.dimension) ": " (d.value) } td class="num" { (pct(Some(d.responders))) } td class="num" { (pct(Some(d.non_responders))) } }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page(
        &viewer,
        Nav::Campaigns,
        &format!("Campaign {}", report.name),
        None,
        body,
    ))
}
