//! The simulator: the policy comparison of the last `openclm simulate` (or demo) run kept in the
//! database (`openclm_app::simulations`) — weekly engagement per policy as a chart, and the
//! summary table.

use axum::extract::State;
use axum::response::Response;
use maud::html;
use openclm_store::prelude::*;

use super::charts::{self, Axis};
use super::layout::{figure, money, number, pct, when};
use super::{Nav, Viewer, WebError, page};
use crate::AppState;

pub(crate) async fn show<S: Store>(
    State(state): State<AppState<S>>,
    viewer: Viewer,
) -> Result<Response, WebError> {
    let Some(run) = openclm_app::simulations::last(&state.store, &viewer.caller).await? else {
        let body = html! {
            p class="muted" { "No simulation has been run against this database yet. Run "
                code { "openclm simulate" } " (or " code { "openclm demo" } ") and reload." }
        };
        return Ok(page(&viewer, Nav::Simulator, "Simulator", None, body));
    };
    let b = &run.summary;
    let policies = &b.policies;
    let weeks = policies
        .iter()
        .map(|p| p.weekly_engagement.len())
        .max()
        .unwrap_or(0);
    let labels: Vec<String> = (1..=weeks).map(|w| w.to_string()).collect();
    let series: Vec<(&str, Vec<f64>)> = policies
        .iter()
        .map(|p| {
            (
                p.policy.as_str(),
                p.weekly_engagement
                    .iter()
                    .map(|v| v.unwrap_or(f64::NAN))
                    .collect(),
            )
        })
        .collect();
    let shown = |n: Option<u64>| n.map_or("–".to_owned(), |n| n.to_string());
    let body = html! {
        p class="muted" data-testid="sim-config" {
            "Run " (run.run_id) " at " (when(run.ran_at)) ": " (shown(b.hcps)) " HCPs × " (shown(b.weeks)) " weeks, world "
            (b.world.as_deref().unwrap_or_default()) ", seed " (shown(b.seed))
            @if b.economics { ", with economics" }
        }
        (figure("Weekly engagement rate (responses per touch) by policy", &charts::lines(&labels, &series, Axis::Percent)))
        div class="scroll" {
            table data-testid="policies" {
                thead { tr {
                    th scope="col" { "Policy" } th scope="col" class="num" { "Reach" } th scope="col" class="num" { "Engagement" }
                    th scope="col" class="num" { "Touches per HCP" } th scope="col" class="num" { "Opt-outs" }
                    th scope="col" class="num" { "Incremental Rx" } th scope="col" class="num" { "Cost" } th scope="col" class="num" { "ROMI" }
                } }
                tbody {
                    @for p in policies {
                        tr data-policy=(p.policy) {
                            td { (p.policy.replace('_', " ")) }
                            td class="num" { (pct(p.reach)) }
                            td class="num" { (pct(p.engagement_rate)) }
                            td class="num" { (number(p.touches_per_hcp, 2)) }
                            td class="num" { (pct(p.opt_out_rate)) }
                            td class="num" { (number(p.incremental_rx, 0)) }
                            td class="num" { (money(p.cost.unwrap_or_default())) }
                            td class="num" { (number(p.romi, 2)) }
                        }
                    }
                }
            }
        }
    };
    Ok(page(&viewer, Nav::Simulator, "Simulator", None, body))
}
