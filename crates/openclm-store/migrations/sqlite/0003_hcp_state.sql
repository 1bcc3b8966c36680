-- A cache of each HCP's living state (the JSON of openclm_core::state::HcpState) folded from
-- its events up to `upto_seq`. Events are the truth: a read folds in the HCP's events after
-- `upto_seq` and writes the result back, so the cache is never stale where it matters and costs
-- the ingest path nothing.
CREATE TABLE hcp_state (
    hcp_key    INTEGER PRIMARY KEY REFERENCES hcps (hcp_key),
    state      TEXT NOT NULL,
    events     INTEGER NOT NULL,
    upto_seq   INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
