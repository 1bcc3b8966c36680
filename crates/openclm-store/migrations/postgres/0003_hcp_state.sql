-- The living state of each HCP (the JSON of openclm_core::state::HcpState), updated in the
-- transaction that stores the events it folds in, under a row lock: nodes folding events of one
-- HCP at once wait for each other, so no update is lost.
CREATE TABLE hcp_state (
    hcp_key    BIGINT PRIMARY KEY REFERENCES hcps (hcp_key),
    state      TEXT NOT NULL,
    events     BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
