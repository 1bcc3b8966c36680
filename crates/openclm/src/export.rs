//! `openclm export`: one table streamed page by page to CSV, NDJSON or Parquet for a warehouse or
//! a BI tool, in memory that does not grow with the table.
//!
//! Each page of a few thousand rows is read with a keyset (events by storage order, HCPs and
//! decisions by id), written, and dropped before the next is read; Parquet buffers at most one
//! row group. The columns are flat and the same in every format: times are UTC (RFC 3339 text
//! in CSV and NDJSON, `TIMESTAMP(MILLIS, UTC)` in Parquet), days are dates, lists and bodies are
//! JSON text (JSON values in NDJSON), absent values are empty (CSV) or null.

use anyhow::Context;
use openclm_core::Timestamp;
use openclm_core::audit::NewAudit;
use openclm_store::prelude::*;
use openclm_store::{
    AnyStore, DecisionFilter, DecisionRecord, ExportEvent, ExportHcp, KpiFilter, PageRequest,
    SliceRow,
};
use parquet::basic::{Compression, LogicalType, Repetition, TimeUnit, Type as Physical};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int32Type, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cli::{ExportFileFormat, ExportTable};
use crate::governance::cli_actor;
use crate::now;

/// Rows read per page.
const PAGE_ROWS: usize = 5_000;
/// Rows per Parquet row group (ten pages): what the Parquet writer holds in memory at most.
const ROW_GROUP_ROWS: usize = 50_000;

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    /// JSON text: written as text in CSV and Parquet, as the JSON value in NDJSON.
    Json,
    Int,
    Float,
    Bool,
    Time,
    /// Days since 1970-01-01.
    Date,
}

struct Column {
    name: &'static str,
    kind: Kind,
    /// Never null.
    required: bool,
}

const fn col(name: &'static str, kind: Kind) -> Column {
    Column {
        name,
        kind,
        required: false,
    }
}

const fn req(name: &'static str, kind: Kind) -> Column {
    Column {
        name,
        kind,
        required: true,
    }
}

use Kind::{Bool, Date, Float, Int, Json, Text, Time};

const EVENT_COLUMNS: &[Column] = &[
    req("event_id", Text),
    req("occurred_at", Time),
    req("received_at", Time),
    req("hcp_id", Text),
    req("source", Text),
    req("channel", Text),
    req("type", Text),
    col("content_id", Text),
    col("key_message", Text),
    col("campaign_id", Text),
    col("decision_id", Text),
    col("rep_id", Text),
    col("dwell_ms", Int),
    col("units", Float),
    col("value", Float),
    req("payload", Json),
];

const HCP_COLUMNS: &[Column] = &[
    req("id", Text),
    req("name", Text),
    req("specialty", Text),
    req("country", Text),
    col("territory", Text),
    req("segments", Json),
    col("email", Text),
    req("external_ids", Json),
    req("restricted_products", Json),
    req("is_stub", Bool),
    req("created_at", Time),
    req("updated_at", Time),
];

const DECISION_COLUMNS: &[Column] = &[
    req("decision_id", Text),
    req("hcp_id", Text),
    req("made_at", Time),
    col("campaign_id", Text),
    col("wave", Int),
    col("arm", Int),
    col("channel", Text),
    col("content_id", Text),
    col("propensity", Float),
    req("held", Bool),
    col("delivered_at", Time),
    col("rewarded_at", Time),
    req("model_version", Int),
    req("body", Json),
];

const KPI_COLUMNS: &[Column] = &[
    req("campaign_id", Text),
    req("day", Date),
    req("group", Int),
    req("wave", Int),
    req("channel", Text),
    col("content_id", Text),
    req("specialty", Text),
    req("country", Text),
    req("touches", Int),
    req("delivered", Int),
    req("opened_human", Int),
    req("opened_machine", Int),
    req("clicked", Int),
    req("engaged", Int),
    req("dwell_ms", Float),
    req("dwell_n", Int),
    req("dwell_histogram", Json),
    req("unsubscribes", Int),
    req("bounces", Int),
    req("responses", Int),
    req("nps_promoters", Int),
    req("nps_passives", Int),
    req("nps_detractors", Int),
    req("outcome_units", Float),
];

fn columns_of(table: ExportTable) -> &'static [Column] {
    match table {
        ExportTable::Events => EVENT_COLUMNS,
        ExportTable::Hcps => HCP_COLUMNS,
        ExportTable::Decisions => DECISION_COLUMNS,
        ExportTable::Kpis => KPI_COLUMNS,
    }
}

/// One value of a row, in its column's kind.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Null,
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Time(Timestamp),
    Date(i64),
}

fn text(value: Option<String>) -> Cell {
    value.map_or(Cell::Null, Cell::Text)
}

fn json_text(value: &impl serde::Serialize) -> anyhow::Result<Cell> {
    Ok(Cell::Text(serde_json::to_string(value)?))
}

/// The measures an event's payload may carry, read without building the whole JSON tree.
#[derive(serde::Deserialize, Default)]
struct Measures {
    key_message: Option<serde_json::Value>,
    dwell_ms: Option<serde_json::Value>,
    units: Option<serde_json::Value>,
    value: Option<serde_json::Value>,
}

fn event_cells(e: ExportEvent) -> Vec<Cell> {
    // The payload parsed when it was stored; should it no longer, the columns taken from it stay
    // empty and the payload itself still goes out.
    let m: Measures = serde_json::from_str(&e.payload).unwrap_or_default();
    let float =
        |v: Option<serde_json::Value>| v.and_then(|v| v.as_f64()).map_or(Cell::Null, Cell::Float);
    vec![
        Cell::Text(e.event_id),
        Cell::Time(e.occurred_at),
        Cell::Time(e.received_at),
        Cell::Text(e.hcp_id),
        Cell::Text(e.source),
        Cell::Text(e.channel.as_str().into()),
        Cell::Text(e.kind.as_str().into()),
        text(e.content_id),
        text(m.key_message.and_then(|v| v.as_str().map(str::to_owned))),
        text(e.campaign_id),
        text(e.decision_id),
        text(e.rep_id),
        m.dwell_ms
            .and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)))
            .map_or(Cell::Null, Cell::Int),
        float(m.units),
        float(m.value),
        Cell::Text(e.payload),
    ]
}

fn hcp_cells(h: ExportHcp) -> anyhow::Result<Vec<Cell>> {
    Ok(vec![
        Cell::Text(h.id),
        Cell::Text(h.name),
        Cell::Text(h.specialty),
        Cell::Text(h.country),
        text(h.territory),
        json_text(&h.segments)?,
        text(h.email),
        json_text(&h.external_ids)?,
        json_text(&h.restricted_products)?,
        Cell::Bool(h.is_stub),
        Cell::Time(h.created_at),
        Cell::Time(h.updated_at),
    ])
}

fn decision_cells(d: DecisionRecord) -> anyhow::Result<Vec<Cell>> {
    // A decision that held back records why under `held`; one that acted has it null.
    let held = d.body.get("held").is_some_and(|h| !h.is_null());
    let (campaign, wave, arm) = match d.campaign {
        Some(tag) => (
            Cell::Text(tag.campaign_id),
            Cell::Int(tag.wave.into()),
            Cell::Int(tag.arm.into()),
        ),
        None => (Cell::Null, Cell::Null, Cell::Null),
    };
    Ok(vec![
        Cell::Text(d.decision_id),
        Cell::Text(d.hcp_id),
        Cell::Time(d.made_at),
        campaign,
        wave,
        arm,
        d.chosen_channel
            .map_or(Cell::Null, |c| Cell::Text(c.as_str().into())),
        text(d.chosen_content),
        d.propensity.map_or(Cell::Null, Cell::Float),
        Cell::Bool(held),
        d.delivered_at.map_or(Cell::Null, Cell::Time),
        d.rewarded_at.map_or(Cell::Null, Cell::Time),
        Cell::Int(d.model_version),
        json_text(&d.body)?,
    ])
}

fn kpi_cells(campaign_id: &str, s: SliceRow) -> anyhow::Result<Vec<Cell>> {
    let c = &s.counts;
    let count = |n: u64| Cell::Int(i64::try_from(n).unwrap_or(i64::MAX));
    Ok(vec![
        Cell::Text(campaign_id.to_owned()),
        Cell::Date(s.day),
        Cell::Int(s.group),
        Cell::Int(s.wave),
        Cell::Text(s.channel.as_str().into()),
        text((!s.content_id.is_empty()).then_some(s.content_id)),
        Cell::Text(s.specialty),
        Cell::Text(s.country),
        count(c.touches),
        count(c.delivered),
        count(c.opened_human),
        count(c.opened_machine),
        count(c.clicked),
        count(c.engaged),
        Cell::Float(c.dwell_ms),
        count(c.dwell_n),
        json_text(&c.dwell_histogram)?,
        count(c.unsubscribes),
        count(c.bounces),
        count(c.responses),
        count(c.nps_promoters),
        count(c.nps_passives),
        count(c.nps_detractors),
        Cell::Float(c.outcome_units),
    ])
}

/// Reads `--since`: an RFC 3339 time, or a date (its midnight, UTC).
pub fn parse_since(text: &str) -> anyhow::Result<Timestamp> {
    let full = if text.len() == 10 {
        format!("{text}T00:00:00Z")
    } else {
        text.to_owned()
    };
    Timestamp::parse("--since", &full).map_err(|e| {
        anyhow::anyhow!(
            "--since: {text:?} is not a time: give an RFC 3339 time such as 2026-03-01T09:30:00Z or a date such as 2026-03-01 ({})",
            e.reason
        )
    })
}

/// Where rows go, in one format.
trait Sink {
    fn row(&mut self, row: Vec<Cell>) -> anyhow::Result<()>;
    fn finish(self: Box<Self>) -> anyhow::Result<()>;
}

fn date_text(day: i64) -> String {
    let mut t = Timestamp::from_millis(day * 86_400_000).to_string();
    t.truncate(10);
    t
}

struct CsvSink<W: Write> {
    out: csv::Writer<W>,
}

impl<W: Write> CsvSink<W> {
    fn new(out: W, columns: &[Column]) -> anyhow::Result<Self> {
        let mut out = csv::Writer::from_writer(out);
        out.write_record(columns.iter().map(|c| c.name))?;
        Ok(Self { out })
    }
}

impl<W: Write> Sink for CsvSink<W> {
    fn row(&mut self, row: Vec<Cell>) -> anyhow::Result<()> {
        for cell in row {
            match cell {
                Cell::Null => self.out.write_field("")?,
                Cell::Text(s) => self.out.write_field(s)?,
                Cell::Int(n) => self.out.write_field(n.to_string())?,
                Cell::Float(f) => self.out.write_field(f.to_string())?,
                Cell::Bool(b) => self.out.write_field(if b { "true" } else { "false" })?,
                Cell::Time(t) => self.out.write_field(t.to_string())?,
                Cell::Date(d) => self.out.write_field(date_text(d))?,
            }
        }
        self.out.write_record(None::<&[u8]>)?;
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> anyhow::Result<()> {
        self.out.flush()?;
        Ok(())
    }
}

struct NdjsonSink<W: Write> {
    out: std::io::BufWriter<W>,
    columns: &'static [Column],
}

impl<W: Write> Sink for NdjsonSink<W> {
    fn row(&mut self, row: Vec<Cell>) -> anyhow::Result<()> {
        let out = &mut self.out;
        out.write_all(b"{")?;
        for (i, (cell, column)) in row.into_iter().zip(self.columns).enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            write!(out, "\"{}\":", column.name)?;
            match cell {
                Cell::Null => out.write_all(b"null")?,
                Cell::Text(s) if column.kind == Json => out.write_all(s.as_bytes())?,
                Cell::Text(s) => serde_json::to_writer(&mut *out, &s)?,
                Cell::Int(n) => write!(out, "{n}")?,
                Cell::Float(f) if f.is_finite() => serde_json::to_writer(&mut *out, &f)?,
                Cell::Float(_) => out.write_all(b"null")?,
                Cell::Bool(b) => write!(out, "{b}")?,
                Cell::Time(t) => write!(out, "\"{t}\"")?,
                Cell::Date(d) => write!(out, "\"{}\"", date_text(d))?,
            }
        }
        out.write_all(b"}\n")?;
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> anyhow::Result<()> {
        self.out.flush()?;
        Ok(())
    }
}

/// One column's values of the row group being gathered.
enum Values {
    Bytes(Vec<ByteArray>),
    I64(Vec<i64>),
    I32(Vec<i32>),
    F64(Vec<f64>),
    Bool(Vec<bool>),
}

struct ParquetSink<W: Write + Send> {
    out: SerializedFileWriter<W>,
    columns: &'static [Column],
    values: Vec<Values>,
    /// Definition levels of the optional columns: 1 present, 0 null.
    defined: Vec<Vec<i16>>,
    rows: usize,
}

fn parquet_schema(columns: &[Column]) -> anyhow::Result<Type> {
    let fields = columns
        .iter()
        .map(|c| {
            let (physical, logical) = match c.kind {
                Text | Json => (Physical::BYTE_ARRAY, Some(LogicalType::String)),
                Int => (Physical::INT64, None),
                Float => (Physical::DOUBLE, None),
                Bool => (Physical::BOOLEAN, None),
                Time => (
                    Physical::INT64,
                    Some(LogicalType::timestamp(true, TimeUnit::MILLIS)),
                ),
                Date => (Physical::INT32, Some(LogicalType::Date)),
            };
            let repetition = if c.required {
                Repetition::REQUIRED
            } else {
                Repetition::OPTIONAL
            };
            Ok(Arc::new(
                Type::primitive_type_builder(c.name, physical)
                    .with_repetition(repetition)
                    .with_logical_type(logical)
                    .build()?,
            ))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Type::group_type_builder("schema")
        .with_fields(fields)
        .build()?)
}

impl<W: Write + Send> ParquetSink<W> {
    fn new(out: W, columns: &'static [Column]) -> anyhow::Result<Self> {
        let properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_created_by(format!("openclm {}", env!("CARGO_PKG_VERSION")))
            .build();
        let out = SerializedFileWriter::new(
            out,
            Arc::new(parquet_schema(columns)?),
            Arc::new(properties),
        )?;
        Ok(Self {
            out,
            columns,
            values: columns.iter().map(|c| Self::empty(c.kind)).collect(),
            defined: columns.iter().map(|_| Vec::new()).collect(),
            rows: 0,
        })
    }

    fn empty(kind: Kind) -> Values {
        match kind {
            Text | Json => Values::Bytes(Vec::new()),
            Int | Time => Values::I64(Vec::new()),
            Date => Values::I32(Vec::new()),
            Float => Values::F64(Vec::new()),
            Bool => Values::Bool(Vec::new()),
        }
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        let mut group = self.out.next_row_group()?;
        let mut i = 0;
        while let Some(mut column) = group.next_column()? {
            let defined = (!self.columns[i].required).then_some(&self.defined[i][..]);
            match &self.values[i] {
                Values::Bytes(v) => {
                    column
                        .typed::<ByteArrayType>()
                        .write_batch(v, defined, None)?;
                }
                Values::I64(v) => {
                    column.typed::<Int64Type>().write_batch(v, defined, None)?;
                }
                Values::I32(v) => {
                    column.typed::<Int32Type>().write_batch(v, defined, None)?;
                }
                Values::F64(v) => {
                    column.typed::<DoubleType>().write_batch(v, defined, None)?;
                }
                Values::Bool(v) => {
                    column.typed::<BoolType>().write_batch(v, defined, None)?;
                }
            }
            column.close()?;
            i += 1;
        }
        group.close()?;
        for (values, column) in self.values.iter_mut().zip(self.columns) {
            *values = Self::empty(column.kind);
        }
        self.defined.iter_mut().for_each(Vec::clear);
        self.rows = 0;
        Ok(())
    }
}

impl<W: Write + Send> Sink for ParquetSink<W> {
    fn row(&mut self, row: Vec<Cell>) -> anyhow::Result<()> {
        for (i, cell) in row.into_iter().enumerate() {
            let column = &self.columns[i];
            if matches!(cell, Cell::Null) {
                anyhow::ensure!(!column.required, "column {} is null", column.name);
                self.defined[i].push(0);
                continue;
            }
            match (cell, &mut self.values[i]) {
                (Cell::Text(s), Values::Bytes(v)) => v.push(ByteArray::from(s.into_bytes())),
                (Cell::Int(n), Values::I64(v)) => v.push(n),
                (Cell::Time(t), Values::I64(v)) => v.push(t.millis()),
                (Cell::Date(d), Values::I32(v)) => v.push(i32::try_from(d)?),
                (Cell::Float(f), Values::F64(v)) => v.push(f),
                (Cell::Bool(b), Values::Bool(v)) => v.push(b),
                (cell, _) => anyhow::bail!(
                    "column {}: {cell:?} is not a {:?}",
                    column.name,
                    column.kind
                ),
            }
            if !column.required {
                self.defined[i].push(1);
            }
        }
        self.rows += 1;
        if self.rows >= ROW_GROUP_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> anyhow::Result<()> {
        self.flush()?;
        self.out.finish()?;
        Ok(())
    }
}

fn sink(
    format: ExportFileFormat,
    columns: &'static [Column],
    out: Box<dyn Write + Send>,
) -> anyhow::Result<Box<dyn Sink>> {
    Ok(match format {
        ExportFileFormat::Csv => Box::new(CsvSink::new(out, columns)?),
        ExportFileFormat::Ndjson => Box::new(NdjsonSink {
            out: std::io::BufWriter::with_capacity(1 << 16, out),
            columns,
        }),
        ExportFileFormat::Parquet => Box::new(ParquetSink::new(
            std::io::BufWriter::with_capacity(1 << 16, out),
            columns,
        )?),
    })
}

/// The file being written (beside the destination, renamed to it once complete, so a loader
/// never reads half a file) or standard output.
fn open_output(path: Option<&Path>) -> anyhow::Result<(Box<dyn Write + Send>, Option<PathBuf>)> {
    match path {
        None => Ok((Box::new(std::io::stdout()), None)),
        Some(path) => {
            let mut partial = path.as_os_str().to_owned();
            partial.push(".partial");
            let partial = PathBuf::from(partial);
            let file = std::fs::File::create(&partial)
                .with_context(|| format!("--output: cannot create {}", partial.display()))?;
            Ok((Box::new(file), Some(partial)))
        }
    }
}

/// `openclm export TABLE --format F [--since T] [--output PATH]`.
pub async fn run(
    store: AnyStore,
    table: ExportTable,
    format: ExportFileFormat,
    since: Option<Timestamp>,
    output: Option<PathBuf>,
) -> anyhow::Result<()> {
    let columns = columns_of(table);
    let (out, partial) = open_output(output.as_deref())?;
    let mut sink = sink(format, columns, out)?;
    let rows = match table {
        ExportTable::Events => events(&store, since, &mut *sink).await,
        ExportTable::Hcps => hcps(&store, since, &mut *sink).await,
        ExportTable::Decisions => decisions(&store, since, &mut *sink).await,
        ExportTable::Kpis => kpis(&store, since, &mut *sink).await,
    };
    let rows = match rows.and_then(|rows| sink.finish().map(|()| rows)) {
        Ok(rows) => rows,
        Err(e) => {
            if let Some(partial) = &partial {
                let _ = std::fs::remove_file(partial);
            }
            return Err(e);
        }
    };
    if let (Some(partial), Some(path)) = (&partial, &output) {
        std::fs::rename(partial, path)
            .with_context(|| format!("--output: cannot move the export to {}", path.display()))?;
    }
    let name = table.name();
    // Events, HCPs and decisions are personal data: who took how many rows of which is on the
    // audit trail (never the rows). KPI slices hold keys and counts only.
    if table != ExportTable::Kpis {
        let what = serde_json::json!({
            "table": name,
            "format": format.name(),
            "rows": rows,
            "since": since,
            "to": if output.is_some() { "file" } else { "stdout" },
        });
        store
            .append_audit(
                vec![
                    NewAudit::new(&cli_actor(), "export", format!("export/{name}")).new_value(what),
                ],
                now(),
            )
            .await?;
    }
    tracing::info!(table = name, format = format.name(), rows, "export done");
    if let Some(path) = &output {
        eprintln!("exported {rows} {name} rows to {}", path.display());
    }
    Ok(())
}

async fn events(
    store: &AnyStore,
    since: Option<Timestamp>,
    sink: &mut dyn Sink,
) -> anyhow::Result<u64> {
    let (mut after, mut rows) = (0, 0);
    loop {
        let page = store.export_events(after, since, PAGE_ROWS).await?;
        let full = page.len() == PAGE_ROWS;
        if let Some(last) = page.last() {
            after = last.seq;
        }
        for event in page {
            sink.row(event_cells(event))?;
            rows += 1;
        }
        if !full {
            return Ok(rows);
        }
    }
}

async fn hcps(
    store: &AnyStore,
    since: Option<Timestamp>,
    sink: &mut dyn Sink,
) -> anyhow::Result<u64> {
    let (mut after, mut rows) = (None, 0);
    loop {
        let page = store.export_hcps(after.take(), since, PAGE_ROWS).await?;
        let full = page.len() == PAGE_ROWS;
        after = page.last().map(|h| h.id.clone());
        for hcp in page {
            sink.row(hcp_cells(hcp)?)?;
            rows += 1;
        }
        if !full {
            return Ok(rows);
        }
    }
}

async fn decisions(
    store: &AnyStore,
    since: Option<Timestamp>,
    sink: &mut dyn Sink,
) -> anyhow::Result<u64> {
    let filter = DecisionFilter {
        since,
        ..Default::default()
    };
    let (mut cursor, mut rows) = (None, 0);
    loop {
        let page = store
            .list_decisions(
                filter.clone(),
                PageRequest {
                    cursor: cursor.take(),
                    limit: 1_000,
                },
            )
            .await?;
        for decision in page.items {
            sink.row(decision_cells(decision)?)?;
            rows += 1;
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(rows),
        }
    }
}

async fn kpis(
    store: &AnyStore,
    since: Option<Timestamp>,
    sink: &mut dyn Sink,
) -> anyhow::Result<u64> {
    let from_day = since.map(|t| t.millis().div_euclid(86_400_000));
    let mut rows = 0;
    // One campaign's slices at a time: a campaign has at most days × groups × channels ×
    // content × segments of them, however many events it counted.
    for campaign in store.list_campaigns().await? {
        let filter = KpiFilter {
            campaign_id: campaign.id.clone(),
            from_day,
            until_day: None,
        };
        for slice in store.campaign_slices(filter).await? {
            sink.row(kpi_cells(&campaign.id, slice)?)?;
            rows += 1;
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_a_time_or_a_date_and_names_the_flag_otherwise() {
        assert_eq!(
            parse_since("2026-03-01").unwrap().to_string(),
            "2026-03-01T00:00:00.000Z"
        );
        assert_eq!(
            parse_since("2026-03-01T10:00:00+01:00")
                .unwrap()
                .to_string(),
            "2026-03-01T09:00:00.000Z"
        );
        let e = parse_since("yesterday").unwrap_err().to_string();
        assert!(e.starts_with("--since: \"yesterday\" is not a time"), "{e}");
        assert!(parse_since("2026-13-01").is_err());
    }

    #[test]
    fn every_row_has_a_cell_per_column() {
        let e = ExportEvent {
            seq: 1,
            event_id: "e".into(),
            hcp_id: "h".into(),
            occurred_at: Timestamp::from_millis(0),
            received_at: Timestamp::from_millis(0),
            channel: openclm_core::Channel::Web,
            kind: openclm_core::EventType::ContentViewed,
            source: "web".into(),
            content_id: None,
            campaign_id: None,
            decision_id: None,
            rep_id: None,
            payload: r#"{"dwell_ms": 1500, "key_message": "km-1", "units": 2}"#.into(),
        };
        let cells = event_cells(e);
        assert_eq!(cells.len(), EVENT_COLUMNS.len());
        assert_eq!(cells[8], Cell::Text("km-1".into()));
        assert_eq!(cells[12], Cell::Int(1500));
        assert_eq!(cells[13], Cell::Float(2.0));
        assert_eq!(cells[14], Cell::Null);
    }

    #[test]
    fn parquet_row_groups_hold_at_most_their_size_and_every_row_reads_back() {
        use parquet::file::reader::{FileReader, SerializedFileReader};
        use parquet::record::RowAccessor;
        const COLUMNS: &[Column] = &[req("n", Int), col("label", Text), req("at", Time)];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let file = std::fs::File::create(&path).unwrap();
        let mut sink: Box<dyn Sink> = Box::new(ParquetSink::new(file, COLUMNS).unwrap());
        let rows = 2 * ROW_GROUP_ROWS + 17;
        for n in 0..rows as i64 {
            let label = if n % 3 == 0 {
                Cell::Null
            } else {
                Cell::Text(format!("r{n}"))
            };
            sink.row(vec![
                Cell::Int(n),
                label,
                Cell::Time(Timestamp::from_millis(n)),
            ])
            .unwrap();
        }
        sink.finish().unwrap();
        let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
        let groups: Vec<i64> = reader
            .metadata()
            .row_groups()
            .iter()
            .map(|g| g.num_rows())
            .collect();
        assert_eq!(groups, vec![50_000, 50_000, 17]);
        let (mut sum, mut nulls) = (0i64, 0);
        for row in reader.into_iter() {
            let row = row.unwrap();
            sum += row.get_long(0).unwrap();
            nulls += usize::from(row.get_string(1).is_err());
        }
        let n = rows as i64;
        assert_eq!(sum, n * (n - 1) / 2);
        assert_eq!(nulls, rows.div_ceil(3));
        // A required column refuses a null rather than writing a wrong file.
        let file = std::fs::File::create(dir.path().join("u.parquet")).unwrap();
        let mut sink = ParquetSink::new(file, COLUMNS).unwrap();
        assert!(sink.row(vec![Cell::Null, Cell::Null, Cell::Null]).is_err());
    }

    #[test]
    fn dates_are_iso_days() {
        assert_eq!(date_text(0), "1970-01-01");
        assert_eq!(date_text(20_513), "2026-03-01");
    }
}
