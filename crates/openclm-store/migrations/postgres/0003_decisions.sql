-- What the engine has learned: counts per node of the hierarchical model, keyed by the node's
-- 64-bit hash (openclm_core::engine::model::node_key). Updates are increments, so nodes adding
-- to one count at once never lose an update.
CREATE TABLE model_counts (
    node_key  BIGINT PRIMARY KEY,
    trials    DOUBLE PRECISION NOT NULL,
    successes DOUBLE PRECISION NOT NULL
);

-- Every decision the engine made: what it was offered, what it chose and with which
-- probability, and why; outcomes tie back by decision_id: the first delivery event naming the
-- decision adds a trial to its arm's model nodes, the first response within the attribution
-- window a success.
CREATE TABLE decisions (
    decision_id    TEXT COLLATE "C" PRIMARY KEY,
    hcp_key        BIGINT NOT NULL REFERENCES hcps (hcp_key),
    made_at        BIGINT NOT NULL,
    model_version  BIGINT NOT NULL,
    chosen_content TEXT,
    chosen_channel SMALLINT,
    propensity     DOUBLE PRECISION,
    -- The model nodes (global, segment, HCP) of the chosen action's arm, credited by outcomes.
    node_global    BIGINT,
    node_segment   BIGINT,
    node_hcp       BIGINT,
    -- When the chosen action was delivered and when the HCP first responded to it: each is
    -- credited to the model once.
    delivered_at   BIGINT,
    rewarded_at    BIGINT,
    body           TEXT NOT NULL
);
CREATE INDEX decisions_hcp ON decisions (hcp_key, made_at);
