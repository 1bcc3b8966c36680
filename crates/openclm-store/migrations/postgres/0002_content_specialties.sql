-- Content may be meant for some specialties only (a JSON list; empty means all). Additive: nodes
-- of the previous version keep working while it is applied.
ALTER TABLE content ADD COLUMN specialties TEXT NOT NULL DEFAULT '[]';
