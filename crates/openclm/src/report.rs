//! `openclm report campaign`: the numbers of `GET /v1/campaigns/{id}/report`, as a table, CSV or
//! JSON.

use std::io::Write;

use anyhow::Context;
use openclm_app::reports::{Breakdown, KpiRow, Report, kpis, report};
use openclm_core::hcp::parse_identifier;
use openclm_core::measure::stats::Lift;
use openclm_store::AnyStore;
use openclm_store::prelude::*;

use crate::cli::{ReportFormat, ReportWhat};

pub async fn run(store: AnyStore, what: ReportWhat) -> anyhow::Result<()> {
    let (id, format, by, from, until, level) = match what {
        ReportWhat::Campaign {
            id,
            format,
            by,
            from,
            until,
            level,
        } => (id, format, by, from, until, level),
        ReportWhat::Responders { id, wave, format } => {
            return responders_report(&store, &id, wave, format).await;
        }
    };
    let id = parse_identifier("id", &id)?;
    let campaign = store
        .get_campaign(id.clone())
        .await?
        .with_context(|| format!("id: no campaign {id:?}"))?;
    let by = by
        .as_deref()
        .map(|b| Breakdown::parse("by", b))
        .transpose()?;
    let mut r = report(&store, &campaign, level).await?;
    if by.is_some() || from.is_some() || until.is_some() {
        r.kpis = kpis(&store, &campaign, by, from.as_deref(), until.as_deref()).await?;
    }
    let mut out = std::io::stdout().lock();
    match format {
        ReportFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&r)?)?,
        ReportFormat::Csv => write_csv(&mut out, &r)?,
        ReportFormat::Table => write_table(&mut out, &r)?,
    }
    Ok(())
}

fn pct(x: Option<f64>) -> String {
    x.map_or("–".into(), |v| format!("{:.1}%", v * 100.0))
}

fn num(x: Option<f64>, digits: usize) -> String {
    x.map_or("–".into(), |v| format!("{v:.digits$}"))
}

fn kpi_line(out: &mut impl Write, row: &KpiRow) -> std::io::Result<()> {
    let (c, r) = (&row.counts, &row.rates);
    writeln!(
        out,
        "  {:<22} {:>8} {:>9} {:>8} {:>8} {:>7} {:>7} {:>7} {:>8} {:>8} {:>6} {:>9} {:>9}",
        row.key,
        c.touches,
        c.delivered,
        pct(r.open_rate),
        pct(r.machine_open_share),
        pct(r.click_rate),
        pct(r.engagement_rate),
        num(r.dwell_median_s, 0),
        c.unsubscribes,
        c.responses,
        num(r.nps, 0),
        num(Some(c.outcome_units), 0),
        format!("{}", r.nps_answers),
    )
}

fn lift_text(l: &Option<Lift>, as_rate: bool) -> String {
    let Some(l) = l else {
        return "–".into();
    };
    let f = |v: f64| {
        if as_rate {
            format!("{:+.1} pt", v * 100.0)
        } else {
            format!("{v:+.3}")
        }
    };
    // The relative lift carries its own evidence: a ratio's p-value is not the difference's.
    let relative = match (l.relative, l.relative_p_value, l.relative_sequential) {
        (Some(r), Some(p), Some(s)) => format!(
            "; relative {:+.0}% [{:+.0}% … {:+.0}%], p = {p:.3} (always valid {:.3} [{:+.0}% … {:+.0}%])",
            r * 100.0,
            l.relative_interval.map_or(r, |i| i.low) * 100.0,
            l.relative_interval.map_or(r, |i| i.high) * 100.0,
            s.p_value,
            s.interval.low * 100.0,
            s.interval.high * 100.0,
        ),
        _ => String::new(),
    };
    format!(
        "{} [{} … {}], p = {:.3} (always valid {:.3}){relative}",
        f(l.absolute),
        f(l.absolute_interval.low),
        f(l.absolute_interval.high),
        l.p_value,
        l.sequential.p_value
    )
}

fn write_table(out: &mut impl Write, r: &Report) -> std::io::Result<()> {
    writeln!(out, "{} ({}), product {}", r.name, r.campaign_id, r.product)?;
    writeln!(out, "\ngroups")?;
    for g in &r.kpis.groups {
        writeln!(
            out,
            "  {:<22} targeted {:>7}  reached {:>7}  responders {:>7}  touches/HCP {}",
            g.group,
            g.targeted,
            g.reached,
            g.responders,
            num(g.touches_per_hcp, 2)
        )?;
    }
    match &r.sample_ratio {
        Some(s) => writeln!(
            out,
            "  split: {:.1}% held out against {:.1}% configured, p = {:.3}{}",
            s.observed_share * 100.0,
            s.expected_share * 100.0,
            s.p_value,
            if s.mismatch {
                " — SAMPLE RATIO MISMATCH: the split is broken; do not trust the lift"
            } else {
                ""
            }
        )?,
        None => writeln!(out, "  split: no holdout")?,
    }
    writeln!(out, "\nKPIs")?;
    writeln!(
        out,
        "  {:<22} {:>8} {:>9} {:>8} {:>8} {:>7} {:>7} {:>7} {:>8} {:>8} {:>6} {:>9} {:>9}",
        "",
        "touches",
        "delivered",
        "open",
        "machine",
        "click",
        "engaged",
        "dwell s",
        "unsubs",
        "responses",
        "NPS",
        "outcome",
        "NPS n"
    )?;
    kpi_line(out, &r.kpis.total)?;
    for row in &r.kpis.rows {
        kpi_line(out, row)?;
    }
    writeln!(
        out,
        "\nlift over the holdout ({:.0}% intervals)",
        r.level * 100.0
    )?;
    for l in &r.lift {
        writeln!(
            out,
            "  {} ({} treated, {} held out)",
            l.arm, l.treated, l.holdout
        )?;
        writeln!(
            out,
            "    responder rate    {}",
            lift_text(&l.responder_rate, true)
        )?;
        writeln!(
            out,
            "    responses / HCP   {}",
            lift_text(&l.responses_per_hcp, false)
        )?;
        writeln!(
            out,
            "    outcome / HCP     {}",
            lift_text(&l.outcome_per_hcp, false)
        )?;
        if let Some(note) = &l.note {
            writeln!(out, "    note: {note}")?;
        }
    }
    match (&r.romi, &r.romi_note) {
        (Some(m), _) => writeln!(
            out,
            "\nROMI {:.2} [{:.2} … {:.2}]: {:.0} incremental outcome units worth {:.0} for a cost of {:.0}",
            m.romi,
            m.interval.low,
            m.interval.high,
            m.incremental_units,
            m.incremental_value,
            m.cost
        )?,
        (None, Some(note)) => writeln!(out, "\nROMI: {note}")?,
        (None, None) => {}
    }
    Ok(())
}

fn write_csv(out: &mut impl Write, r: &Report) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(["section", "key", "metric", "value"])?;
    let mut put = |section: &str, key: &str, metric: &str, value: String| {
        w.write_record([section, key, metric, value.as_str()])
    };
    for g in &r.kpis.groups {
        put("group", &g.group, "targeted", g.targeted.to_string())?;
        put("group", &g.group, "reached", g.reached.to_string())?;
        put("group", &g.group, "responders", g.responders.to_string())?;
        put("group", &g.group, "touches", g.touches.to_string())?;
    }
    for row in std::iter::once(&r.kpis.total).chain(&r.kpis.rows) {
        let counts = serde_json::to_value(row.counts)?;
        let rates = serde_json::to_value(row.rates)?;
        for (metric, value) in counts
            .as_object()
            .into_iter()
            .flatten()
            .chain(rates.as_object().into_iter().flatten())
        {
            if metric == "dwell_histogram" {
                continue;
            }
            let value = if value.is_null() {
                String::new()
            } else {
                value.to_string()
            };
            put("kpi", &row.key, metric, value)?;
        }
    }
    for l in &r.lift {
        for (metric, lift) in [
            ("responder_rate", &l.responder_rate),
            ("responses_per_hcp", &l.responses_per_hcp),
            ("outcome_per_hcp", &l.outcome_per_hcp),
        ] {
            let Some(lift) = lift else { continue };
            for (name, v) in [
                ("treated", Some(lift.treated)),
                ("control", Some(lift.control)),
                ("absolute", Some(lift.absolute)),
                ("absolute_low", Some(lift.absolute_interval.low)),
                ("absolute_high", Some(lift.absolute_interval.high)),
                ("relative", lift.relative),
                ("relative_low", lift.relative_interval.map(|i| i.low)),
                ("relative_high", lift.relative_interval.map(|i| i.high)),
                ("p_value", Some(lift.p_value)),
                ("sequential_p_value", Some(lift.sequential.p_value)),
                ("sequential_low", Some(lift.sequential.interval.low)),
                ("sequential_high", Some(lift.sequential.interval.high)),
                ("relative_p_value", lift.relative_p_value),
                (
                    "relative_sequential_p_value",
                    lift.relative_sequential.map(|s| s.p_value),
                ),
                (
                    "relative_sequential_low",
                    lift.relative_sequential.map(|s| s.interval.low),
                ),
                (
                    "relative_sequential_high",
                    lift.relative_sequential.map(|s| s.interval.high),
                ),
            ] {
                put(
                    "lift",
                    &l.arm,
                    &format!("{metric}.{name}"),
                    v.map_or(String::new(), |v| v.to_string()),
                )?;
            }
        }
    }
    put("romi", "all arms", "cost", r.cost.to_string())?;
    if let Some(m) = &r.romi {
        put("romi", "all arms", "romi", m.romi.to_string())?;
        put("romi", "all arms", "romi_low", m.interval.low.to_string())?;
        put("romi", "all arms", "romi_high", m.interval.high.to_string())?;
    }
    if let Some(s) = &r.sample_ratio {
        put(
            "split",
            "holdout",
            "observed_share",
            s.observed_share.to_string(),
        )?;
        put("split", "holdout", "p_value", s.p_value.to_string())?;
        put("split", "holdout", "mismatch", s.mismatch.to_string())?;
    }
    w.flush()?;
    Ok(())
}

/// `openclm evaluate`: each policy's estimates, in a table or as JSON.
#[allow(clippy::too_many_arguments)]
pub async fn evaluate(
    store: &AnyStore,
    policies: Vec<String>,
    campaign: Option<String>,
    since: Option<String>,
    until: Option<String>,
    level: f64,
    as_json: bool,
    window_ms: i64,
) -> anyhow::Result<()> {
    use openclm_app::evaluation::{Candidate, evaluate_policy, settled_until};
    use openclm_core::Timestamp;
    let campaign = campaign
        .as_deref()
        .map(|c| parse_identifier("campaign", c))
        .transpose()?;
    let since = since
        .as_deref()
        .map(|s| Timestamp::parse("since", s))
        .transpose()?;
    let until = match until.as_deref() {
        Some(u) => Timestamp::parse("until", u)?,
        None => settled_until(crate::now(), window_ms),
    };
    let mut reports = Vec::new();
    for p in &policies {
        let policy = Candidate::parse("policy", p)?;
        reports.push(evaluate_policy(store, &policy, campaign.clone(), since, until, level).await?);
    }
    let mut out = std::io::stdout().lock();
    if as_json {
        writeln!(out, "{}", serde_json::to_string_pretty(&reports)?)?;
        return Ok(());
    }
    if let Some(first) = reports.first() {
        writeln!(
            out,
            "{} logged decisions made before {} ({} left out: held back or without a usable log); \
             responses per decision, {:.0}% intervals",
            first.read,
            first.until,
            first.left_out,
            level * 100.0
        )?;
        writeln!(out, "  logged policy earned {:.4}", first.evaluation.logged)?;
    }
    writeln!(
        out,
        "  {:<18} {:>26} {:>26} {:>26} {:>9} {:>8}",
        "policy", "IPS", "self-normalized IPS", "doubly robust", "eff. n", "max w"
    )?;
    for (name, r) in policies.iter().zip(&reports) {
        let e = &r.evaluation;
        let show = |x: &openclm_core::measure::ope::Estimate| {
            format!(
                "{:.4} [{:.4} … {:.4}]",
                x.value, x.interval.low, x.interval.high
            )
        };
        writeln!(
            out,
            "  {:<18} {:>26} {:>26} {:>26} {:>9.0} {:>8.1}",
            name,
            show(&e.ips),
            show(&e.snips),
            show(&e.doubly_robust),
            e.effective_sample_size,
            e.max_weight
        )?;
    }
    Ok(())
}

async fn responders_report(
    store: &AnyStore,
    id: &str,
    wave: u32,
    format: ReportFormat,
) -> anyhow::Result<()> {
    let id = parse_identifier("id", id)?;
    let campaign = store
        .get_campaign(id.clone())
        .await?
        .with_context(|| format!("id: no campaign {id:?}"))?;
    let r = openclm_app::reports::responders(store, &campaign, wave, crate::now()).await?;
    let mut out = std::io::stdout().lock();
    match format {
        ReportFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&r)?)?,
        ReportFormat::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record(["reason", "hcps", "share", "next_wave"])?;
            for row in &r.reasons {
                w.write_record([
                    row.reason.as_str(),
                    &row.hcps.to_string(),
                    &row.share.to_string(),
                    row.next_wave,
                ])?;
            }
            w.flush()?;
        }
        ReportFormat::Table => {
            writeln!(
                out,
                "{} wave {} (ran {}): {} treated HCPs{}",
                r.campaign_id,
                r.wave,
                r.ran_at,
                r.treated,
                if r.adopted_by_next_wave {
                    "; the next wave adopts this plan"
                } else {
                    ""
                }
            )?;
            for row in &r.reasons {
                writeln!(
                    out,
                    "  {:<22} {:>7} {:>6.1}%  next: {}",
                    row.reason.as_str(),
                    row.hcps,
                    row.share * 100.0,
                    row.next_wave
                )?;
            }
            writeln!(out, "  responders against non-responders:")?;
            for d in &r.differences {
                writeln!(
                    out,
                    "    {:<10} {:<24} {:>5.0}% vs {:>5.0}%",
                    d.dimension,
                    d.value,
                    d.responders * 100.0,
                    d.non_responders * 100.0
                )?;
            }
        }
    }
    Ok(())
}
