-- What the engine has learned: counts per node of the hierarchical model, keyed by the node's
-- 64-bit hash (openclm_core::engine::model::node_key). Updates are increments, so nodes adding
-- to one count at once never lose an update.
CREATE TABLE model_counts (
    node_key  BIGINT PRIMARY KEY,
    trials    DOUBLE PRECISION NOT NULL,
    successes DOUBLE PRECISION NOT NULL
);

-- Every decision the engine made: what it was offered, what it chose and with which
-- probability, and why; outcomes tie back by decision_id.
CREATE TABLE decisions (
    decision_id    TEXT COLLATE "C" PRIMARY KEY,
    hcp_key        BIGINT NOT NULL REFERENCES hcps (hcp_key),
    made_at        BIGINT NOT NULL,
    model_version  BIGINT NOT NULL,
    chosen_content TEXT,
    chosen_channel SMALLINT,
    propensity     DOUBLE PRECISION,
    body           TEXT NOT NULL
);
CREATE INDEX decisions_hcp ON decisions (hcp_key, made_at);
