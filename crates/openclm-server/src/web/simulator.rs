//! The simulator: the policy comparison of the last `openclm simulate` (or demo) run kept in the
//! database — weekly engagement per policy as a chart, and the summary table.

use axum::extract::State;
use axum::response::Response;
use maud::html;
use openclm_core::auth::Action;
use openclm_store::prelude::*;
use serde_json::Value;

use super::charts::{self, Axis};
use super::layout::{figure, money, number, pct, when};
use super::{Nav, Viewer, WebError, page};
use crate::AppState;

pub(crate) async fn show<S: Store>(
    State(state): State<AppState<S>>,
    viewer: Viewer,
) -> Result<Response, WebError> {
    viewer.caller.require(Action::ReadReports)?;
    let Some(run) = state.store.last_simulation().await? else {
        let body = html! {
            p class="muted" { "No simulation has been run against this database yet. Run "
                code { "openclm simulate" } " (or " code { "openclm demo" } ") and reload." }
        };
        return Ok(page(&viewer, Nav::Simulator, "Simulator", None, body));
    };
    let b = &run.body;
    let policies = b["policies"].as_array().cloned().unwrap_or_default();
    let weeks = policies
        .iter()
        .map(|p| p["weekly_engagement"].as_array().map_or(0, Vec::len))
        .max()
        .unwrap_or(0);
    let labels: Vec<String> = (1..=weeks).map(|w| w.to_string()).collect();
    let series: Vec<(&str, Vec<f64>)> = policies
        .iter()
        .map(|p| {
            (
                p["policy"].as_str().unwrap_or_default(),
                p["weekly_engagement"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|v| v.as_f64().unwrap_or(f64::NAN))
                    .collect(),
            )
        })
        .collect();
    let f = |v: &Value| v.as_f64();
    let body = html! {
        p class="muted" data-testid="sim-config" {
            "Run " (run.run_id) " at " (when(run.ran_at)) ": " (b["hcps"]) " HCPs × " (b["weeks"]) " weeks, world "
            (b["world"].as_str().unwrap_or_default()) ", seed " (b["seed"])
            @if b["economics"] == true { ", with economics" }
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
                    @for p in &policies {
                        tr data-policy=(p["policy"].as_str().unwrap_or_default()) {
                            td { (p["policy"].as_str().unwrap_or_default().replace('_', " ")) }
                            td class="num" { (pct(f(&p["reach"]))) }
                            td class="num" { (pct(f(&p["engagement_rate"]))) }
                            td class="num" { (number(f(&p["touches_per_hcp"]), 2)) }
                            td class="num" { (pct(f(&p["opt_out_rate"]))) }
                            td class="num" { (number(f(&p["incremental_rx"]), 0)) }
                            td class="num" { (money(f(&p["cost"]).unwrap_or_default())) }
                            td class="num" { (number(f(&p["romi"]), 2)) }
                        }
                    }
                }
            }
        }
    };
    Ok(page(&viewer, Nav::Simulator, "Simulator", None, body))
}
