-- What the engine has learned: counts per node of the hierarchical model, keyed by the node's
-- 64-bit hash (openclm_core::engine::model::node_key). Updates are increments, so they commute.
CREATE TABLE model_counts (
    node_key  INTEGER PRIMARY KEY,
    trials    REAL NOT NULL,
    successes REAL NOT NULL
);

-- Every decision the engine made: what it was offered, what it chose and with which
-- probability, and why; outcomes tie back by decision_id: the first delivery event naming the
-- decision adds a trial to its arm's model nodes, the first response within the attribution
-- window a success.
CREATE TABLE decisions (
    decision_id    TEXT PRIMARY KEY,
    hcp_key        INTEGER NOT NULL REFERENCES hcps (hcp_key),
    made_at        INTEGER NOT NULL,
    model_version  INTEGER NOT NULL,
    chosen_content TEXT,
    chosen_channel INTEGER,
    propensity     REAL,
    -- The model nodes (global, segment, HCP) of the chosen action's arm, credited by outcomes.
    node_global    INTEGER,
    node_segment   INTEGER,
    node_hcp       INTEGER,
    -- When the chosen action was delivered and when the HCP first responded to it: each is
    -- credited to the model once.
    delivered_at   INTEGER,
    rewarded_at    INTEGER,
    body           TEXT NOT NULL
);
CREATE INDEX decisions_hcp ON decisions (hcp_key, made_at);
