-- Visitors a tracking source knows only by an anonymous id (Segment's `anonymousId`, a browser
-- or device cookie), linked to the user id the source names them by once it identifies them.
-- A link names the source's id space, as external ids do; the latest link of an anonymous id
-- wins (a shared device changes hands).
CREATE TABLE anonymous_links (
    source       TEXT COLLATE "C" NOT NULL,
    anonymous_id TEXT COLLATE "C" NOT NULL,
    user_id      TEXT COLLATE "C" NOT NULL,
    -- Milliseconds since the Unix epoch.
    linked_at    BIGINT NOT NULL,
    PRIMARY KEY (source, anonymous_id)
);
CREATE INDEX anonymous_links_user ON anonymous_links (source, user_id);

-- Events of visitors not yet identified, held whole (an OpenCLM event object without its HCP)
-- until their anonymous id is linked; then they are ingested as the HCP's and removed.
CREATE TABLE anonymous_events (
    source       TEXT COLLATE "C" NOT NULL,
    anonymous_id TEXT COLLATE "C" NOT NULL,
    event_id     TEXT COLLATE "C" NOT NULL,
    received_at  BIGINT NOT NULL,
    payload      TEXT NOT NULL,
    PRIMARY KEY (source, anonymous_id, event_id)
);
