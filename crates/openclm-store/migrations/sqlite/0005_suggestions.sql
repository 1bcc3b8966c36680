-- Products that must not be promoted to an HCP (JSON list of product ids).
ALTER TABLE hcps ADD COLUMN restricted_products TEXT NOT NULL DEFAULT '[]';

-- Until when an undelivered decision holds its place under the caps and the gap; cleared when
-- a rep dismisses its suggestion or a delivery is reported.
ALTER TABLE decisions ADD COLUMN reserved_until INTEGER;

-- When a rep dismissed the decision's suggestion as wrong for the HCP: that counted as a failed
-- trial, and the decision takes no further credit.
ALTER TABLE decisions ADD COLUMN dismissed_at INTEGER;

-- Field reps: the territories whose HCPs they see and their weekly visit capacity.
CREATE TABLE reps (
    rep_id          TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    territories     TEXT NOT NULL,
    visits_per_week INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

-- One plan per rep and ISO week (e.g. 2026-W48): made once, then read back unchanged.
CREATE TABLE suggestion_plans (
    rep_id  TEXT NOT NULL,
    week    TEXT NOT NULL,
    made_at INTEGER NOT NULL,
    PRIMARY KEY (rep_id, week)
);

CREATE TABLE suggestions (
    suggestion_id     TEXT PRIMARY KEY,
    rep_id            TEXT NOT NULL,
    week              TEXT NOT NULL,
    hcp_key           INTEGER NOT NULL REFERENCES hcps (hcp_key),
    decision_id       TEXT NOT NULL REFERENCES decisions (decision_id),
    channel           INTEGER NOT NULL,
    content_id        TEXT NOT NULL,
    -- JSON list of further content ids for the same call.
    key_messages      TEXT NOT NULL,
    score             REAL NOT NULL,
    explanation       TEXT NOT NULL,
    -- pending, accepted, dismissed, completed or cancelled.
    status            TEXT NOT NULL,
    reason            TEXT,
    cancelled_because TEXT,
    note              TEXT,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);
CREATE INDEX suggestions_plan ON suggestions (rep_id, week);
CREATE INDEX suggestions_week ON suggestions (week);

-- Every content item a suggestion carries, so that a withdrawal finds the open ones at once.
CREATE TABLE suggestion_content (
    content_id    TEXT NOT NULL,
    suggestion_id TEXT NOT NULL REFERENCES suggestions (suggestion_id),
    PRIMARY KEY (content_id, suggestion_id)
);
