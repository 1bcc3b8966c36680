-- An HCP's suggestions (their profile shows reps' feedback) without reading every plan.
CREATE INDEX suggestions_hcp ON suggestions (hcp_key, updated_at);
