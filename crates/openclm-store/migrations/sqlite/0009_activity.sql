-- The brand's activity over every event, campaign or not, kept as events are folded in after
-- they are stored: the overview reads these sums, never the raw events. Keys and counts only:
-- nothing here names or describes a person.

-- Counts per day (days since 1970-01-01, UTC) and channel (openclm_core::Channel::code).
CREATE TABLE activity_days (
    day     INTEGER NOT NULL,
    channel INTEGER NOT NULL,
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
-- week = (day + 3) / 7, rounded down (1970-01-01 was a Thursday). A row exists once something
-- was delivered or engaged with; the HCP counts as reached once `delivered` > 0.
CREATE TABLE activity_reach (
    week      INTEGER NOT NULL,
    hcp_key   INTEGER NOT NULL,
    delivered INTEGER NOT NULL,
    -- Engaged reactions of the HCP that week (engagement among the HCPs reached).
    engaged   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (week, hcp_key)
);

-- Events are folded in seq order, which is commit order here (one writer). From the first, so
-- that the events stored before this migration are folded in too.
INSERT INTO store_meta (name, value) VALUES ('activity_folded_upto', 0);

-- Runs of the simulator, as the dashboard shows them (the latest): synthetic HCPs only.
CREATE TABLE simulation_runs (
    run_id TEXT PRIMARY KEY,
    -- Milliseconds since the Unix epoch.
    ran_at INTEGER NOT NULL,
    -- JSON, as the simulator reported it.
    body   TEXT NOT NULL
);
CREATE INDEX simulation_runs_latest ON simulation_runs (ran_at, run_id);
