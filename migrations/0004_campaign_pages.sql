-- Campaign pages: news the association publishes on a campaign, and whether the campaign
-- shows its donor wall at all (each donor's own choice is donations.anonymous / hide_amount).

ALTER TABLE campaigns ADD COLUMN show_donor_wall boolean NOT NULL DEFAULT true;
ALTER TABLE campaigns ADD CONSTRAINT campaigns_cover_url_https
    CHECK (cover_url IS NULL OR cover_url ~ '^(https://|/)');

CREATE TABLE campaign_updates (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL,
    campaign_id     uuid NOT NULL,
    title           text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    body_md         text NOT NULL DEFAULT '' CHECK (length(body_md) <= 20000),
    -- NULL while a draft: only published updates are public.
    published_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (organization_id, campaign_id) REFERENCES campaigns (organization_id, id)
        ON DELETE CASCADE,
    UNIQUE (organization_id, id)
);
CREATE INDEX campaign_updates_public ON campaign_updates (campaign_id, published_at DESC)
    WHERE published_at IS NOT NULL;

-- The donor wall reads the latest paid gifts of a campaign.
CREATE INDEX donations_campaign_wall ON donations (campaign_id, created_at DESC)
    WHERE counted_minor > 0;
