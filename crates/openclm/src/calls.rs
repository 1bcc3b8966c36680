//! `openclm import calls`: a CRM call / key-message CSV export, streamed row by row into
//! `call_logged` and `slide_viewed` events and stored in chunks.

use anyhow::Context;
use openclm_core::crm::{CallColumns, CallRow, call_events};
use openclm_core::{Event, FieldError};
use openclm_store::{AnyStore, UnknownHcpPolicy};
use std::collections::HashMap;
use std::path::Path;

use crate::import::{Summary, ingest_chunk};

const CHUNK: usize = 10_000;

/// Reads `+HH:MM` / `-HH:MM` (or `Z`) as an offset from UTC.
pub fn utc_offset(text: &str) -> anyhow::Result<chrono::FixedOffset> {
    let bad = || anyhow::anyhow!("utc-offset: {text:?} is not an offset such as +01:00 or -05:00");
    if text.eq_ignore_ascii_case("z") || text.eq_ignore_ascii_case("utc") {
        return chrono::FixedOffset::east_opt(0).ok_or_else(bad);
    }
    let (sign, rest) = match text.as_bytes().first() {
        Some(b'+') => (1, &text[1..]),
        Some(b'-') => (-1, &text[1..]),
        _ => return Err(bad()),
    };
    let (h, m) = rest.split_once(':').ok_or_else(bad)?;
    let (h, m): (i32, i32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if !(0..=14).contains(&h) || !(0..60).contains(&m) {
        return Err(bad());
    }
    chrono::FixedOffset::east_opt(sign * (h * 3600 + m * 60)).ok_or_else(bad)
}

/// The call being read: the line it began on and its valid rows so far, with their lines.
struct OpenCall {
    call_id: String,
    began: usize,
    rows: Vec<(usize, CallRow)>,
}

pub async fn import_calls(
    store: &AnyStore,
    file: &Path,
    source: &str,
    columns: &CallColumns,
    offset: chrono::FixedOffset,
    policy: UnknownHcpPolicy,
) -> anyhow::Result<Summary> {
    let mut reader = crate::import::open_csv(csv::ReaderBuilder::new().flexible(true), file)?;
    let header = reader
        .headers()
        .with_context(|| format!("cannot read the header of {}", file.display()))?
        .clone();
    let names: Vec<&str> = header.iter().collect();
    // A mapping that does not fit the file stops the import before anything is stored.
    let layout = columns.locate(&names).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut summary = Summary::default();
    let mut chunk: Vec<(usize, Event)> = Vec::with_capacity(CHUNK + 64);
    // Calls already ended, with their first line: rows of one call must be adjacent.
    let mut ended: HashMap<String, usize> = HashMap::new();
    let mut open: Option<OpenCall> = None;
    let progress = crate::import::progress_bar(std::fs::metadata(file)?.len(), "bytes");
    let mut record = csv::StringRecord::new();
    loop {
        let more = match reader.read_record(&mut record) {
            Ok(more) => more,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                summary
                    .problems
                    .push(format!("line {line}: not readable as CSV: {e}"));
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    break;
                }
                continue;
            }
        };
        if !more {
            break;
        }
        let line = record.position().map_or(0, |p| p.line() as usize);
        progress.set_position(record.position().map_or(0, |p| p.byte()));
        let cells: Vec<&str> = record.iter().collect();
        let Some(call_id) = layout.call_id(&cells) else {
            summary.problems.push(format!(
                "line {line}: {} (call_id): is empty",
                columns.call_id
            ));
            continue;
        };
        if open.as_ref().is_none_or(|c| c.call_id != call_id) {
            if let Some(first) = ended.get(call_id) {
                summary.problems.push(format!(
                    "line {line}: {} (call_id): call {call_id:?} began at line {first} and \
                     other calls came between; the rows of one call must be adjacent",
                    columns.call_id
                ));
                continue;
            }
            if let Some(done) = open.take() {
                close(done, source, &mut ended, &mut chunk, &mut summary);
            }
            open = Some(OpenCall {
                call_id: call_id.to_owned(),
                began: line,
                rows: Vec::new(),
            });
        }
        let Some(call) = open.as_mut() else {
            continue;
        };
        match layout.read(&cells, offset) {
            Ok(row) => match call.rows.first() {
                Some((_, first)) if first.account_id != row.account_id => {
                    summary.problems.push(format!(
                        "line {line}: {} (account_id): {:?} differs from the call's account",
                        columns.account_id, row.account_id
                    ));
                }
                _ => call.rows.push((line, row)),
            },
            Err(e) => summary.problems.push(format!("line {line}: {e}")),
        }
        if chunk.len() >= CHUNK {
            ingest_chunk(
                store,
                std::mem::take(&mut chunk),
                policy,
                &mut summary,
                "line",
            )
            .await?;
        }
    }
    if let Some(done) = open.take() {
        close(done, source, &mut ended, &mut chunk, &mut summary);
    }
    ingest_chunk(store, chunk, policy, &mut summary, "line").await?;
    progress.finish_and_clear();
    Ok(summary)
}

/// Ends a call: its events join the chunk, each with the line it came from (the call's own
/// event with its first row's).
fn close(
    call: OpenCall,
    source: &str,
    ended: &mut HashMap<String, usize>,
    chunk: &mut Vec<(usize, Event)>,
    summary: &mut Summary,
) {
    ended.insert(call.call_id, call.began);
    let first_line = call.rows.first().map_or(call.began, |(l, _)| *l);
    if call.rows.is_empty() {
        return;
    }
    let (lines, rows): (Vec<usize>, Vec<CallRow>) = call.rows.into_iter().unzip();
    let line_of = std::iter::once(first_line).chain(lines);
    for (line, event) in line_of.zip(call_events(source, &rows)) {
        match event {
            Ok(e) => chunk.push((line, e)),
            Err(e) => summary
                .problems
                .push(format!("line {line}: {}", describe(&e))),
        }
    }
}

fn describe(e: &FieldError) -> String {
    format!("{}: {}", e.field, e.reason)
}
