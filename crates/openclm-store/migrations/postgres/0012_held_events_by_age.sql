-- Events held for anonymous visitors expire: found by their age, per source.
CREATE INDEX anonymous_events_age ON anonymous_events (source, received_at);
