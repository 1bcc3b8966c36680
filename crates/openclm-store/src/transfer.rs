//! The logical schema both backends share, row by row: what `openclm copy` moves and what the
//! table digests hash. Backend-specific structures (SQLite's lookup tables, its metadata and its
//! cache of HCP state) are not part of it; they are rebuilt from these tables.

use serde::Serialize;
use sha2::{Digest, Sha256};

/// One table of the logical schema: its columns in order, and the key its rows are read in.
#[derive(Debug, Clone, Copy)]
pub struct TableSpec {
    pub name: &'static str,
    pub columns: &'static [&'static str],
    /// Columns of the primary key; rows are read, copied and hashed in this order.
    pub key: &'static [&'static str],
    /// Whether the key is text (ordered byte-wise on both backends) rather than integers.
    pub text_key: bool,
    /// The integer key the database generates, whose counter must move past copied rows.
    pub generated: Option<&'static str>,
}

impl TableSpec {
    pub fn column_list(&self) -> String {
        self.columns.join(", ")
    }

    /// How many rows to fetch at once when reading the table whole: few where each row may be
    /// as large as a blob, so a read never holds much more than one.
    pub fn rows_per_fetch(&self) -> i32 {
        if self.columns.contains(&"bytes") {
            2
        } else {
            10_000
        }
    }
}

/// Every table, parents before children.
pub const TABLES: &[TableSpec] = &[
    TableSpec {
        name: "hcps",
        columns: &[
            "hcp_key",
            "id",
            "name",
            "specialty",
            "country",
            "territory",
            "segments",
            "email",
            "is_stub",
            "created_at",
            "updated_at",
            "restricted_products",
        ],
        key: &["hcp_key"],
        text_key: false,
        generated: Some("hcp_key"),
    },
    TableSpec {
        name: "hcp_external_ids",
        columns: &["system", "external_id", "hcp_key"],
        key: &["system", "external_id"],
        text_key: true,
        generated: None,
    },
    TableSpec {
        name: "content",
        columns: &[
            "id",
            "title",
            "kind",
            "product",
            "topics",
            "language",
            "countries",
            "version",
            "status",
            "approval_code",
            "approved_at",
            "valid_from",
            "expires_at",
            "updated_at",
            "specialties",
            "mlr",
            "author",
        ],
        key: &["id"],
        text_key: true,
        generated: None,
    },
    TableSpec {
        name: "events",
        columns: &[
            "seq",
            "event_id",
            "hcp_key",
            "occurred_at",
            "received_at",
            "channel",
            "type",
            "source",
            "content_id",
            "campaign_id",
            "decision_id",
            "rep_id",
            "payload",
        ],
        key: &["seq"],
        text_key: false,
        generated: Some("seq"),
    },
    TableSpec {
        name: "consent_records",
        columns: &[
            "id",
            "hcp_key",
            "channel",
            "purpose",
            "state",
            "source",
            "event_id",
            "changed_at",
            "recorded_at",
            "evidence",
            "notice_version",
        ],
        key: &["id"],
        text_key: false,
        generated: Some("id"),
    },
    TableSpec {
        name: "api_keys",
        columns: &[
            "key_id",
            "hash",
            "role",
            "label",
            "created_at",
            "revoked_at",
        ],
        key: &["key_id"],
        text_key: true,
        generated: None,
    },
    TableSpec {
        name: "model_counts",
        columns: &["node_key", "trials", "successes"],
        key: &["node_key"],
        text_key: false,
        generated: None,
    },
    TableSpec {
        name: "decisions",
        columns: &[
            "decision_id",
            "hcp_key",
            "made_at",
            "model_version",
            "chosen_content",
            "chosen_channel",
            "propensity",
            "node_global",
            "node_segment",
            "node_hcp",
            "delivered_at",
            "rewarded_at",
            "body",
            "reserved_until",
            "dismissed_at",
            "campaign_id",
            "campaign_wave",
            "campaign_arm",
        ],
        key: &["decision_id"],
        text_key: true,
        generated: None,
    },
    TableSpec {
        name: "reps",
        columns: &[
            "rep_id",
            "name",
            "territories",
            "visits_per_week",
            "updated_at",
        ],
        key: &["rep_id"],
        text_key: true,
        generated: None,
    },
    TableSpec {
        name: "suggestion_plans",
        columns: &["rep_id", "week", "made_at"],
        key: &["rep_id", "week"],
        text_key: true,
        generated: None,
    },
    TableSpec {
        name: "suggestions",
        columns: &[
            "suggestion_id",
            "rep_id",
            "week",
            "hcp_key",
            "decision_id",
            "channel",
            "content_id",
            "key_messages",
            "score",
            "explanation",
            "status",
            "reason",
            "cancelled_because",
            "note",
            "created_at",
            "updated_at",
        ],
        key: &["suggestion_id"],
        text_key: true,
        generated: None,
    },
    TableSpec {
        name: "suggestion_content",
        columns: &["content_id", "suggestion_id"],
        key: &["content_id", "suggestion_id"],
        text_key: true,
        generated: None,
    },
    TableSpec {
        name: "campaigns",
        columns: &["campaign_id", "definition", "created_at", "updated_at"],
        key: &["campaign_id"],
        text_key: true,
        generated: None,
    },
    // Keys of a text and an integer column: the text columns are declared byte-ordered
    // (COLLATE "C") in PostgreSQL, so no collation is added to the order.
    TableSpec {
        name: "campaign_waves",
        columns: &["campaign_id", "wave", "ran_at", "summary"],
        key: &["campaign_id", "wave"],
        text_key: false,
        generated: None,
    },
    TableSpec {
        name: "campaign_members",
        columns: &["campaign_id", "hcp_key", "grp", "first_wave"],
        key: &["campaign_id", "hcp_key"],
        text_key: false,
        generated: None,
    },
    // Governance. Login sessions are not copied: people sign in again on the new database.
    TableSpec {
        name: "users",
        columns: &[
            "user_id",
            "display_name",
            "role",
            "territories",
            "password_hash",
            "created_at",
            "disabled_at",
            "failed_logins",
            "locked_until",
        ],
        key: &["user_id"],
        text_key: true,
        generated: None,
    },
    TableSpec {
        name: "audit_log",
        columns: &[
            "seq",
            "at",
            "actor",
            "action",
            "record",
            "old_value",
            "new_value",
            "reason",
            "prev_hash",
            "hash",
        ],
        key: &["seq"],
        text_key: false,
        generated: None,
    },
    TableSpec {
        name: "ae_cases",
        columns: &[
            "case_id",
            "event_id",
            "hcp_key",
            "source",
            "field",
            "received_at",
            "due_at",
            "text",
            "findings",
            "status",
            "triaged_by",
            "triaged_at",
            "external_ref",
            "triage_note",
            "alerted_at",
        ],
        key: &["case_id"],
        text_key: true,
        generated: None,
    },
    TableSpec {
        name: "screening_counts",
        columns: &["source", "screened", "flagged"],
        key: &["source"],
        text_key: true,
        generated: None,
    },
    TableSpec {
        name: "suppressions",
        columns: &["hash", "reason", "added_at"],
        key: &["hash"],
        text_key: true,
        generated: None,
    },
    TableSpec {
        name: "sends",
        columns: &[
            "decision_id",
            "hcp_key",
            "content_id",
            "content_version",
            "content_hash",
            "channel",
            "sent_at",
        ],
        key: &["decision_id"],
        text_key: true,
        generated: None,
    },
    TableSpec {
        name: "deliveries",
        columns: &[
            "delivery_id",
            "decision_id",
            "hcp_key",
            "channel",
            "content_id",
            "campaign_id",
            "status",
            "attempts",
            "due_at",
            "lease_token",
            "last_error",
            "created_at",
            "updated_at",
        ],
        key: &["delivery_id"],
        text_key: true,
        generated: None,
    },
    // The activity rollup is copied with the events it has folded: the target's cursor is set
    // after them (`PgStore::copy_from_sqlite`), so nothing is counted twice.
    TableSpec {
        name: "activity_days",
        columns: &["day", "channel", "counts"],
        key: &["day", "channel"],
        text_key: false,
        generated: None,
    },
    TableSpec {
        name: "activity_content",
        columns: &["content_id", "key_message", "counts"],
        key: &["content_id", "key_message"],
        text_key: true,
        generated: None,
    },
    TableSpec {
        name: "activity_reach",
        columns: &["week", "hcp_key", "delivered", "engaged"],
        key: &["week", "hcp_key"],
        text_key: false,
        generated: None,
    },
    TableSpec {
        name: "simulation_runs",
        columns: &["run_id", "ran_at", "body"],
        key: &["run_id"],
        text_key: true,
        generated: None,
    },
    TableSpec {
        name: "anonymous_links",
        columns: &["source", "anonymous_id", "user_id", "linked_at"],
        key: &["source", "anonymous_id"],
        text_key: true,
        generated: None,
    },
    TableSpec {
        name: "anonymous_events",
        columns: &[
            "source",
            "anonymous_id",
            "event_id",
            "received_at",
            "payload",
        ],
        key: &["source", "anonymous_id", "event_id"],
        text_key: true,
        generated: None,
    },
    // What the folds set aside goes with the cursors that moved past it.
    TableSpec {
        name: "fold_quarantine",
        columns: &["fold", "seq", "event_id", "reason", "quarantined_at"],
        key: &["fold", "seq"],
        // The fold's names are ASCII, ordered alike by both backends.
        text_key: false,
        generated: None,
    },
    // Asset bytes: few rows, each up to `MAX_BLOB_BYTES`.
    TableSpec {
        name: "blobs",
        columns: &["sha256", "media_type", "size", "bytes", "stored_at"],
        key: &["sha256"],
        text_key: true,
        generated: None,
    },
];

/// A value of the logical schema. Booleans are integers 0 and 1, as SQLite stores them.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    /// Binary data (SQLite's BLOB, PostgreSQL's BYTEA).
    Bytes(Vec<u8>),
}

/// How many rows a table holds and a SHA-256 of all of them in key order: equal digests mean
/// equal contents, whichever backend computed them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableDigest {
    pub table: &'static str,
    pub rows: u64,
    pub sha256: String,
}

/// Hashes rows in an unambiguous encoding (each value tagged and length-prefixed).
pub(crate) struct Digester {
    table: &'static str,
    rows: u64,
    hash: Sha256,
}

impl Digester {
    pub fn new(table: &'static str) -> Self {
        Self {
            table,
            rows: 0,
            hash: Sha256::new(),
        }
    }

    pub fn row(&mut self, cells: &[Cell]) {
        for cell in cells {
            match cell {
                Cell::Null => self.hash.update(b"N"),
                Cell::Int(v) => {
                    self.hash.update(b"I");
                    self.hash.update(v.to_le_bytes());
                }
                Cell::Real(v) => {
                    self.hash.update(b"R");
                    self.hash.update(v.to_bits().to_le_bytes());
                }
                Cell::Text(t) => {
                    self.hash.update(b"T");
                    self.hash.update((t.len() as u64).to_le_bytes());
                    self.hash.update(t.as_bytes());
                }
                Cell::Bytes(b) => {
                    self.hash.update(b"B");
                    self.hash.update((b.len() as u64).to_le_bytes());
                    self.hash.update(b);
                }
            }
        }
        self.hash.update(b"\n");
        self.rows += 1;
    }

    pub fn finish(self) -> TableDigest {
        TableDigest {
            table: self.table,
            rows: self.rows,
            sha256: hex::encode(self.hash.finalize()),
        }
    }
}

/// Appends one row in PostgreSQL's COPY text format.
pub(crate) fn copy_text_row(out: &mut Vec<u8>, cells: &[Cell]) {
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push(b'\t');
        }
        match cell {
            Cell::Null => out.extend_from_slice(b"\\N"),
            Cell::Int(v) => out.extend_from_slice(v.to_string().as_bytes()),
            // Rust prints the shortest text that reads back as the same f64.
            Cell::Real(v) => out.extend_from_slice(v.to_string().as_bytes()),
            Cell::Text(t) => {
                for &b in t.as_bytes() {
                    match b {
                        b'\\' => out.extend_from_slice(b"\\\\"),
                        b'\t' => out.extend_from_slice(b"\\t"),
                        b'\n' => out.extend_from_slice(b"\\n"),
                        b'\r' => out.extend_from_slice(b"\\r"),
                        _ => out.push(b),
                    }
                }
            }
            // BYTEA's hex input form: `\x`, then two digits a byte; its backslash doubled for
            // COPY.
            Cell::Bytes(bytes) => {
                const DIGITS: &[u8; 16] = b"0123456789abcdef";
                out.reserve(3 + 2 * bytes.len());
                out.extend_from_slice(b"\\\\x");
                for &b in bytes {
                    out.push(DIGITS[usize::from(b >> 4)]);
                    out.push(DIGITS[usize::from(b & 0xf)]);
                }
            }
        }
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_what_copy_would_misread() {
        let mut out = Vec::new();
        copy_text_row(
            &mut out,
            &[
                Cell::Int(-7),
                Cell::Null,
                Cell::Text("a\tb\\c\nd\re".into()),
            ],
        );
        assert_eq!(out, b"-7\t\\N\ta\\tb\\\\c\\nd\\re\n");
        let mut out = Vec::new();
        copy_text_row(
            &mut out,
            &[Cell::Bytes(vec![0, 0xab, b'\\']), Cell::Bytes(vec![])],
        );
        assert_eq!(out, b"\\\\x00ab5c\t\\\\x\n");
    }

    #[test]
    fn digests_tell_null_from_empty_and_rows_apart() {
        let digest = |rows: &[&[Cell]]| {
            let mut d = Digester::new("t");
            for r in rows {
                d.row(r);
            }
            d.finish().sha256
        };
        let a = digest(&[&[Cell::Null]]);
        let b = digest(&[&[Cell::Text(String::new())]]);
        assert_ne!(a, b);
        let bytes = digest(&[&[Cell::Bytes(b"ab".to_vec())]]);
        assert_ne!(bytes, digest(&[&[Cell::Text("ab".into())]]));
        let one_row = digest(&[&[Cell::Text("ab".into()), Cell::Text("c".into())]]);
        let moved = digest(&[&[Cell::Text("a".into()), Cell::Text("bc".into())]]);
        assert_ne!(one_row, moved);
        assert_eq!(one_row.len(), 64);
    }
}
