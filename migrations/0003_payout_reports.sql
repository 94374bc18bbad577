-- Payout reports: the association's chart of accounts for the FEC export, and the indexes
-- the reconciliation and period reports read by.

-- Overrides of the default accounts (donate.domain.payouts.ChartOfAccounts), e.g.
-- {"gifts": "7541", "gifts_company": "7542", "clearing": "58", "bank": "512", "fees": "627"}.
ALTER TABLE organizations
    ADD COLUMN chart_of_accounts jsonb NOT NULL DEFAULT '{}'
        CHECK (jsonb_typeof(chart_of_accounts) = 'object');

-- Which payout a donation went out in (in-transit report), and a period's payouts.
CREATE INDEX payout_lines_donation ON payout_lines (donation_id) WHERE donation_id IS NOT NULL;
CREATE INDEX payouts_org_arrival ON payouts (organization_id, arrival_date);
