-- Issuing fiscal receipts: exactly once per gift, the tax year of the gifts, e-mail delivery.

-- Per gift or once a year in January (the usual choice for monthly donors).
ALTER TABLE organizations
    ADD COLUMN receipt_schedule text NOT NULL DEFAULT 'per_gift'
        CHECK (receipt_schedule IN ('per_gift', 'annual'));

-- The tax year of the gifts a receipt covers (CGI 222 bis counts receipts by it); the
-- numbering year (receipts.year) is the year of issue, which differs for January's
-- annual receipts. Cancellation notices are rendered from the snapshot too: their hash.
ALTER TABLE receipts
    ADD COLUMN fiscal_year integer CHECK (fiscal_year BETWEEN 2000 AND 2200),
    ADD COLUMN cancel_pdf_sha256 char(64),
    ADD CHECK ((status = 'canceled') = (cancel_reason IS NOT NULL));
UPDATE receipts SET fiscal_year = year WHERE fiscal_year IS NULL;
ALTER TABLE receipts ALTER COLUMN fiscal_year SET NOT NULL;
CREATE INDEX receipts_org_fiscal_year ON receipts (organization_id, fiscal_year) WHERE status = 'issued';
-- A cancelled receipt is replaced at most once (a handler run twice issues one number).
CREATE UNIQUE INDEX receipts_replaces_key ON receipts (replaces) WHERE replaces IS NOT NULL;

-- What each receipt certifies for each gift, and whether the link is live: a gift has at
-- most one live receipt, single or annual, never both.
ALTER TABLE receipt_donations
    ADD COLUMN amount_minor bigint CHECK (amount_minor > 0),
    ADD COLUMN active boolean NOT NULL DEFAULT true;
CREATE UNIQUE INDEX receipt_donations_one_live ON receipt_donations (donation_id) WHERE active;

-- E-mails to the donor about a receipt (the receipt itself, then a cancellation notice).
CREATE TABLE receipt_emails (
    organization_id uuid NOT NULL,
    receipt_id      uuid NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('receipt', 'cancellation')),
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed', 'skipped')),
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text,
    sent_at         timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (receipt_id, kind),
    FOREIGN KEY (organization_id, receipt_id) REFERENCES receipts (organization_id, id)
);
