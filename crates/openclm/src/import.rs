//! `openclm import`: HCPs, content and events from files. Valid records are stored; each invalid
//! one is reported with its line and the field at fault.

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use openclm_core::batch::{BatchFormat, parse_batch};
use openclm_core::content::ContentInput;
use openclm_core::hcp::{ExternalId, HcpInput};
use openclm_core::{Event, FieldError};
use openclm_store::prelude::*;
use openclm_store::{AnyStore, IngestOutcome, UnknownHcpPolicy};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::io::{BufRead, Read};
use std::path::Path;

use crate::cli::{FileFormat, ImportWhat};
use crate::now;

/// How many problems are printed before the rest are only counted.
const SHOWN_PROBLEMS: usize = 20;
const CHUNK: usize = 10_000;

pub async fn run(
    store: AnyStore,
    what: ImportWhat,
    settings: &crate::settings::Settings,
) -> anyhow::Result<()> {
    let summary = match what {
        ImportWhat::Hcps { file } => import_hcps(&store, &file).await?,
        ImportWhat::Content { file, format } => import_content(&store, &file, format).await?,
        ImportWhat::Events {
            file,
            format,
            create_stub_hcps,
        } => {
            let policy = if create_stub_hcps {
                UnknownHcpPolicy::CreateStub
            } else {
                UnknownHcpPolicy::Reject
            };
            import_events(&store, &file, format, policy).await?
        }
        ImportWhat::Calls {
            file,
            source,
            columns,
            utc_offset,
            create_stub_hcps,
        } => {
            let mut mapping = settings.import.calls.columns.clone();
            mapping.apply(&columns)?;
            let policy = if create_stub_hcps {
                UnknownHcpPolicy::CreateStub
            } else {
                UnknownHcpPolicy::Reject
            };
            let offset = crate::calls::utc_offset(&utc_offset)?;
            crate::calls::import_calls(&store, &file, &source, &mapping, offset, policy).await?
        }
    };
    println!("{}", summary.line());
    for p in summary.problems.iter().take(SHOWN_PROBLEMS) {
        eprintln!("  {p}");
    }
    if summary.problems.len() > SHOWN_PROBLEMS {
        eprintln!("  ... and {} more", summary.problems.len() - SHOWN_PROBLEMS);
    }
    anyhow::ensure!(
        summary.problems.is_empty(),
        "{} record(s) were not imported",
        summary.problems.len()
    );
    Ok(())
}

/// What an import did.
#[derive(Debug, Default)]
pub struct Summary {
    pub stored: usize,
    pub duplicates: usize,
    pub problems: Vec<String>,
}

impl Summary {
    fn line(&self) -> String {
        format!(
            "imported {} record(s); {} already present; {} rejected",
            self.stored,
            self.duplicates,
            self.problems.len()
        )
    }
}

fn format_of(path: &Path, given: Option<FileFormat>) -> anyhow::Result<FileFormat> {
    if let Some(f) = given {
        return Ok(f);
    }
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("csv") => Ok(FileFormat::Csv),
        Some("json") => Ok(FileFormat::Json),
        Some("ndjson" | "jsonl") => Ok(FileFormat::Ndjson),
        _ => anyhow::bail!(
            "cannot tell the format of {}; pass --format",
            path.display()
        ),
    }
}

/// Reads text whose lines may end in CRLF (what Excel and CRM exports write) as if they ended
/// in LF. The `csv` crate ends a record at the CR and counts the line at the LF that follows,
/// so every record after a CRLF would be reported a line early; read through this, line
/// numbers are the file's, also for quoted fields that span lines. A CR not followed by LF is
/// kept.
pub(crate) struct LfLineEnds<R> {
    inner: R,
    /// A CR read at the end of the last input, not yet known to start a CRLF.
    held_cr: bool,
}

impl<R: BufRead> LfLineEnds<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self {
            inner,
            held_cr: false,
        }
    }
}

impl<R: BufRead> Read for LfLineEnds<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let mut n = 0;
        while n < out.len() {
            let input = self.inner.fill_buf()?;
            if input.is_empty() {
                if std::mem::take(&mut self.held_cr) {
                    out[n] = b'\r';
                    n += 1;
                }
                break;
            }
            let mut used = 0;
            for &byte in input {
                if n == out.len() {
                    break;
                }
                if std::mem::take(&mut self.held_cr) && byte != b'\n' {
                    out[n] = b'\r';
                    n += 1;
                    if n == out.len() {
                        break;
                    }
                }
                used += 1;
                if byte == b'\r' {
                    self.held_cr = true;
                } else {
                    out[n] = byte;
                    n += 1;
                }
            }
            self.inner.consume(used);
            if n > 0 {
                break;
            }
        }
        Ok(n)
    }
}

/// A CSV file opened for reading with `builder`, its line ends read as LF.
pub(crate) fn open_csv(
    builder: &csv::ReaderBuilder,
    file: &Path,
) -> anyhow::Result<csv::Reader<LfLineEnds<std::io::BufReader<std::fs::File>>>> {
    let opened =
        std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
    Ok(builder.from_reader(LfLineEnds::new(std::io::BufReader::new(opened))))
}

/// The rows of a CSV file with a header, each with the line it begins on (a quoted field may
/// span lines) and the row read as `T`, or why it cannot be.
fn csv_rows<T: DeserializeOwned>(
    file: &Path,
) -> anyhow::Result<impl Iterator<Item = (usize, Result<T, FieldError>)>> {
    let mut reader = open_csv(csv::ReaderBuilder::new().trim(csv::Trim::All), file)?;
    let header = reader
        .headers()
        .with_context(|| format!("cannot read the header of {}", file.display()))?
        .clone();
    Ok(reader.into_records().map(move |record| {
        let line = |p: Option<&csv::Position>| p.map_or(0, |p| p.line() as usize);
        match record {
            Ok(record) => (
                line(record.position()),
                record
                    .deserialize(Some(&header))
                    .map_err(|e| FieldError::new("row", e.to_string())),
            ),
            Err(e) => (
                line(e.position()),
                Err(FieldError::new("row", e.to_string())),
            ),
        }
    }))
}

/// One HCP row: lists are `;`-separated, external ids are `system:id`.
#[derive(Debug, Deserialize)]
struct HcpRow {
    id: String,
    name: Option<String>,
    specialty: Option<String>,
    country: Option<String>,
    territory: Option<String>,
    segments: Option<String>,
    email: Option<String>,
    external_ids: Option<String>,
    /// Optional column: products not to promote to the HCP, `;`-separated.
    #[serde(default)]
    restricted_products: Option<String>,
}

fn split_list(text: Option<String>) -> Vec<String> {
    text.unwrap_or_default()
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn hcp_of_row(row: HcpRow) -> Result<openclm_core::Hcp, FieldError> {
    let mut external_ids = Vec::new();
    for (i, pair) in split_list(row.external_ids).into_iter().enumerate() {
        let (system, id) = pair
            .split_once(':')
            .ok_or_else(|| FieldError::new(format!("external_ids[{i}]"), "must be system:id"))?;
        external_ids.push(ExternalId {
            system: system.into(),
            id: id.into(),
        });
    }
    HcpInput {
        name: row.name,
        specialty: row.specialty,
        country: row.country,
        territory: row.territory,
        segments: split_list(row.segments),
        email: row.email,
        external_ids,
        restricted_products: split_list(row.restricted_products),
    }
    .validate(row.id.trim())
}

pub async fn import_hcps(store: &AnyStore, file: &Path) -> anyhow::Result<Summary> {
    let mut summary = Summary::default();
    let mut chunk = Vec::new();
    let mut lines = Vec::new();
    for (line, row) in csv_rows::<HcpRow>(file)? {
        match row.and_then(hcp_of_row) {
            Ok(hcp) => {
                chunk.push(hcp);
                lines.push(line);
            }
            Err(e) => summary.problems.push(format!("line {line}: {e}")),
        }
        if chunk.len() == CHUNK {
            store_hcps(store, &mut chunk, &mut lines, &mut summary).await?;
        }
    }
    store_hcps(store, &mut chunk, &mut lines, &mut summary).await?;
    Ok(summary)
}

async fn store_hcps(
    store: &AnyStore,
    chunk: &mut Vec<openclm_core::Hcp>,
    lines: &mut Vec<usize>,
    summary: &mut Summary,
) -> anyhow::Result<()> {
    if chunk.is_empty() {
        return Ok(());
    }
    let results = store
        .put_hcps(std::mem::take(chunk), crate::governance::cli_actor(), now())
        .await?;
    for (line, result) in lines.drain(..).zip(results) {
        match result {
            Ok(_) => summary.stored += 1,
            Err(e) => summary.problems.push(format!("line {line}: {e}")),
        }
    }
    Ok(())
}

/// One content row: lists are `;`-separated.
#[derive(Debug, Deserialize)]
struct ContentRow {
    id: Option<String>,
    title: Option<String>,
    kind: Option<String>,
    product: Option<String>,
    topics: Option<String>,
    language: Option<String>,
    countries: Option<String>,
    #[serde(default)]
    specialties: Option<String>,
    version: Option<u32>,
    status: Option<String>,
    approval_code: Option<String>,
    approved_at: Option<String>,
    valid_from: Option<String>,
    expires_at: Option<String>,
}

pub async fn import_content(
    store: &AnyStore,
    file: &Path,
    format: Option<FileFormat>,
) -> anyhow::Result<Summary> {
    let mut summary = Summary::default();
    let mut items = Vec::new();
    match format_of(file, format)? {
        FileFormat::Csv => {
            for (line, row) in csv_rows::<ContentRow>(file)? {
                let parsed = row.and_then(|r| {
                    ContentInput {
                        id: r.id,
                        title: r.title,
                        kind: r.kind,
                        product: r.product,
                        topics: split_list(r.topics),
                        language: r.language,
                        countries: split_list(r.countries),
                        specialties: split_list(r.specialties),
                        version: r.version,
                        status: r.status,
                        approval_code: r.approval_code,
                        approved_at: r.approved_at,
                        valid_from: r.valid_from,
                        expires_at: r.expires_at,
                    }
                    .validate()
                });
                match parsed {
                    Ok(c) => items.push(c),
                    Err(e) => summary.problems.push(format!("line {line}: {e}")),
                }
            }
        }
        FileFormat::Json | FileFormat::Ndjson => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let values: Vec<serde_json::Value> = if text.trim_start().starts_with('[') {
                serde_json::from_str(&text).context("the file is not a JSON array")?
            } else {
                text.lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(serde_json::from_str)
                    .collect::<Result<_, _>>()
                    .context("a line is not valid JSON")?
            };
            for (i, v) in values.into_iter().enumerate() {
                match serde_json::from_value::<ContentInput>(v)
                    .map_err(|e| FieldError::new("item", e.to_string()))
                    .and_then(ContentInput::validate)
                {
                    Ok(c) => items.push(c),
                    Err(e) => summary.problems.push(format!("item {}: {e}", i + 1)),
                }
            }
        }
    }
    let actor = crate::governance::cli_actor();
    let items = items
        .into_iter()
        .map(|c| c.with_external_approval(&actor))
        .collect();
    summary.stored = store.put_content(items, actor, now()).await?.len();
    Ok(summary)
}

pub async fn import_events(
    store: &AnyStore,
    file: &Path,
    format: Option<FileFormat>,
    policy: UnknownHcpPolicy,
) -> anyhow::Result<Summary> {
    let format = format_of(file, format)?;
    anyhow::ensure!(
        format != FileFormat::Csv,
        "events are imported from NDJSON or JSON"
    );
    let mut summary = Summary::default();
    let progress = progress_bar(std::fs::metadata(file)?.len(), "bytes");
    if format == FileFormat::Json {
        let body =
            std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        let items = parse_batch(&body, BatchFormat::Json, usize::MAX)?;
        let mut events = Vec::new();
        for item in items {
            match item.parsed {
                Ok(e) => events.push((item.index + 1, e)),
                Err(e) => summary
                    .problems
                    .push(format!("item {}: {e}", item.index + 1)),
            }
        }
        for chunk in events.chunks(CHUNK) {
            ingest_chunk(store, chunk.to_vec(), policy, &mut summary, "item").await?;
        }
        progress.finish_and_clear();
        return Ok(summary);
    }
    let reader = std::io::BufReader::new(
        std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?,
    );
    let mut chunk: Vec<(usize, Event)> = Vec::with_capacity(CHUNK);
    // Raw lines: a line that is not UTF-8 is one bad event, not the end of the import.
    for (i, line) in reader.split(b'\n').enumerate() {
        let line = line.with_context(|| format!("cannot read {}", file.display()))?;
        progress.inc(line.len() as u64 + 1);
        if line.trim_ascii().is_empty() {
            continue;
        }
        let parsed = serde_json::from_slice(&line)
            .map_err(|e| FieldError::new("event", format!("not valid JSON: {e}")))
            .and_then(Event::from_json);
        match parsed {
            Ok(e) => chunk.push((i + 1, e)),
            Err(e) => summary.problems.push(format!("line {}: {e}", i + 1)),
        }
        if chunk.len() == CHUNK {
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
    ingest_chunk(store, chunk, policy, &mut summary, "line").await?;
    progress.finish_and_clear();
    Ok(summary)
}

pub(crate) async fn ingest_chunk(
    store: &AnyStore,
    chunk: Vec<(usize, Event)>,
    policy: UnknownHcpPolicy,
    summary: &mut Summary,
    unit: &str,
) -> anyhow::Result<()> {
    if chunk.is_empty() {
        return Ok(());
    }
    let (lines, events): (Vec<usize>, Vec<Event>) = chunk.into_iter().unzip();
    let outcomes = store.ingest(events, policy, now()).await?;
    for (line, outcome) in lines.into_iter().zip(outcomes) {
        match outcome {
            IngestOutcome::Accepted => summary.stored += 1,
            IngestOutcome::Duplicate => summary.duplicates += 1,
            IngestOutcome::Conflict => summary.problems.push(format!(
                "{unit} {line}: event_id: already stored with a different payload"
            )),
            IngestOutcome::Rejected(e) => summary.problems.push(format!("{unit} {line}: {e}")),
        }
    }
    Ok(())
}

pub fn progress_bar(len: u64, unit: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    let template =
        format!("{{spinner}} [{{elapsed_precise}}] {{wide_bar}} {{pos}}/{{len}} {unit} ({{eta}})");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads all of `text` through a one-byte buffer into reads of `chunk` bytes, so that every
    /// CR meets its LF across a read boundary.
    fn through(text: &[u8], chunk: usize) -> Vec<u8> {
        let mut reader = LfLineEnds::new(std::io::BufReader::with_capacity(1, text));
        let mut out = Vec::new();
        let mut buf = vec![0; chunk];
        loop {
            let n = reader.read(&mut buf).unwrap();
            if n == 0 {
                return out;
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    #[test]
    fn crlf_line_ends_read_as_lf_and_a_lone_cr_is_kept() {
        let text = b"a,b\r\n\"x\r\ny\",2\r\nlone\rcr\r";
        for chunk in [1, 2, 3, 64] {
            assert_eq!(
                through(text, chunk),
                b"a,b\n\"x\ny\",2\nlone\rcr\r",
                "{chunk}"
            );
        }
    }
}
