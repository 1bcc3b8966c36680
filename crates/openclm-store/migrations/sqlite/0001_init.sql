-- OpenCLM SQLite schema, version 1.
--
-- Events are stored in arrival order under a never-reused sequence number and are the only
-- table written per event on the ingest path. Their two lookup structures (by event-id hash for
-- deduplication, by HCP and time for timelines) are filled in large sorted merges by the indexer;
-- events not yet merged (seq > indexed_upto) are held in memory by every process that reads them.

CREATE TABLE hcps (
    hcp_key    INTEGER PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    specialty  TEXT NOT NULL,
    country    TEXT NOT NULL,
    territory  TEXT,
    segments   TEXT NOT NULL DEFAULT '[]',
    email      TEXT,
    is_stub    INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX hcps_territory ON hcps (territory, id);
CREATE INDEX hcps_specialty ON hcps (specialty, id);
CREATE INDEX hcps_country ON hcps (country, id);
CREATE INDEX hcps_email ON hcps (email) WHERE email IS NOT NULL;

CREATE TABLE hcp_external_ids (
    system      TEXT NOT NULL,
    external_id TEXT NOT NULL,
    hcp_key     INTEGER NOT NULL REFERENCES hcps (hcp_key),
    PRIMARY KEY (system, external_id)
) WITHOUT ROWID;
CREATE INDEX hcp_external_ids_hcp ON hcp_external_ids (hcp_key);

CREATE TABLE content (
    id            TEXT PRIMARY KEY,
    title         TEXT NOT NULL,
    kind          TEXT NOT NULL,
    product       TEXT NOT NULL,
    topics        TEXT NOT NULL DEFAULT '[]',
    language      TEXT NOT NULL,
    countries     TEXT NOT NULL DEFAULT '[]',
    version       INTEGER NOT NULL,
    status        TEXT NOT NULL,
    approval_code TEXT,
    approved_at   INTEGER,
    valid_from    INTEGER,
    expires_at    INTEGER,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX content_status ON content (status, id);

CREATE TABLE events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    event_key   INTEGER NOT NULL,
    event_id    TEXT NOT NULL,
    hcp_key     INTEGER NOT NULL,
    occurred_at INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    channel     INTEGER NOT NULL,
    type        INTEGER NOT NULL,
    source      TEXT NOT NULL,
    content_id  TEXT,
    campaign_id TEXT,
    decision_id TEXT,
    rep_id      TEXT,
    payload     TEXT NOT NULL
);

-- Deduplication index: event-id hash -> events.seq (merged by the indexer).
CREATE TABLE event_keys (
    event_key INTEGER NOT NULL,
    seq       INTEGER NOT NULL,
    PRIMARY KEY (event_key, seq)
) WITHOUT ROWID;

-- Timeline index: an HCP's events by time (merged by the indexer).
CREATE TABLE hcp_timeline (
    hcp_key     INTEGER NOT NULL,
    occurred_at INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    channel     INTEGER NOT NULL,
    type        INTEGER NOT NULL,
    PRIMARY KEY (hcp_key, occurred_at, seq)
) WITHOUT ROWID;

CREATE TABLE store_meta (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO store_meta (name, value) VALUES ('indexed_upto', 0), ('hcp_generation', 0);

CREATE TABLE consent_records (
    id         INTEGER PRIMARY KEY,
    hcp_key    INTEGER NOT NULL REFERENCES hcps (hcp_key),
    channel    INTEGER NOT NULL,
    purpose    TEXT NOT NULL,
    state      TEXT NOT NULL,
    source     TEXT NOT NULL,
    event_id   TEXT,
    changed_at INTEGER NOT NULL,
    recorded_at INTEGER NOT NULL
);
CREATE INDEX consent_records_hcp ON consent_records (hcp_key, changed_at);

CREATE TABLE api_keys (
    key_id     TEXT PRIMARY KEY,
    hash       TEXT NOT NULL,
    role       TEXT NOT NULL,
    label      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
