-- What the engine has learned: counts per node of the hierarchical model, keyed by the node's
-- 64-bit hash (openclm_core::engine::model::node_key). Updates are increments, so they commute.
CREATE TABLE model_counts (
    node_key  INTEGER PRIMARY KEY,
    trials    REAL NOT NULL,
    successes REAL NOT NULL
);

-- Every decision the engine made: what it was offered, what it chose and with which
-- probability, and why; outcomes tie back by decision_id.
CREATE TABLE decisions (
    decision_id    TEXT PRIMARY KEY,
    hcp_key        INTEGER NOT NULL REFERENCES hcps (hcp_key),
    made_at        INTEGER NOT NULL,
    model_version  INTEGER NOT NULL,
    chosen_content TEXT,
    chosen_channel INTEGER,
    propensity     REAL,
    body           TEXT NOT NULL
);
CREATE INDEX decisions_hcp ON decisions (hcp_key, made_at);
