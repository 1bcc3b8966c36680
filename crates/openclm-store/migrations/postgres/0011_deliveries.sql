-- The outbound delivery queue: one row per decision a delivery system is to send, written in the
-- transaction that logs the decision, so a logged decision is never lost to the queue.
-- Decisions logged before this migration are not queued: sending them now, perhaps weeks late,
-- is not what anyone decided.
-- `due_at` is when the item may next be offered; while leased to a sender it is the lease's end,
-- so an expired lease offers the item again without a sweep. `lease_token` names the current
-- lease: an answer carrying another token is stale. Senders claim with FOR UPDATE SKIP LOCKED,
-- so several nodes never lease one item at once.
CREATE TABLE deliveries (
    delivery_id  TEXT COLLATE "C" PRIMARY KEY,
    decision_id  TEXT COLLATE "C" NOT NULL UNIQUE REFERENCES decisions (decision_id),
    hcp_key      BIGINT NOT NULL REFERENCES hcps (hcp_key),
    channel      SMALLINT NOT NULL,
    content_id   TEXT NOT NULL,
    campaign_id  TEXT,
    status       TEXT NOT NULL,
    attempts     BIGINT NOT NULL,
    due_at       BIGINT NOT NULL,
    lease_token  TEXT,
    -- The last failure (a status code or an error kind) or the reason of a cancellation; never a
    -- receiver's body.
    last_error   TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (due_at) WHERE status = 'pending';
CREATE INDEX deliveries_status ON deliveries (status, delivery_id);
CREATE INDEX deliveries_content ON deliveries (content_id) WHERE status = 'pending';
