//! The command line.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "openclm",
    version,
    about = "OpenCLM: the open closed-loop marketing engine"
)]
pub struct Cli {
    /// Settings file (TOML); defaults to ./openclm.toml when present.
    #[arg(long, global = true, env = "OPENCLM_CONFIG")]
    pub config: Option<PathBuf>,
    /// Database: sqlite://PATH or a plain path (embedded), or postgres://USER:PASSWORD@HOST/DB.
    #[arg(long, global = true)]
    pub database_url: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API.
    Serve {
        /// Listen address, e.g. 127.0.0.1:8080.
        #[arg(long)]
        listen: Option<String>,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Import master data or events from a file.
    Import {
        #[command(subcommand)]
        what: ImportWhat,
    },
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Manage people's accounts (personal; passwords are read from standard input).
    Users {
        #[command(subcommand)]
        action: UsersAction,
    },
    /// The audit trail: check its hash chain, print a record's history.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Data-subject requests: access export and erasure of an HCP.
    Privacy {
        #[command(subcommand)]
        action: PrivacyAction,
    },
    /// The pharmacovigilance queue of potential adverse events.
    Pv {
        #[command(subcommand)]
        action: PvAction,
    },
    /// Settings.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Move a deployment from the embedded SQLite database to an empty PostgreSQL database,
    /// then check that every table's row count and content hash agree on both sides.
    Copy {
        /// The SQLite database to copy: sqlite://PATH or a plain path. Stop the servers using
        /// it first: events they accept after the copy starts stay behind.
        #[arg(long)]
        from: String,
        /// The PostgreSQL database to fill: postgres://USER:PASSWORD@HOST/DB. Must hold no data.
        #[arg(long)]
        to: String,
    },
    /// Next best actions for HCPs, with reasons; each decision is logged as by POST /v1/decide.
    Decide {
        /// OpenCLM HCP id (repeat for several).
        #[arg(long = "hcp", required = true)]
        hcps: Vec<String>,
        /// Only these channels (comma-separated), e.g. email,face_to_face.
        #[arg(long, value_delimiter = ',')]
        channels: Vec<String>,
        /// How many ranked actions to show per HCP.
        #[arg(long, default_value_t = 3)]
        n: usize,
        /// Print the full answer as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// A rep's weekly plan: whom to see, with which key messages and why. Made on first request
    /// for the week and read back unchanged after, as by GET /v1/reps/{rep}/suggestions.
    Suggest {
        /// The rep's id.
        #[arg(long)]
        rep: String,
        /// ISO week (2026-W48) or a date in it; this week by default.
        #[arg(long)]
        week: Option<String>,
        /// Print the plan as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Campaigns: create one from a YAML or JSON file, list, show, run a wave.
    Campaign {
        #[command(subcommand)]
        action: CampaignAction,
    },
    /// Off-policy evaluation: what a candidate policy would have earned on the logged decisions
    /// (IPS, self-normalized IPS, doubly robust, with intervals).
    Evaluate {
        /// logged, greedy, uniform, channel:NAME (e.g. channel:email), content:ID or
        /// rules:SPECIALTY=CHANNEL,... (a static table; * for other specialties); repeat to
        /// compare several.
        #[arg(long = "policy", required = true)]
        policies: Vec<String>,
        /// Only this campaign's decisions.
        #[arg(long)]
        campaign: Option<String>,
        /// Decisions made from this time (RFC 3339)...
        #[arg(long)]
        since: Option<String>,
        /// ...and before this one; by default, those whose attribution window has passed.
        #[arg(long)]
        until: Option<String>,
        #[arg(long, default_value_t = 0.95)]
        level: f64,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Reports: a campaign's KPIs, lift over its holdout, ROMI and split check.
    Report {
        #[command(subcommand)]
        what: ReportWhat,
    },
    /// Run marketing policies side by side in a synthetic world whose truth is known.
    Simulate(SimulateArgs),
    /// Create a synthetic world in a fresh embedded database, print an API key, and serve it.
    Demo(DemoArgs),
    /// Export a table for a warehouse or BI tool, streamed page by page in constant memory
    /// (columns: see docs/src/reference/integrations/export.md). Exports of events, HCPs and
    /// decisions are audited (table, format, row count, who).
    Export {
        table: ExportTable,
        #[arg(long, value_enum)]
        format: ExportFileFormat,
        /// Only rows from this time on (RFC 3339, or a date: its midnight UTC). Events: those
        /// the store *received* at or after it, whenever they occurred, so an incremental load
        /// from its previous run's start also gets late-arriving events; HCPs: updated at or
        /// after it; decisions: made at or after it; KPIs: slices from its day on.
        #[arg(long)]
        since: Option<String>,
        /// Write to this file (complete or not at all: written beside it, then renamed);
        /// standard output by default.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// The stored events the KPI and activity folds set aside instead of counting (a payload
    /// that no longer parses, numbers the database refused), newest first. Folds what is
    /// pending first.
    Quarantine {
        /// How many to list (at most 1000).
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// What `openclm export` exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportTable {
    /// Every stored event, one row each, in storage order.
    Events,
    /// HCP master data (stubs included), by id.
    Hcps,
    /// The decision log, by decision id.
    Decisions,
    /// Every campaign's KPI slices (day × group × wave × channel × content × peer group).
    Kpis,
}

impl ExportTable {
    pub fn name(self) -> &'static str {
        match self {
            Self::Events => "events",
            Self::Hcps => "hcps",
            Self::Decisions => "decisions",
            Self::Kpis => "kpis",
        }
    }
}

/// The file formats of `openclm export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFileFormat {
    Csv,
    Parquet,
    Ndjson,
}

impl ExportFileFormat {
    pub fn name(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Parquet => "parquet",
            Self::Ndjson => "ndjson",
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum CampaignAction {
    /// Create or update a campaign from a YAML or JSON file (as POST /v1/campaigns).
    Create { file: PathBuf },
    /// Every campaign, with its waves' state.
    List,
    /// One campaign: its definition, waves, groups and the check of its holdout split.
    Show {
        id: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Run a wave now (1 for the first), whatever its scheduled time; a wave runs once.
    RunWave { id: String, number: u32 },
}

#[derive(Debug, Subcommand)]
pub enum ReportWhat {
    /// One campaign, as GET /v1/campaigns/{id}/report (KPIs broken down with --by).
    Campaign {
        id: String,
        #[arg(long, value_enum, default_value = "table")]
        format: ReportFormat,
        /// Break the KPIs down by arm, wave, channel, content, peer_group (or segment) or day.
        #[arg(long)]
        by: Option<String>,
        /// KPI date range: first and last day included (2026-12-01).
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        until: Option<String>,
        /// Confidence level of the intervals.
        #[arg(long, default_value_t = 0.95)]
        level: f64,
    },
    /// A wave's responders and non-responders, with reasons, what they share, and the next
    /// wave's plan, as GET /v1/campaigns/{id}/waves/{n}/responders.
    Responders {
        id: String,
        /// The wave's number (1 for the first).
        #[arg(long)]
        wave: u32,
        #[arg(long, value_enum, default_value = "table")]
        format: ReportFormat,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Table,
    Csv,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum ImportWhat {
    /// HCP master data from CSV: id,name,specialty,country,territory,segments,email,external_ids
    /// and optionally restricted_products (lists `;`-separated).
    Hcps { file: PathBuf },
    /// Content from CSV or JSON (by extension, or --format).
    Content {
        file: PathBuf,
        #[arg(long, value_enum)]
        format: Option<FileFormat>,
    },
    /// Events from NDJSON or a JSON array (by extension, or --format).
    Events {
        file: PathBuf,
        #[arg(long, value_enum)]
        format: Option<FileFormat>,
        /// Accept events for unknown HCPs under stub HCPs instead of rejecting them.
        #[arg(long)]
        create_stub_hcps: bool,
    },
    /// CRM calls from a CSV call / key-message export (one row per key message shown, the rows
    /// of a call adjacent): a call_logged per call and a slide_viewed per row.
    Calls {
        file: PathBuf,
        /// The system whose account ids the file holds (the HCPs' external ids).
        #[arg(long, default_value = "crm")]
        source: String,
        /// Column mapping overrides, e.g. call_id=Call_Id,account_id=Account_Id (defaults from
        /// [import.calls.columns]).
        #[arg(long, value_delimiter = ',')]
        columns: Vec<String>,
        /// The UTC offset of times written without one, e.g. +01:00 (default UTC).
        #[arg(long, default_value = "+00:00", allow_hyphen_values = true)]
        utc_offset: String,
        /// Accept calls for unknown HCPs under stub HCPs instead of rejecting them.
        #[arg(long)]
        create_stub_hcps: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FileFormat {
    Csv,
    Json,
    Ndjson,
}

#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// Create a key; the key itself is printed alone on the last line, once.
    Create {
        /// admin, marketer, analyst, ingest or tracking (`read` is taken as analyst); the other roles are
        /// personal and need a user account.
        #[arg(long)]
        role: String,
        /// What the key is for (e.g. the integration's name).
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List keys (ids, roles, labels; never the keys).
    List,
    /// Revoke a key by its id (the 12 hex characters after `oclm_`).
    Revoke { key_id: String },
}

#[derive(Debug, Subcommand)]
pub enum UsersAction {
    /// Create an account; the password (at least 12 characters) is read from standard input.
    Create {
        #[arg(long)]
        user_id: String,
        /// The person's name as an electronic signature prints it.
        #[arg(long)]
        name: String,
        /// admin, marketer, mlr_reviewer, rep, pv_officer, privacy_officer, analyst or ingest.
        #[arg(long)]
        role: String,
        /// A rep's territory (repeat for several).
        #[arg(long = "territory")]
        territories: Vec<String>,
    },
    /// List accounts.
    List,
    /// Disable an account and end its sessions.
    Disable { user_id: String },
}

#[derive(Debug, Subcommand)]
pub enum AuditAction {
    /// Check the whole hash chain; names every altered or deleted entry. Exits non-zero if any.
    Verify,
    /// Print one record's full history: `content/ID`, `user/ID`, `key/ID`, `campaign/ID`,
    /// `ae_case/ID`, or `hcp:ID` for an HCP.
    Export {
        #[arg(long)]
        record: String,
        #[arg(long, value_enum, default_value = "csv")]
        format: ExportFormat,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ExportFormat {
    Csv,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum PrivacyAction {
    /// Print everything held about an HCP as JSON.
    Export { hcp: String },
    /// Erase an HCP's personal data (pseudonymize; PV cases and the audit trail are kept).
    Erase {
        hcp: String,
        /// The request being answered.
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum PvAction {
    /// The queue: open cases, overdue first, with time left.
    Queue,
    /// Per source: texts screened, cases flagged, forwarded and acknowledged.
    Reconciliation,
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Print the commented default settings file.
    Default,
    /// Print the settings in force after all layers.
    Show,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Listen address.
    #[arg(long)]
    pub listen: Option<String>,
    /// Number of synthetic HCPs.
    #[arg(long, default_value_t = 5000)]
    pub hcps: usize,
    /// Months of history.
    #[arg(long, default_value_t = 6)]
    pub months: u32,
    /// Seed of the synthetic world.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Build the world and exit without serving.
    #[arg(long)]
    pub no_serve: bool,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    #[arg(long, default_value_t = 100_000)]
    pub hcps: usize,
    #[arg(long, default_value_t = 52)]
    pub weeks: u32,
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// default, sparse, noisy, or a TOML file of world parameters.
    #[arg(long, default_value = "default")]
    pub world: String,
    /// Comma-separated: bau, static, loop, ideal, oracle (all by default).
    #[arg(long)]
    pub policies: Option<String>,
    /// Share of HCPs held out as the control group.
    #[arg(long, default_value_t = 0.1)]
    pub holdout: f64,
    /// The closed loop and the oracle weigh each touch's cost against the value of a response
    /// (the world's costs and prescription value) instead of seeking responses alone.
    #[arg(long)]
    pub economics: bool,
    /// Where the CSV and the chart are written.
    #[arg(long, default_value = "simulation")]
    pub out: PathBuf,
    /// Also keep the run in the configured database, for the dashboard's simulator page.
    #[arg(long)]
    pub record: bool,
}
