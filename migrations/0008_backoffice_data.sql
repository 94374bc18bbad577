-- Back-office data: campaign cover images (uploaded, checked, re-encoded to PNG) and the
-- bookkeeping of donor erasure (GDPR art. 17). An erased donor's row is pseudonymised at
-- once; what issued receipts must keep (their snapshots, LPF L102 E: 6 years) is purged
-- by a daily job once ``erasure_due_at`` has passed.

CREATE TABLE campaign_images (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL,
    campaign_id     uuid NOT NULL,
    png             bytea NOT NULL CHECK (length(png) BETWEEN 1 AND 4194304),
    sha256          char(64) NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (organization_id, campaign_id) REFERENCES campaigns (organization_id, id)
        ON DELETE CASCADE,
    UNIQUE (organization_id, id)
);
CREATE INDEX campaign_images_campaign ON campaign_images (campaign_id, created_at DESC);

ALTER TABLE donors
    -- When the receipts' retention ends (latest issue + 6 years); NULL: nothing kept.
    ADD COLUMN erasure_due_at timestamptz,
    -- When what was kept for the receipts was purged too: erasure complete.
    ADD COLUMN purged_at timestamptz,
    ADD CONSTRAINT donors_erasure_steps
        CHECK (erased_at IS NOT NULL OR (erasure_due_at IS NULL AND purged_at IS NULL));
CREATE INDEX donors_erasure_due ON donors (erasure_due_at)
    WHERE erased_at IS NOT NULL AND purged_at IS NULL;
CREATE INDEX donors_org_created ON donors (organization_id, created_at DESC, id DESC);
