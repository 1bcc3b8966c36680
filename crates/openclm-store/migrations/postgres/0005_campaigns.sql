-- Campaigns: the validated definition as JSON (openclm_core::campaign::Campaign).
CREATE TABLE campaigns (
    campaign_id TEXT COLLATE "C" PRIMARY KEY,
    definition  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- Each wave once: its row is written with the wave's decisions and members in one
-- transaction, so a wave run twice (or on two nodes) decides once.
CREATE TABLE campaign_waves (
    campaign_id TEXT COLLATE "C" NOT NULL REFERENCES campaigns (campaign_id),
    wave        BIGINT NOT NULL,
    ran_at      BIGINT NOT NULL,
    summary     TEXT NOT NULL,
    PRIMARY KEY (campaign_id, wave)
);

-- The HCPs a campaign's waves targeted, with their group (-1: holdout; else the arm's index)
-- and the first wave that targeted them. The group is a pure function of the two ids; it is
-- stored to be counted and reported.
CREATE TABLE campaign_members (
    campaign_id TEXT COLLATE "C" NOT NULL,
    hcp_key     BIGINT NOT NULL REFERENCES hcps (hcp_key),
    grp         BIGINT NOT NULL,
    first_wave  BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, hcp_key)
);
CREATE INDEX campaign_members_hcp ON campaign_members (hcp_key);

-- The campaign, wave and arm a decision was made for.
ALTER TABLE decisions ADD COLUMN campaign_id TEXT COLLATE "C";
ALTER TABLE decisions ADD COLUMN campaign_wave BIGINT;
ALTER TABLE decisions ADD COLUMN campaign_arm BIGINT;
CREATE INDEX decisions_campaign ON decisions (campaign_id, campaign_wave) WHERE campaign_id IS NOT NULL;
