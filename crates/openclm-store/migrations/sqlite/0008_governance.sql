-- Compliance and governance: people and their sessions, the audit trail, adverse-event cases,
-- the MLR record of content, consent evidence, the send history, erasure and suppression.

CREATE TABLE users (
    user_id       TEXT PRIMARY KEY,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL,
    territories   TEXT NOT NULL DEFAULT '[]',
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    disabled_at   INTEGER,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until  INTEGER
);

-- Only the SHA-256 of a session token is kept; the token itself lives in the client.
CREATE TABLE sessions (
    token_hash   TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (user_id),
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    ended_at     INTEGER
);

-- Append-only and hash-chained (openclm_core::audit): the triggers refuse changes through SQL,
-- and the chain shows any change made around them.
CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    record    TEXT NOT NULL,
    old_value TEXT,
    new_value TEXT,
    reason    TEXT,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE INDEX audit_log_record ON audit_log (record, seq);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;

-- Potential adverse events found by screening free text at ingest, in the event's transaction.
-- `received_at` is day zero of the reporting clock; it and the reported text never change.
CREATE TABLE ae_cases (
    case_id      TEXT PRIMARY KEY,
    event_id     TEXT NOT NULL,
    hcp_key      INTEGER NOT NULL,
    source       TEXT NOT NULL,
    field        TEXT NOT NULL,
    received_at  INTEGER NOT NULL,
    due_at       INTEGER NOT NULL,
    text         TEXT NOT NULL,
    findings     TEXT NOT NULL,
    status       TEXT NOT NULL,
    triaged_by   TEXT,
    triaged_at   INTEGER,
    external_ref TEXT,
    triage_note  TEXT,
    alerted_at   INTEGER
);
CREATE INDEX ae_cases_status ON ae_cases (status, due_at);
CREATE TRIGGER ae_cases_day_zero BEFORE UPDATE OF case_id, event_id, hcp_key, source, field, received_at, due_at, text, findings ON ae_cases
BEGIN SELECT RAISE(ABORT, 'an adverse-event case''s receipt time and reported text are immutable'); END;
CREATE TRIGGER ae_cases_kept BEFORE DELETE ON ae_cases
BEGIN SELECT RAISE(ABORT, 'adverse-event cases are kept'); END;

-- Per source: free texts screened and flagged (the reconciliation report's first columns).
CREATE TABLE screening_counts (
    source   TEXT PRIMARY KEY,
    screened INTEGER NOT NULL,
    flagged  INTEGER NOT NULL
);

-- Hashed identifiers (openclm_core::privacy::suppression_hash) that imports must not bring back.
CREATE TABLE suppressions (
    hash     TEXT PRIMARY KEY,
    reason   TEXT NOT NULL,
    added_at INTEGER NOT NULL
);

-- Which content version went to which HCP, on which channel, when.
CREATE TABLE sends (
    decision_id     TEXT PRIMARY KEY,
    hcp_key         INTEGER NOT NULL,
    content_id      TEXT NOT NULL,
    content_version INTEGER NOT NULL,
    content_hash    TEXT NOT NULL,
    channel         INTEGER NOT NULL,
    sent_at         INTEGER NOT NULL
);
CREATE INDEX sends_content ON sends (content_id, sent_at);
CREATE INDEX sends_hcp ON sends (hcp_key, sent_at);

ALTER TABLE content ADD COLUMN mlr TEXT NOT NULL DEFAULT '{}';
ALTER TABLE content ADD COLUMN author TEXT;
ALTER TABLE consent_records ADD COLUMN evidence TEXT;
ALTER TABLE consent_records ADD COLUMN notice_version TEXT;
