//! `openclm users`, `audit`, `privacy` and `pv`: the compliance commands an operator runs on the
//! database directly. Each change is audited under `cli:<operating-system user>`.

use anyhow::Context;
use openclm_app::AppError;
use openclm_app::accounts;
use openclm_core::auth::UserInput;
use openclm_core::pv::AeStatus;
use openclm_core::{HcpId, privacy};
use openclm_store::prelude::*;
use openclm_store::{AeFilter, AnyStore};
use std::io::BufRead;

use crate::cli::{AuditAction, ExportFormat, PrivacyAction, PvAction, UsersAction};
use crate::now;

/// How the audit trail names an operator at the command line.
pub fn cli_actor() -> String {
    let who = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{who}")
}

pub async fn users(store: AnyStore, action: UsersAction) -> anyhow::Result<()> {
    match action {
        UsersAction::Create {
            user_id,
            name,
            role,
            territories,
        } => {
            let mut password = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut password)
                .context("cannot read the password from standard input")?;
            let password = password.trim_end_matches(['\n', '\r']).to_owned();
            let input = UserInput {
                user_id: Some(user_id.clone()),
                display_name: Some(name),
                role: Some(role),
                territories,
                password: Some(password),
            };
            let user = match accounts::create_user_as(&store, &cli_actor(), input, now()).await {
                Err(AppError::Conflict(_)) => anyhow::bail!("user id {user_id} is taken"),
                other => other?,
            };
            println!("created {} user {}", user.role, user.user_id);
        }
        UsersAction::List => {
            println!(
                "{:<20} {:<16} {:<12} {:<26} name",
                "user id", "role", "status", "territories"
            );
            for u in store.list_users().await? {
                println!(
                    "{:<20} {:<16} {:<12} {:<26} {}",
                    u.user_id,
                    u.role,
                    if u.disabled_at.is_some() {
                        "disabled"
                    } else {
                        "active"
                    },
                    u.territories.join(","),
                    u.display_name
                );
            }
        }
        UsersAction::Disable { user_id } => {
            match accounts::disable_user_as(&store, &cli_actor(), user_id.clone(), now()).await {
                Err(AppError::NotFound(_)) => anyhow::bail!("no user {user_id}"),
                other => other?,
            }
            println!("disabled {user_id}; their sessions are ended");
        }
    }
    Ok(())
}

/// A record name as the audit trail keeps it: `hcp:ID` becomes the HCP's hashed record.
fn record_name(record: &str) -> String {
    match record.strip_prefix("hcp:") {
        Some(id) => privacy::hcp_record(id),
        None => record.to_owned(),
    }
}

pub async fn audit(store: AnyStore, action: AuditAction) -> anyhow::Result<()> {
    match action {
        AuditAction::Verify => {
            let check = openclm_app::audit::verify_chain(&store).await?;
            for p in &check.problems {
                println!("{p}");
            }
            match check.head() {
                Some((seq, hash)) => println!(
                    "{} entries checked; newest is {seq} with hash {hash} (keep it elsewhere to detect removal of the newest entries)",
                    check.entries
                ),
                None => println!("the audit trail is empty"),
            }
            anyhow::ensure!(
                check.problems.is_empty(),
                "the audit trail has {} problem(s)",
                check.problems.len()
            );
            println!("the audit trail is intact");
        }
        AuditAction::Export { record, format } => {
            let name = record_name(&record);
            // Exporting the trail is itself on the trail.
            let entries =
                openclm_app::audit::export_record(&store, &name, &cli_actor(), now()).await?;
            match format {
                ExportFormat::Json => println!("{}", serde_json::to_string_pretty(&entries)?),
                ExportFormat::Csv => {
                    let mut out = csv::Writer::from_writer(std::io::stdout().lock());
                    out.write_record([
                        "seq",
                        "at",
                        "actor",
                        "action",
                        "record",
                        "old_value",
                        "new_value",
                        "reason",
                        "hash",
                    ])?;
                    for e in &entries {
                        out.write_record([
                            e.seq.to_string(),
                            e.at.to_string(),
                            e.actor.clone(),
                            e.action.clone(),
                            e.record.clone(),
                            e.old_value.clone().unwrap_or_default(),
                            e.new_value.clone().unwrap_or_default(),
                            e.reason.clone().unwrap_or_default(),
                            e.hash.clone(),
                        ])?;
                    }
                    out.flush()?;
                }
            }
        }
    }
    Ok(())
}

pub async fn privacy(store: AnyStore, action: PrivacyAction) -> anyhow::Result<()> {
    match action {
        PrivacyAction::Export { hcp } => {
            let id = HcpId::parse("hcp", &hcp)?;
            let export = openclm_app::privacy::export_as(&store, id, &cli_actor(), now())
                .await?
                .with_context(|| format!("no HCP {hcp}"))?;
            println!("{}", serde_json::to_string_pretty(&export)?);
        }
        PrivacyAction::Erase { hcp, reason } => {
            anyhow::ensure!(!reason.trim().is_empty(), "--reason must not be empty");
            let id = HcpId::parse("hcp", &hcp)?;
            let report = openclm_app::privacy::erase_as(&store, id, &cli_actor(), &reason, now())
                .await?
                .with_context(|| format!("no HCP {hcp}"))?;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
    }
    Ok(())
}

pub async fn pv(store: AnyStore, action: PvAction) -> anyhow::Result<()> {
    match action {
        PvAction::Queue => {
            let now = now();
            let cases = store
                .ae_cases(AeFilter {
                    status: Some(AeStatus::Open),
                    ..AeFilter::default()
                })
                .await?;
            println!(
                "{:<20} {:<26} {:>12} {:<14} source",
                "case", "received", "left (h)", "criteria"
            );
            for c in cases {
                let left_h = (c.due_at.millis() - now.millis()) as f64 / 3_600_000.0;
                let criteria = c.findings.get("criteria").cloned().unwrap_or_default();
                let present = ["patient", "reporter", "product", "event"]
                    .iter()
                    .filter(|k| criteria.get(**k).and_then(|v| v.as_bool()) == Some(true))
                    .count();
                println!(
                    "{:<20} {:<26} {:>12.1} {:<14} {}",
                    c.case_id,
                    c.received_at,
                    left_h,
                    format!("{present}/4"),
                    c.source
                );
            }
        }
        PvAction::Reconciliation => {
            println!(
                "{:<20} {:>10} {:>10} {:>10} {:>12}",
                "source", "screened", "flagged", "forwarded", "acknowledged"
            );
            for s in store.screening_report().await? {
                println!(
                    "{:<20} {:>10} {:>10} {:>10} {:>12}",
                    s.source, s.screened, s.flagged, s.forwarded, s.acknowledged
                );
            }
        }
    }
    Ok(())
}
