-- Campaigns: the validated definition as JSON (openclm_core::campaign::Campaign).
CREATE TABLE campaigns (
    campaign_id TEXT PRIMARY KEY,
    definition  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- Each wave once: its row is written with the wave's decisions and members in one
-- transaction, so a wave run twice (or on two nodes) decides once.
CREATE TABLE campaign_waves (
    campaign_id TEXT NOT NULL REFERENCES campaigns (campaign_id),
    wave        INTEGER NOT NULL,
    ran_at      INTEGER NOT NULL,
    summary     TEXT NOT NULL,
    PRIMARY KEY (campaign_id, wave)
);

-- The HCPs a campaign's waves targeted, with their group (-1: holdout; else the arm's index)
-- and the first wave that targeted them. The group is a pure function of the two ids; it is
-- stored to be counted and reported.
CREATE TABLE campaign_members (
    campaign_id TEXT NOT NULL,
    hcp_key     INTEGER NOT NULL REFERENCES hcps (hcp_key),
    grp         INTEGER NOT NULL,
    first_wave  INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, hcp_key)
);
CREATE INDEX campaign_members_hcp ON campaign_members (hcp_key);

-- The campaign, wave and arm a decision was made for.
ALTER TABLE decisions ADD COLUMN campaign_id TEXT;
ALTER TABLE decisions ADD COLUMN campaign_wave INTEGER;
ALTER TABLE decisions ADD COLUMN campaign_arm INTEGER;
CREATE INDEX decisions_campaign ON decisions (campaign_id, campaign_wave) WHERE campaign_id IS NOT NULL;
