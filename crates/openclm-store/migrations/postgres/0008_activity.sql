-- The brand's activity over every event, campaign or not, kept as events are folded in after
-- they are stored: the overview reads these sums, never the raw events. Keys and counts only:
-- nothing here names or describes a person.

-- Counts per day (days since 1970-01-01, UTC) and channel (openclm_core::Channel::code).
CREATE TABLE activity_days (
    day     BIGINT NOT NULL,
    channel BIGINT NOT NULL,
    -- JSON of openclm_core::measure::kpi::Counts.
    counts  TEXT NOT NULL,
    PRIMARY KEY (day, channel)
);

-- Counts per content item and slide / key message ('' for the item as a whole), for the
-- content library's performance per item and per slide.
CREATE TABLE activity_content (
    content_id  TEXT NOT NULL,
    key_message TEXT NOT NULL,
    -- JSON of openclm_core::measure::kpi::Counts.
    counts      TEXT NOT NULL,
    PRIMARY KEY (content_id, key_message)
);

-- Deliveries per week and HCP, for reach (distinct HCPs delivered to). Weeks start on Monday:
-- week = floor((day + 3) / 7) (1970-01-01 was a Thursday). A row exists once something was
-- delivered or engaged with; the HCP counts as reached once `delivered` > 0.
CREATE TABLE activity_reach (
    week      BIGINT NOT NULL,
    hcp_key   BIGINT NOT NULL,
    delivered BIGINT NOT NULL,
    -- Engaged reactions of the HCP that week (engagement among the HCPs reached).
    engaged   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (week, hcp_key)
);

-- Folded in the order of the transactions that stored the events, up to the oldest still
-- running, as the campaign KPIs are (kpi_progress), with a cursor of its own starting at the
-- beginning, so that the events stored before this migration are folded in too. Events stored
-- before transaction ids were recorded (migration 6) have none; all are long finished, and they
-- are folded first, in seq order, up to `legacy_upto`, the last of them (0: none), while `xid`
-- is still 0 (no transaction has id 0).
CREATE TABLE activity_progress (
    id          BIGINT PRIMARY KEY CHECK (id = 1),
    xid         xid8 NOT NULL,
    seq         BIGINT NOT NULL,
    legacy_upto BIGINT NOT NULL
);
INSERT INTO activity_progress (id, xid, seq, legacy_upto)
SELECT 1, '0', 0, COALESCE(MAX(seq), 0) FROM events WHERE xid IS NULL;

-- Runs of the simulator, as the dashboard shows them (the latest): synthetic HCPs only.
CREATE TABLE simulation_runs (
    run_id TEXT COLLATE "C" PRIMARY KEY,
    -- Milliseconds since the Unix epoch.
    ran_at BIGINT NOT NULL,
    -- JSON, as the simulator reported it.
    body   TEXT NOT NULL
);
CREATE INDEX simulation_runs_latest ON simulation_runs (ran_at, run_id);
