-- Events a fold set aside instead of counting: a payload that no longer parses (e.g. a number
-- beyond the bounds later versions enforce at ingest), or a contribution the database refused.
-- The fold's cursor moves past them, so one event never stops the KPIs or the activity rollup;
-- this lists them for people to look at. Keys and reasons only, never the payload.
CREATE TABLE fold_quarantine (
    -- 'campaign_kpis' or 'activity': each fold sets an event aside on its own.
    fold           TEXT NOT NULL,
    seq            INTEGER NOT NULL,
    event_id       TEXT,
    reason         TEXT NOT NULL,
    -- Milliseconds since 1970-01-01 (UTC), the database's clock.
    quarantined_at INTEGER NOT NULL
        DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
    PRIMARY KEY (fold, seq)
);
CREATE INDEX fold_quarantine_newest ON fold_quarantine (quarantined_at);
