//! The unindexed tail: events stored but not yet merged into the lookup tables, held in memory.
//!
//! Every process keeps its own copy and catches it up from `events` (where `seq` only grows) before
//! it relies on it, so several processes on one database file all see every event.

use rusqlite::Connection;
use rustc_hash::FxHashMap as HashMap;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::Result;

/// Reads the shared tail. A panic elsewhere never leaves it half-updated (every change is a
/// single push or a rebuild), so a poisoned lock is taken as it is.
pub(crate) fn read(tail: &RwLock<Tail>) -> RwLockReadGuard<'_, Tail> {
    tail.read().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn write(tail: &RwLock<Tail>) -> RwLockWriteGuard<'_, Tail> {
    tail.write().unwrap_or_else(PoisonError::into_inner)
}

/// Brings the shared tail up to date with the database as `conn` sees it.
pub(crate) fn catch_up(tail: &RwLock<Tail>, conn: &Connection) -> Result<()> {
    let indexed_upto = super::meta_get(conn, "indexed_upto")?;
    write(tail).catch_up(conn, indexed_upto)
}

/// The indexed columns of one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TailEntry {
    pub seq: i64,
    pub key: i64,
    pub hcp_key: i64,
    pub occurred_at: i64,
    pub channel: i64,
    pub kind: i64,
}

const NONE: u32 = u32::MAX;

#[derive(Debug, Default)]
pub(crate) struct Tail {
    /// Ascending by `seq`.
    entries: Vec<TailEntry>,
    /// For each entry, the previous entry with the same key (`NONE` if none): ids rarely
    /// collide, so a chain costs less than a list per key.
    previous_with_key: Vec<u32>,
    /// The last entry with each key.
    by_key: HashMap<i64, u32>,
    by_hcp: HashMap<i64, Vec<u32>>,
    /// Every event with `indexed_upto < seq <= max_seq` is in `entries`.
    max_seq: i64,
    indexed_upto: i64,
}

impl Tail {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn max_seq(&self) -> i64 {
        self.max_seq
    }

    /// Brings the tail up to date with the database as `conn` sees it.
    pub fn catch_up(&mut self, conn: &Connection, indexed_upto: i64) -> Result<()> {
        if indexed_upto > self.indexed_upto {
            self.trim(indexed_upto);
        }
        let mut stmt = conn.prepare_cached(
            "SELECT seq, event_key, hcp_key, occurred_at, channel, type FROM events
             WHERE seq > ?1 ORDER BY seq",
        )?;
        let from = self.max_seq.max(self.indexed_upto);
        let rows = stmt.query_map([from], |r| {
            Ok(TailEntry {
                seq: r.get(0)?,
                key: r.get(1)?,
                hcp_key: r.get(2)?,
                occurred_at: r.get(3)?,
                channel: r.get(4)?,
                kind: r.get(5)?,
            })
        })?;
        for row in rows {
            self.push(row?);
        }
        Ok(())
    }

    /// Adds an event just committed; ignores one already held.
    pub fn push(&mut self, e: TailEntry) {
        if e.seq <= self.max_seq || e.seq <= self.indexed_upto {
            return;
        }
        let at = self.entries.len() as u32;
        let previous = self.by_key.insert(e.key, at).unwrap_or(NONE);
        self.previous_with_key.push(previous);
        self.by_hcp.entry(e.hcp_key).or_default().push(at);
        self.entries.push(e);
        self.max_seq = e.seq;
    }

    /// Sequence numbers of held events whose id hashes to `key`.
    pub fn seqs_with_key(&self, key: i64) -> impl Iterator<Item = i64> + '_ {
        let mut at = self.by_key.get(&key).copied().unwrap_or(NONE);
        std::iter::from_fn(move || {
            let entry = self.entries.get(at as usize)?;
            at = self.previous_with_key[at as usize];
            Some(entry.seq)
        })
    }

    /// Held events of one HCP, in any order.
    pub fn of_hcp(&self, hcp_key: i64) -> impl Iterator<Item = &TailEntry> + '_ {
        self.by_hcp
            .get(&hcp_key)
            .into_iter()
            .flatten()
            .map(|&i| &self.entries[i as usize])
    }

    /// A copy of every held event, for the indexer.
    pub fn snapshot(&self) -> Vec<TailEntry> {
        self.entries.clone()
    }

    /// Gives back memory held beyond what the tail now needs (after a burst of ingest).
    pub fn release_spare(&mut self) {
        self.entries.shrink_to_fit();
        self.previous_with_key.shrink_to_fit();
        self.by_key.shrink_to_fit();
        self.by_hcp.shrink_to_fit();
    }

    /// Drops events now in the lookup tables.
    pub fn trim(&mut self, indexed_upto: i64) {
        self.indexed_upto = self.indexed_upto.max(indexed_upto);
        self.max_seq = self.max_seq.max(self.indexed_upto);
        let keep: Vec<TailEntry> = self
            .entries
            .iter()
            .copied()
            .filter(|e| e.seq > self.indexed_upto)
            .collect();
        // Capacity is kept for the next stretch of ingest; `release_spare` gives it back.
        self.entries.clear();
        self.previous_with_key.clear();
        self.by_key.clear();
        self.by_hcp.clear();
        let max_seq = self.max_seq;
        self.max_seq = self.indexed_upto;
        for e in keep {
            self.push(e);
        }
        self.max_seq = self.max_seq.max(max_seq);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: i64, key: i64, hcp: i64) -> TailEntry {
        TailEntry {
            seq,
            key,
            hcp_key: hcp,
            occurred_at: seq * 10,
            channel: 3,
            kind: 3,
        }
    }

    #[test]
    fn trimming_keeps_only_unindexed_events_and_their_lookups() {
        let mut t = Tail::default();
        for seq in 1..=5 {
            t.push(entry(seq, seq % 2, seq % 3));
        }
        t.push(entry(3, 9, 9)); // already held: ignored
        assert_eq!(t.len(), 5);
        assert_eq!(t.seqs_with_key(1).collect::<Vec<_>>(), vec![5, 3, 1]);
        assert_eq!(t.seqs_with_key(7).count(), 0);
        t.trim(3);
        assert_eq!(t.len(), 2);
        assert_eq!(t.seqs_with_key(1).collect::<Vec<_>>(), vec![5]);
        assert_eq!(t.of_hcp(1).map(|e| e.seq).collect::<Vec<_>>(), vec![4]);
        assert_eq!(t.max_seq(), 5);
        t.push(entry(2, 1, 1)); // below the index mark: ignored
        assert_eq!(t.len(), 2);
    }
}
