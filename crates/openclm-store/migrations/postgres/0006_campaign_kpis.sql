-- Campaign KPIs, kept as events are folded in after they are stored (openclm_core::measure::kpi):
-- a KPI request reads these sums, never the raw events.

-- Counts per slice: day (days since 1970-01-01, UTC) × group (-1: holdout, else the arm) ×
-- wave (0: none) × channel × content ('' for none) × the HCP's specialty and country.
CREATE TABLE campaign_slices (
    campaign_id TEXT COLLATE "C" NOT NULL,
    day         BIGINT NOT NULL,
    grp         BIGINT NOT NULL,
    wave        BIGINT NOT NULL,
    channel     BIGINT NOT NULL,
    content_id  TEXT COLLATE "C" NOT NULL,
    specialty   TEXT COLLATE "C" NOT NULL,
    country     TEXT COLLATE "C" NOT NULL,
    -- JSON of openclm_core::measure::kpi::Counts.
    counts      TEXT NOT NULL,
    PRIMARY KEY (campaign_id, day, grp, wave, channel, content_id, specialty, country)
);

-- Per member HCP: what reached them and what they did (for reach, responders and their reasons).
CREATE TABLE campaign_hcp (
    campaign_id        TEXT COLLATE "C" NOT NULL,
    hcp_key            BIGINT NOT NULL,
    grp                BIGINT NOT NULL,
    touches            BIGINT NOT NULL,
    delivered          BIGINT NOT NULL,
    opened             BIGINT NOT NULL,
    engaged            BIGINT NOT NULL,
    responses          BIGINT NOT NULL,
    outcome_units      DOUBLE PRECISION NOT NULL,
    first_delivered_at BIGINT,
    first_response_at  BIGINT,
    PRIMARY KEY (campaign_id, hcp_key)
);

-- Per group: the sums lift needs, kept exact as each member's totals change (a member whose
-- total goes from a to b adds b - a to the sum and b² - a² to the sum of squares).
CREATE TABLE campaign_group_moments (
    campaign_id   TEXT COLLATE "C" NOT NULL,
    grp           BIGINT NOT NULL,
    reached       BIGINT NOT NULL,
    responders    BIGINT NOT NULL,
    responses     DOUBLE PRECISION NOT NULL,
    responses_sq  DOUBLE PRECISION NOT NULL,
    outcome       DOUBLE PRECISION NOT NULL,
    outcome_sq    DOUBLE PRECISION NOT NULL,
    touches       BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, grp)
);

-- Per wave and treated HCP: what the wave decided for them and what came of it, for the
-- responder analysis. The outcome columns are summed by the fold: events of the wave's own
-- touches, and the member's responses up to their next wave.
CREATE TABLE campaign_wave_members (
    campaign_id        TEXT COLLATE "C" NOT NULL,
    wave               BIGINT NOT NULL,
    hcp_key            BIGINT NOT NULL,
    grp                BIGINT NOT NULL,
    decision_id        TEXT COLLATE "C",
    channel            BIGINT,
    content_id         TEXT COLLATE "C",
    -- Why nothing was sent: no_consent, capped or not_allowed (null when something was).
    blocked            TEXT,
    delivered          BIGINT NOT NULL DEFAULT 0,
    opened             BIGINT NOT NULL DEFAULT 0,
    engaged            BIGINT NOT NULL DEFAULT 0,
    responses          BIGINT NOT NULL DEFAULT 0,
    first_delivered_at BIGINT,
    PRIMARY KEY (campaign_id, wave, hcp_key)
);
CREATE INDEX campaign_wave_members_hcp ON campaign_wave_members (hcp_key);

-- Nodes commit in another order than they draw sequence numbers, so events are folded in the
-- order of the transactions that stored them: every transaction older than the oldest still
-- running is finished, and its events are final. Rows stored before this migration have no
-- transaction id; no campaign existed then, so none of them counts.
ALTER TABLE events ADD COLUMN xid xid8;
ALTER TABLE events ALTER COLUMN xid SET DEFAULT pg_current_xact_id();
CREATE INDEX events_xid ON events (xid, seq) WHERE xid IS NOT NULL;

CREATE TABLE kpi_progress (
    id  BIGINT PRIMARY KEY CHECK (id = 1),
    xid xid8 NOT NULL,
    seq BIGINT NOT NULL
);
INSERT INTO kpi_progress (id, xid, seq) VALUES (1, '0', 0);
