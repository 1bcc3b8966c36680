-- The living state of each HCP (the JSON of openclm_core::state::HcpState), updated in the
-- transaction that stores the events it folds in.
CREATE TABLE hcp_state (
    hcp_key    INTEGER PRIMARY KEY REFERENCES hcps (hcp_key),
    state      TEXT NOT NULL,
    events     INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
