-- Visitors a tracking source knows only by an anonymous id (Segment's `anonymousId`, a browser
-- or device cookie), linked to the user id the source names them by once it identifies them.
-- A link names the source's id space, as external ids do; the latest link of an anonymous id
-- wins (a shared device changes hands).
CREATE TABLE anonymous_links (
    source       TEXT NOT NULL,
    anonymous_id TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    linked_at    INTEGER NOT NULL,
    PRIMARY KEY (source, anonymous_id)
) WITHOUT ROWID;
CREATE INDEX anonymous_links_user ON anonymous_links (source, user_id);

-- Events of visitors not yet identified, held whole (an OpenCLM event object without its HCP)
-- until their anonymous id is linked; then they are ingested as the HCP's and removed.
CREATE TABLE anonymous_events (
    source       TEXT NOT NULL,
    anonymous_id TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    received_at  INTEGER NOT NULL,
    payload      TEXT NOT NULL,
    PRIMARY KEY (source, anonymous_id, event_id)
) WITHOUT ROWID;
