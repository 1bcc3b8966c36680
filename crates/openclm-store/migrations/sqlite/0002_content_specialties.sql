-- Content may be meant for some specialties only (a JSON list; empty means all).
ALTER TABLE content ADD COLUMN specialties TEXT NOT NULL DEFAULT '[]';
