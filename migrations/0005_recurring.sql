-- Recurring gifts: one plan per provider subscription, its status history, and each cycle's
-- payment as a donation of its own (so campaign totals, receipts and payout reports see a
-- renewal exactly like a one-off gift). Reminders sent about a plan are recorded once each.

CREATE TABLE recurring_plans (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations(id),
    campaign_id     uuid NOT NULL,
    donor_id        uuid NOT NULL,
    first_donation_id uuid NOT NULL UNIQUE,   -- the checkout that started the plan
    provider        text NOT NULL CHECK (provider IN ('stripe', 'mollie')),
    provider_account_id text NOT NULL,        -- acct_… / pfl_… the plan lives on
    provider_subscription_id text,            -- sub_…, once the provider created it
    provider_customer_id text,                -- cus_… / cst_…
    amount_minor    bigint NOT NULL CHECK (amount_minor > 0),          -- the gift each cycle
    tip_minor       bigint NOT NULL DEFAULT 0 CHECK (tip_minor >= 0),
    fee_cover_minor bigint NOT NULL DEFAULT 0 CHECK (fee_cover_minor >= 0),
    currency        char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    frequency       text NOT NULL CHECK (frequency IN ('monthly', 'yearly')),
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN
                    ('pending', 'active', 'failing', 'lapsed', 'paused', 'canceled')),
    failure_count   integer NOT NULL DEFAULT 0 CHECK (failure_count >= 0),
    next_charge_date date,
    next_retry_at   timestamptz,
    -- How the plan is paid, for the donor space and the reminders (never a full number).
    method_kind     text,
    card_brand      text,
    card_last4      text CHECK (card_last4 ~ '^[0-9]{4}$'),
    card_exp_month  integer CHECK (card_exp_month BETWEEN 1 AND 12),
    card_exp_year   integer CHECK (card_exp_year BETWEEN 2000 AND 2200),
    mandate_id      text,
    mandate_reference text,
    wants_receipt   boolean NOT NULL DEFAULT false,
    locale          text NOT NULL DEFAULT 'fr',
    ended_at        timestamptz,
    ended_by        text CHECK (ended_by IN ('donor', 'association', 'provider', 'dunning')),
    synced_at       timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (organization_id, campaign_id) REFERENCES campaigns (organization_id, id),
    FOREIGN KEY (organization_id, donor_id) REFERENCES donors (organization_id, id),
    FOREIGN KEY (organization_id, first_donation_id) REFERENCES donations (organization_id, id),
    UNIQUE (provider, provider_subscription_id),
    UNIQUE (organization_id, id),
    CHECK ((status IN ('canceled', 'lapsed')) = (ended_at IS NOT NULL))
);
CREATE INDEX recurring_plans_org_status ON recurring_plans (organization_id, status, created_at DESC);
CREATE INDEX recurring_plans_donor ON recurring_plans (donor_id);
CREATE INDEX recurring_plans_customer ON recurring_plans (provider, provider_customer_id);
CREATE INDEX recurring_plans_live ON recurring_plans (next_charge_date)
    WHERE status IN ('active', 'failing', 'paused');

CREATE TABLE recurring_plan_history (
    id              bigserial PRIMARY KEY,
    organization_id uuid NOT NULL,
    plan_id         uuid NOT NULL,
    from_status     text,
    to_status       text NOT NULL,
    source          text NOT NULL CHECK (source IN
                    ('checkout', 'webhook', 'reconcile', 'donor', 'api', 'dunning')),
    provider_event_id text,
    detail          jsonb NOT NULL DEFAULT '{}',
    at              timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (organization_id, plan_id) REFERENCES recurring_plans (organization_id, id)
);
CREATE INDEX recurring_plan_history_plan ON recurring_plan_history (plan_id, id);

-- Every cycle is a donation attached to its plan; a renewal payment is recorded once
-- (payments' UNIQUE (provider, provider_payment_id), and the invoice of a Stripe cycle).
ALTER TABLE donations ADD COLUMN recurring_plan_id uuid;
ALTER TABLE donations ADD CONSTRAINT donations_recurring_plan_fk
    FOREIGN KEY (organization_id, recurring_plan_id) REFERENCES recurring_plans (organization_id, id);
CREATE INDEX donations_recurring_plan ON donations (recurring_plan_id, created_at)
    WHERE recurring_plan_id IS NOT NULL;
ALTER TABLE payments ADD COLUMN provider_invoice_id text;
ALTER TABLE payments ADD CONSTRAINT payments_provider_invoice_key UNIQUE (provider, provider_invoice_id);

-- Reminders and notices about a plan, each sent once: a SEPA pre-notification per debit
-- date, a card expiry reminder per card, a dunning e-mail per failed attempt.
CREATE TABLE recurring_notices (
    organization_id uuid NOT NULL,
    plan_id         uuid NOT NULL,
    kind            text NOT NULL CHECK (kind IN
                    ('payment_failed', 'lapsed', 'sepa_prenotice', 'card_expiry')),
    cycle_key       text NOT NULL,        -- debit date, card expiry, invoice attempt…
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'skipped')),
    sent_at         timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (plan_id, kind, cycle_key),
    FOREIGN KEY (organization_id, plan_id) REFERENCES recurring_plans (organization_id, id)
);

-- The association's SEPA creditor identifier, printed on pre-notifications.
ALTER TABLE organizations ADD COLUMN sepa_creditor_id text
    CHECK (sepa_creditor_id ~ '^[A-Z]{2}[0-9]{2}[A-Z0-9]{1,31}$');

-- The donor space finds a person's gifts across associations by e-mail.
CREATE INDEX donors_lower_email ON donors (lower(email));
