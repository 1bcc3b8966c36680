-- Asset bytes kept in the database (the embedded default), content-addressed: a blob's key is the
-- SHA-256 of its bytes in lowercase hex, the same key an S3-compatible object store uses, so the
-- same bytes are stored once. Rows are never changed; what refers to them is decided elsewhere.
-- The bytes are not compressed by PostgreSQL: assets (zip packages, images, video) are already.
CREATE TABLE blobs (
    sha256      TEXT COLLATE "C" PRIMARY KEY,
    media_type  TEXT NOT NULL,
    size        BIGINT NOT NULL,
    bytes       BYTEA NOT NULL,
    stored_at   BIGINT NOT NULL
);
ALTER TABLE blobs ALTER COLUMN bytes SET STORAGE EXTERNAL;
