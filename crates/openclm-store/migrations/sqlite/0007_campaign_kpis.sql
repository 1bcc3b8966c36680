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
