-- Campaign KPIs, kept as events are folded in after they are stored (openclm_core::measure::kpi):
-- a KPI request reads these sums, never the raw events.

-- Counts per slice: day (days since 1970-01-01, UTC) × group (-1: holdout, else the arm) ×
-- wave (0: none) × channel × content ('' for none) × the HCP's specialty and country.
CREATE TABLE campaign_slices (
    campaign_id TEXT NOT NULL,
    day         INTEGER NOT NULL,
    grp         INTEGER NOT NULL,
    wave        INTEGER NOT NULL,
    channel     INTEGER NOT NULL,
    content_id  TEXT NOT NULL,
    specialty   TEXT NOT NULL,
    country     TEXT NOT NULL,
    -- JSON of openclm_core::measure::kpi::Counts.
    counts      TEXT NOT NULL,
    PRIMARY KEY (campaign_id, day, grp, wave, channel, content_id, specialty, country)
);

-- Per member HCP: what reached them and what they did (for reach, responders and their reasons).
CREATE TABLE campaign_hcp (
    campaign_id        TEXT NOT NULL,
    hcp_key            INTEGER NOT NULL,
    grp                INTEGER NOT NULL,
    touches            INTEGER NOT NULL,
    delivered          INTEGER NOT NULL,
    opened             INTEGER NOT NULL,
    engaged            INTEGER NOT NULL,
    responses          INTEGER NOT NULL,
    outcome_units      REAL NOT NULL,
    first_delivered_at INTEGER,
    first_response_at  INTEGER,
    PRIMARY KEY (campaign_id, hcp_key)
);

-- Per group: the sums lift needs, kept exact as each member's totals change (a member whose
-- total goes from a to b adds b - a to the sum and b² - a² to the sum of squares).
CREATE TABLE campaign_group_moments (
    campaign_id   TEXT NOT NULL,
    grp           INTEGER NOT NULL,
    reached       INTEGER NOT NULL,
    responders    INTEGER NOT NULL,
    responses     REAL NOT NULL,
    responses_sq  REAL NOT NULL,
    outcome       REAL NOT NULL,
    outcome_sq    REAL NOT NULL,
    touches       INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, grp)
);

-- Events are folded in seq order, which is commit order here (one writer).
INSERT INTO store_meta (name, value) VALUES ('kpi_folded_upto', 0);

-- Per wave and treated HCP: what the wave decided for them and what came of it, for the
-- responder analysis. The outcome columns are summed by the fold: events of the wave's own
-- touches, and the member's responses up to their next wave.
CREATE TABLE campaign_wave_members (
    campaign_id        TEXT NOT NULL,
    wave               INTEGER NOT NULL,
    hcp_key            INTEGER NOT NULL,
    grp                INTEGER NOT NULL,
    decision_id        TEXT,
    channel            INTEGER,
    content_id         TEXT,
    -- Why nothing was sent: no_consent, capped or not_allowed (null when something was).
    blocked            TEXT,
    delivered          INTEGER NOT NULL DEFAULT 0,
    opened             INTEGER NOT NULL DEFAULT 0,
    engaged            INTEGER NOT NULL DEFAULT 0,
    responses          INTEGER NOT NULL DEFAULT 0,
    first_delivered_at INTEGER,
    PRIMARY KEY (campaign_id, wave, hcp_key)
);
CREATE INDEX campaign_wave_members_hcp ON campaign_wave_members (hcp_key);
