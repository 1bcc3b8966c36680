-- Compliance and governance: people and their sessions, the audit trail, adverse-event cases,
-- the MLR record of content, consent evidence, the send history, erasure and suppression.

CREATE TABLE users (
    user_id       TEXT PRIMARY KEY,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL,
    territories   TEXT NOT NULL DEFAULT '[]',
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    disabled_at   BIGINT,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until  BIGINT
);

-- Only the SHA-256 of a session token is kept; the token itself lives in the client.
CREATE TABLE sessions (
    token_hash   TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (user_id),
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    ended_at     BIGINT
);

-- Append-only and hash-chained (openclm_core::audit): the trigger refuses changes through SQL,
-- and the chain shows any change made around it. Writers take an advisory lock so entries are
-- chained one after another.
CREATE TABLE audit_log (
    seq       BIGINT PRIMARY KEY,
    at        BIGINT NOT NULL,
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
CREATE FUNCTION openclm_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%', TG_ARGV[0];
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION openclm_refuse_change('the audit trail is append-only');

-- Potential adverse events found by screening free text at ingest, in the event's transaction.
-- `received_at` is day zero of the reporting clock; it and the reported text never change.
CREATE TABLE ae_cases (
    case_id      TEXT PRIMARY KEY,
    event_id     TEXT NOT NULL,
    hcp_key      BIGINT NOT NULL,
    source       TEXT NOT NULL,
    field        TEXT NOT NULL,
    received_at  BIGINT NOT NULL,
    due_at       BIGINT NOT NULL,
    text         TEXT NOT NULL,
    findings     TEXT NOT NULL,
    status       TEXT NOT NULL,
    triaged_by   TEXT,
    triaged_at   BIGINT,
    external_ref TEXT,
    triage_note  TEXT,
    alerted_at   BIGINT
);
CREATE INDEX ae_cases_status ON ae_cases (status, due_at);
CREATE TRIGGER ae_cases_day_zero BEFORE UPDATE OF case_id, event_id, hcp_key, source, field, received_at, due_at, text, findings ON ae_cases
FOR EACH ROW EXECUTE FUNCTION openclm_refuse_change('an adverse-event case''s receipt time and reported text are immutable');
CREATE TRIGGER ae_cases_kept BEFORE DELETE ON ae_cases
FOR EACH ROW EXECUTE FUNCTION openclm_refuse_change('adverse-event cases are kept');

CREATE TABLE screening_counts (
    source   TEXT PRIMARY KEY,
    screened BIGINT NOT NULL,
    flagged  BIGINT NOT NULL
);

CREATE TABLE suppressions (
    hash     TEXT PRIMARY KEY,
    reason   TEXT NOT NULL,
    added_at BIGINT NOT NULL
);

CREATE TABLE sends (
    decision_id     TEXT PRIMARY KEY,
    hcp_key         BIGINT NOT NULL,
    content_id      TEXT NOT NULL,
    content_version INTEGER NOT NULL,
    content_hash    TEXT NOT NULL,
    channel         SMALLINT NOT NULL,
    sent_at         BIGINT NOT NULL
);
CREATE INDEX sends_content ON sends (content_id, sent_at);
CREATE INDEX sends_hcp ON sends (hcp_key, sent_at);

ALTER TABLE content ADD COLUMN mlr TEXT NOT NULL DEFAULT '{}';
ALTER TABLE content ADD COLUMN author TEXT;
ALTER TABLE consent_records ADD COLUMN evidence TEXT;
ALTER TABLE consent_records ADD COLUMN notice_version TEXT;
