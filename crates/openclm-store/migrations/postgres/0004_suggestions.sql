-- Products that must not be promoted to an HCP (JSON list of product ids).
ALTER TABLE hcps ADD COLUMN restricted_products TEXT NOT NULL DEFAULT '[]';

-- Until when an undelivered decision holds its place under the caps and the gap; cleared when
-- a rep dismisses its suggestion or a delivery is reported.
ALTER TABLE decisions ADD COLUMN reserved_until BIGINT;

-- When a rep dismissed the decision's suggestion as wrong for the HCP: that counted as a failed
-- trial, and the decision takes no further credit.
ALTER TABLE decisions ADD COLUMN dismissed_at BIGINT;

-- Field reps: the territories whose HCPs they see and their weekly visit capacity.
CREATE TABLE reps (
    rep_id          TEXT COLLATE "C" PRIMARY KEY,
    name            TEXT NOT NULL,
    territories     TEXT NOT NULL,
    visits_per_week BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

-- One plan per rep and ISO week (e.g. 2026-W48): made once, then read back unchanged.
CREATE TABLE suggestion_plans (
    rep_id  TEXT COLLATE "C" NOT NULL,
    week    TEXT COLLATE "C" NOT NULL,
    made_at BIGINT NOT NULL,
    PRIMARY KEY (rep_id, week)
);

CREATE TABLE suggestions (
    suggestion_id     TEXT COLLATE "C" PRIMARY KEY,
    rep_id            TEXT COLLATE "C" NOT NULL,
    week              TEXT COLLATE "C" NOT NULL,
    hcp_key           BIGINT NOT NULL REFERENCES hcps (hcp_key),
    decision_id       TEXT NOT NULL REFERENCES decisions (decision_id),
    channel           SMALLINT NOT NULL,
    content_id        TEXT NOT NULL,
    -- JSON list of further content ids for the same call.
    key_messages      TEXT NOT NULL,
    score             DOUBLE PRECISION NOT NULL,
    explanation       TEXT NOT NULL,
    -- pending, accepted, dismissed, completed or cancelled.
    status            TEXT NOT NULL,
    reason            TEXT,
    cancelled_because TEXT,
    note              TEXT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX suggestions_plan ON suggestions (rep_id, week);
CREATE INDEX suggestions_week ON suggestions (week);

-- Every content item a suggestion carries, so that a withdrawal finds the open ones at once.
CREATE TABLE suggestion_content (
    content_id    TEXT COLLATE "C" NOT NULL,
    suggestion_id TEXT COLLATE "C" NOT NULL REFERENCES suggestions (suggestion_id),
    PRIMARY KEY (content_id, suggestion_id)
);
