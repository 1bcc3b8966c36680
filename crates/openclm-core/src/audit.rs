//! The audit trail's entries and their hash chain: how an entry's hash is made and how a chain
//! is checked for altered or deleted entries.
//!
//! Each entry's hash covers its own fields and the previous entry's hash, so changing or removing
//! any entry breaks the chain at that point. (Removing the newest entries leaves a shorter, valid
//! chain; the head `audit verify` prints is what an auditor keeps elsewhere to catch that.)

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::Timestamp;

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A change to record, before it has a place in the chain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewAudit {
    /// Who: `user:<id>`, `key:<id>`, `cli:<os user>` or `system`.
    pub actor: String,
    /// What: `create`, `update`, `delete`, `approve`, `withdraw`, `export`, ….
    pub action: String,
    /// Which record: `<kind>/<id>`, e.g. `content/email-1`, `hcp/42`, `user/alice`.
    pub record: String,
    pub old_value: Option<serde_json::Value>,
    pub new_value: Option<serde_json::Value>,
    /// Why, where the operation requires a reason (withdrawal, erasure, triage).
    pub reason: Option<String>,
}

impl NewAudit {
    pub fn new(actor: &str, action: &str, record: impl Into<String>) -> Self {
        Self {
            actor: actor.to_owned(),
            action: action.to_owned(),
            record: record.into(),
            old_value: None,
            new_value: None,
            reason: None,
        }
    }

    pub fn old(mut self, value: impl Serialize) -> Self {
        self.old_value = serde_json::to_value(value).ok();
        self
    }

    pub fn new_value(mut self, value: impl Serialize) -> Self {
        self.new_value = serde_json::to_value(value).ok();
        self
    }

    pub fn reason(mut self, reason: Option<String>) -> Self {
        self.reason = reason;
        self
    }
}

/// An entry as stored: values as JSON text, exactly the bytes the hash covers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: Timestamp,
    pub actor: String,
    pub action: String,
    pub record: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub reason: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditEntry {
    /// Places `new` in the chain after `prev_hash` as entry `seq`.
    pub fn chain(new: NewAudit, seq: i64, at: Timestamp, prev_hash: &str) -> Self {
        let mut entry = AuditEntry {
            seq,
            at,
            actor: new.actor,
            action: new.action,
            record: new.record,
            old_value: new.old_value.map(|v| v.to_string()),
            new_value: new.new_value.map(|v| v.to_string()),
            reason: new.reason,
            prev_hash: prev_hash.to_owned(),
            hash: String::new(),
        };
        entry.hash = entry.computed_hash();
        entry
    }

    /// SHA-256 over the previous hash and every field, each length-prefixed so that no two
    /// different entries hash the same bytes.
    pub fn computed_hash(&self) -> String {
        let mut h = Sha256::new();
        let mut field = |bytes: Option<&[u8]>| match bytes {
            None => h.update(b"-"),
            Some(b) => {
                h.update((b.len() as u64).to_le_bytes());
                h.update(b);
            }
        };
        field(Some(self.prev_hash.as_bytes()));
        field(Some(&self.seq.to_le_bytes()));
        field(Some(&self.at.millis().to_le_bytes()));
        field(Some(self.actor.as_bytes()));
        field(Some(self.action.as_bytes()));
        field(Some(self.record.as_bytes()));
        field(self.old_value.as_deref().map(str::as_bytes));
        field(self.new_value.as_deref().map(str::as_bytes));
        field(self.reason.as_deref().map(str::as_bytes));
        hex::encode(h.finalize())
    }
}

/// What `verify` found wrong, naming the entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ChainProblem {
    /// The entry's fields no longer give its hash.
    Altered { seq: i64, record: String },
    /// Entries between two surviving ones are gone.
    Deleted { from_seq: i64, to_seq: i64 },
    /// The entry does not follow the one before it (its `prev_hash` was changed, or the entry
    /// before it was replaced).
    Relinked { seq: i64, record: String },
}

impl std::fmt::Display for ChainProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChainProblem::Altered { seq, record } => {
                write!(
                    f,
                    "entry {seq} ({record}) was altered: its hash does not match its fields"
                )
            }
            ChainProblem::Deleted { from_seq, to_seq } if from_seq == to_seq => {
                write!(f, "entry {from_seq} was deleted")
            }
            ChainProblem::Deleted { from_seq, to_seq } => {
                write!(f, "entries {from_seq} to {to_seq} were deleted")
            }
            ChainProblem::Relinked { seq, record } => write!(
                f,
                "entry {seq} ({record}) does not follow the entry before it"
            ),
        }
    }
}

/// Checks a chain read in `seq` order, one entry at a time (so any length fits in memory).
#[derive(Debug, Default)]
pub struct ChainCheck {
    last: Option<(i64, String)>,
    pub entries: u64,
    pub problems: Vec<ChainProblem>,
}

impl ChainCheck {
    pub fn push(&mut self, e: &AuditEntry) {
        self.entries += 1;
        let (expected_seq, expected_prev) = match &self.last {
            None => (1, GENESIS.to_owned()),
            Some((seq, hash)) => (seq + 1, hash.clone()),
        };
        if e.seq > expected_seq {
            self.problems.push(ChainProblem::Deleted {
                from_seq: expected_seq,
                to_seq: e.seq - 1,
            });
        } else if e.prev_hash != expected_prev {
            self.problems.push(ChainProblem::Relinked {
                seq: e.seq,
                record: e.record.clone(),
            });
        }
        if e.computed_hash() != e.hash {
            self.problems.push(ChainProblem::Altered {
                seq: e.seq,
                record: e.record.clone(),
            });
        }
        self.last = Some((e.seq, e.hash.clone()));
    }

    /// The newest entry's sequence number and hash: what to keep outside the database.
    pub fn head(&self) -> Option<(i64, &str)> {
        self.last.as_ref().map(|(s, h)| (*s, h.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chain(n: i64) -> Vec<AuditEntry> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let e = AuditEntry::chain(
                    NewAudit::new("user:alice", "update", format!("content/c{seq}"))
                        .old(json!({"title": "A"}))
                        .new_value(json!({"title": "B"})),
                    seq,
                    Timestamp::from_millis(1_000 * seq),
                    &prev,
                );
                prev = e.hash.clone();
                e
            })
            .collect()
    }

    fn check(entries: &[AuditEntry]) -> Vec<ChainProblem> {
        let mut c = ChainCheck::default();
        entries.iter().for_each(|e| c.push(e));
        c.problems
    }

    #[test]
    fn a_sound_chain_verifies() {
        let entries = chain(5);
        assert_eq!(check(&entries), []);
        assert_eq!(entries[0].prev_hash, GENESIS);
        assert_eq!(entries[1].prev_hash, entries[0].hash);
    }

    #[test]
    fn an_altered_entry_is_named() {
        let mut entries = chain(5);
        entries[2].new_value = Some(r#"{"title":"C"}"#.into());
        assert_eq!(
            check(&entries),
            [ChainProblem::Altered {
                seq: 3,
                record: "content/c3".into()
            }]
        );
    }

    #[test]
    fn a_deleted_entry_is_named_and_so_is_a_rehashed_forgery() {
        let mut entries = chain(5);
        entries.remove(1);
        assert_eq!(
            check(&entries),
            [ChainProblem::Deleted {
                from_seq: 2,
                to_seq: 2
            }]
        );
        // A forger who rewrites an entry and recomputes its hash still breaks the next link.
        let mut entries = chain(5);
        entries[1].actor = "user:mallory".into();
        entries[1].hash = entries[1].computed_hash();
        assert_eq!(
            check(&entries),
            [ChainProblem::Relinked {
                seq: 3,
                record: "content/c3".into()
            }]
        );
    }

    #[test]
    fn fields_cannot_be_shifted_between_each_other() {
        let a = AuditEntry::chain(
            NewAudit::new("ab", "c", "r"),
            1,
            Timestamp::from_millis(0),
            GENESIS,
        );
        let b = AuditEntry::chain(
            NewAudit::new("a", "bc", "r"),
            1,
            Timestamp::from_millis(0),
            GENESIS,
        );
        assert_ne!(a.hash, b.hash);
    }
}
