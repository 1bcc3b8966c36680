-- Asset bytes kept in the database (the embedded default), content-addressed: a blob's key is the
-- SHA-256 of its bytes in lowercase hex, the same key an S3-compatible object store uses, so the
-- same bytes are stored once. Rows are never changed; what refers to them is decided elsewhere.
CREATE TABLE blobs (
    sha256      TEXT PRIMARY KEY,
    media_type  TEXT NOT NULL,
    size        INTEGER NOT NULL,
    bytes       BLOB NOT NULL,
    stored_at   INTEGER NOT NULL
);
