-- The first schema. Money is bigint minor units + char(3) ISO 4217 code.
-- Every association-owned table carries organization_id; child rows reference their parent
-- through (organization_id, id) so a row can never point into another association.

CREATE TABLE organizations (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    slug                 text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$'),
    legal_name           text NOT NULL CHECK (length(legal_name) BETWEEN 1 AND 200),
    address_line1        text NOT NULL,
    address_line2        text,
    postal_code          text NOT NULL,
    city                 text NOT NULL,
    country              char(2) NOT NULL DEFAULT 'FR' CHECK (country ~ '^[A-Z]{2}$'),
    siren                char(9) CHECK (siren ~ '^[0-9]{9}$'),
    rna                  text CHECK (rna ~ '^W[0-9A-Z]{9}$'),
    object               text NOT NULL,
    -- Which box of the CERFA applies (DOMAIN.md mention 4).
    fiscal_qualification text NOT NULL DEFAULT 'interet_general' CHECK (fiscal_qualification IN
                         ('interet_general', 'utilite_publique', 'fondation_utilite_publique',
                          'culte', 'enseignement', 'aide_personnes_difficulte', 'none')),
    utilite_publique_decree text,
    tax_reduction_bps    integer NOT NULL DEFAULT 6600 CHECK (tax_reduction_bps IN (0, 6000, 6600, 7500)),
    cgi_articles         text[] NOT NULL DEFAULT ARRAY['200', '238 bis'],
    receipt_signatory_name text,
    receipt_signatory_role text,
    receipt_signature_png  bytea,
    currency             char(3) NOT NULL DEFAULT 'EUR' CHECK (currency ~ '^[A-Z]{3}$'),
    locale               text NOT NULL DEFAULT 'fr',
    created_at           timestamptz NOT NULL DEFAULT now(),
    -- A French association must be identifiable on its receipts (DOMAIN.md mention 3).
    CHECK (country <> 'FR' OR siren IS NOT NULL OR rna IS NOT NULL),
    CHECK (fiscal_qualification <> 'utilite_publique' OR utilite_publique_decree IS NOT NULL)
);

CREATE TABLE users (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email            text NOT NULL CHECK (email ~ '^[^@\s]+@[^@\s]+$'),
    full_name        text NOT NULL DEFAULT '',
    password_hash    text,
    locale           text NOT NULL DEFAULT 'fr',
    email_verified_at timestamptz,
    totp_secret_encrypted bytea,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE memberships (
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id         uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role            text NOT NULL CHECK (role IN ('owner', 'admin', 'campaigner', 'finance')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, user_id)
);

CREATE TABLE api_keys (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name            text NOT NULL DEFAULT '',
    prefix          text NOT NULL UNIQUE,          -- shown to people, finds the row
    key_hash        bytea NOT NULL CHECK (length(key_hash) = 32),  -- sha256 of the whole key
    role            text NOT NULL DEFAULT 'admin' CHECK (role IN ('admin', 'finance', 'campaigner')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_used_at    timestamptz,
    revoked_at      timestamptz
);

CREATE TABLE provider_accounts (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    provider        text NOT NULL CHECK (provider IN ('stripe', 'mollie')),
    account_id      text NOT NULL,                  -- acct_… / Mollie profile or organization id
    credentials_encrypted bytea,                    -- Fernet token: OAuth token or API key
    livemode        boolean NOT NULL DEFAULT false,
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disconnected')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (provider, account_id),
    UNIQUE (organization_id, provider),
    UNIQUE (organization_id, id)
);

CREATE TABLE campaigns (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    slug            text NOT NULL CHECK (slug ~ '^[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?$'),
    kind            text NOT NULL CHECK (kind IN ('donation', 'crowdfunding')),
    title           text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    story_md        text NOT NULL DEFAULT '',
    cover_url       text,
    currency        char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    goal_minor      bigint CHECK (goal_minor > 0),
    min_amount_minor bigint NOT NULL DEFAULT 100 CHECK (min_amount_minor > 0),
    max_amount_minor bigint NOT NULL DEFAULT 1000000000 CHECK (max_amount_minor >= min_amount_minor),
    suggested_amounts_minor bigint[] NOT NULL DEFAULT '{}' CHECK (0 < ALL (suggested_amounts_minor)),
    frequencies     text[] NOT NULL DEFAULT ARRAY['once']
                    CHECK (frequencies <@ ARRAY['once', 'monthly', 'yearly'] AND cardinality(frequencies) > 0),
    receipt_eligible boolean NOT NULL DEFAULT false,
    status          text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'live', 'closed')),
    starts_at       timestamptz,
    ends_at         timestamptz,
    thank_you_message text NOT NULL DEFAULT '',
    -- Kept exact by services.payments.apply: the sum of donations.counted_minor.
    raised_minor    bigint NOT NULL DEFAULT 0 CHECK (raised_minor >= 0),
    donors_count    integer NOT NULL DEFAULT 0 CHECK (donors_count >= 0),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, slug),
    UNIQUE (organization_id, id),
    CHECK (ends_at IS NULL OR starts_at IS NULL OR ends_at > starts_at),
    CHECK (kind <> 'crowdfunding' OR (goal_minor IS NOT NULL AND ends_at IS NOT NULL))
);

CREATE TABLE tiers (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL,
    campaign_id     uuid NOT NULL,
    title           text NOT NULL,
    description     text NOT NULL DEFAULT '',
    amount_minor    bigint NOT NULL CHECK (amount_minor > 0),
    counterpart_value_minor bigint NOT NULL DEFAULT 0 CHECK (counterpart_value_minor >= 0),
    quantity_limit  integer CHECK (quantity_limit > 0),
    quantity_claimed integer NOT NULL DEFAULT 0 CHECK (quantity_claimed >= 0),
    position        integer NOT NULL DEFAULT 0,
    FOREIGN KEY (organization_id, campaign_id) REFERENCES campaigns (organization_id, id) ON DELETE CASCADE,
    UNIQUE (organization_id, id),
    -- Stock can't be oversold.
    CHECK (quantity_limit IS NULL OR quantity_claimed <= quantity_limit)
);

CREATE TABLE donors (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    email           text NOT NULL CHECK (email ~ '^[^@\s]+@[^@\s]+$'),
    first_name      text NOT NULL DEFAULT '',
    last_name       text NOT NULL DEFAULT '',
    company_name    text,
    legal_form      text,
    siren           char(9) CHECK (siren ~ '^[0-9]{9}$'),
    address_line1   text NOT NULL DEFAULT '',
    address_line2   text,
    postal_code     text NOT NULL DEFAULT '',
    city            text NOT NULL DEFAULT '',
    country         char(2) NOT NULL DEFAULT 'FR',
    locale          text NOT NULL DEFAULT 'fr',
    erased_at       timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, id)
);
CREATE UNIQUE INDEX donors_org_email_key ON donors (organization_id, lower(email));

CREATE TABLE donations (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL,
    campaign_id     uuid NOT NULL,
    donor_id        uuid NOT NULL,
    tier_id         uuid,
    tier_held       boolean NOT NULL DEFAULT false,  -- holds one unit of the tier's stock
    amount_minor    bigint NOT NULL CHECK (amount_minor > 0),      -- the gift itself
    currency        char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    frequency       text NOT NULL DEFAULT 'once' CHECK (frequency IN ('once', 'monthly', 'yearly')),
    tip_minor       bigint NOT NULL DEFAULT 0 CHECK (tip_minor >= 0),        -- to the platform, opt-in
    fee_cover_minor bigint NOT NULL DEFAULT 0 CHECK (fee_cover_minor >= 0),  -- "cover the fees"
    platform_fee_minor bigint NOT NULL DEFAULT 0 CHECK (platform_fee_minor >= 0),
    provider        text NOT NULL CHECK (provider IN ('stripe', 'mollie')),
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN
                    ('pending', 'paid', 'failed', 'canceled', 'refunded', 'partially_refunded', 'disputed')),
    -- What this donation adds to its campaign's raised_minor right now (0 unless paid).
    counted_minor   bigint NOT NULL DEFAULT 0 CHECK (counted_minor >= 0 AND counted_minor <= amount_minor),
    wants_receipt   boolean NOT NULL DEFAULT false,
    anonymous       boolean NOT NULL DEFAULT false,
    hide_amount     boolean NOT NULL DEFAULT false,
    message         text CHECK (length(message) <= 1000),
    locale          text NOT NULL DEFAULT 'fr',
    expires_at      timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (organization_id, campaign_id) REFERENCES campaigns (organization_id, id),
    FOREIGN KEY (organization_id, donor_id) REFERENCES donors (organization_id, id),
    FOREIGN KEY (organization_id, tier_id) REFERENCES tiers (organization_id, id),
    UNIQUE (organization_id, id)
);
CREATE INDEX donations_org_created ON donations (organization_id, created_at DESC);
CREATE INDEX donations_campaign ON donations (campaign_id, status);
CREATE INDEX donations_pending_expiry ON donations (expires_at) WHERE status = 'pending';

CREATE TABLE donation_status_history (
    id              bigserial PRIMARY KEY,
    organization_id uuid NOT NULL,
    donation_id     uuid NOT NULL,
    from_status     text,
    to_status       text NOT NULL,
    source          text NOT NULL CHECK (source IN ('checkout', 'webhook', 'return', 'reconcile', 'api', 'expiry', 'admin')),
    provider_event_id text,
    detail          jsonb NOT NULL DEFAULT '{}',
    at              timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (organization_id, donation_id) REFERENCES donations (organization_id, id)
);
CREATE INDEX donation_status_history_donation ON donation_status_history (donation_id, id);

-- One provider payment attempt (a Checkout Session + PaymentIntent, a Mollie payment).
CREATE TABLE payments (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL,
    donation_id     uuid NOT NULL,
    provider        text NOT NULL CHECK (provider IN ('stripe', 'mollie')),
    provider_account_id text NOT NULL,
    checkout_id     text,               -- cs_… / tr_…
    provider_payment_id text,           -- pi_… / tr_…
    status          text NOT NULL DEFAULT 'open' CHECK (status IN
                    ('open', 'pending', 'paid', 'failed', 'canceled', 'expired')),
    amount_minor    bigint NOT NULL CHECK (amount_minor > 0),   -- charged: gift + tip + covered fees
    currency        char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    refunded_minor  bigint NOT NULL DEFAULT 0 CHECK (refunded_minor >= 0 AND refunded_minor <= amount_minor),
    disputed_minor  bigint NOT NULL DEFAULT 0 CHECK (disputed_minor >= 0 AND disputed_minor <= amount_minor),
    fee_minor       bigint CHECK (fee_minor >= 0),
    method          text,
    paid_at         timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (organization_id, donation_id) REFERENCES donations (organization_id, id),
    UNIQUE (provider, checkout_id),
    UNIQUE (provider, provider_payment_id),
    UNIQUE (organization_id, id)
);
CREATE INDEX payments_donation ON payments (donation_id);
CREATE INDEX payments_open ON payments (created_at) WHERE status IN ('open', 'pending');

CREATE TABLE refunds (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL,
    donation_id     uuid NOT NULL,
    payment_id      uuid NOT NULL,
    provider        text NOT NULL,
    provider_refund_id text,
    amount_minor    bigint NOT NULL CHECK (amount_minor > 0),
    currency        char(3) NOT NULL,
    status          text NOT NULL CHECK (status IN ('requested', 'pending', 'succeeded', 'failed', 'canceled')),
    origin          text NOT NULL CHECK (origin IN ('api', 'dashboard', 'admin')),
    requested_by    text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (organization_id, payment_id) REFERENCES payments (organization_id, id),
    FOREIGN KEY (organization_id, donation_id) REFERENCES donations (organization_id, id),
    UNIQUE (provider, provider_refund_id)
);

CREATE TABLE disputes (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL,
    donation_id     uuid NOT NULL,
    payment_id      uuid NOT NULL,
    provider        text NOT NULL,
    provider_dispute_id text NOT NULL,
    amount_minor    bigint NOT NULL CHECK (amount_minor > 0),
    currency        char(3) NOT NULL,
    status          text NOT NULL CHECK (status IN ('open', 'won', 'lost')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (organization_id, payment_id) REFERENCES payments (organization_id, id),
    FOREIGN KEY (organization_id, donation_id) REFERENCES donations (organization_id, id),
    UNIQUE (provider, provider_dispute_id)
);

-- Raw provider webhooks, stored before anything else happens. Platform-owned: the
-- association is only known once the event is processed.
CREATE TABLE provider_events (
    id              bigserial PRIMARY KEY,
    provider        text NOT NULL CHECK (provider IN ('stripe', 'mollie')),
    event_id        text NOT NULL,
    event_type      text NOT NULL,
    account         text,
    object_id       text NOT NULL,
    payment_ref     text,                          -- cs_/pi_/tr_ the event is about, when known
    donation_ref    text,                          -- metadata.donation_id, when present
    organization_id uuid REFERENCES organizations(id),
    payload         bytea NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    processed_at    timestamptz,
    UNIQUE (provider, event_id)
);

-- Transactional outbox: work to do after a commit. The relay moves rows to arq.
CREATE TABLE outbox (
    id              bigserial PRIMARY KEY,
    organization_id uuid REFERENCES organizations(id),
    task            text NOT NULL,
    payload         jsonb NOT NULL DEFAULT '{}',
    dedup_key       text UNIQUE,                 -- "only once" work (receipt for donation X)
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'enqueued', 'done', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    available_at    timestamptz NOT NULL DEFAULT now(),
    enqueued_at     timestamptz,
    done_at         timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_todo ON outbox (available_at) WHERE status IN ('pending', 'enqueued');

CREATE TABLE receipt_sequences (
    organization_id uuid NOT NULL REFERENCES organizations(id),
    year            integer NOT NULL CHECK (year BETWEEN 2000 AND 2200),
    last_number     integer NOT NULL DEFAULT 0 CHECK (last_number >= 0),
    PRIMARY KEY (organization_id, year)
);

CREATE TABLE receipts (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations(id),
    year            integer NOT NULL,
    seq             integer NOT NULL CHECK (seq > 0),
    number          text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('single', 'annual')),
    form            text NOT NULL CHECK (form IN ('11580', '16216')),
    donor_id        uuid NOT NULL,
    amount_minor    bigint NOT NULL CHECK (amount_minor > 0),
    currency        char(3) NOT NULL,
    snapshot        jsonb NOT NULL,
    pdf_sha256      char(64) NOT NULL,
    status          text NOT NULL DEFAULT 'issued' CHECK (status IN ('issued', 'canceled')),
    replaces        uuid REFERENCES receipts(id),
    issued_at       timestamptz NOT NULL DEFAULT now(),
    canceled_at     timestamptz,
    cancel_reason   text,
    FOREIGN KEY (organization_id, donor_id) REFERENCES donors (organization_id, id),
    UNIQUE (organization_id, year, seq),
    UNIQUE (organization_id, number),
    UNIQUE (organization_id, id),
    CHECK ((status = 'canceled') = (canceled_at IS NOT NULL))
);

CREATE TABLE receipt_donations (
    organization_id uuid NOT NULL,
    receipt_id      uuid NOT NULL,
    donation_id     uuid NOT NULL,
    PRIMARY KEY (receipt_id, donation_id),
    FOREIGN KEY (organization_id, receipt_id) REFERENCES receipts (organization_id, id),
    FOREIGN KEY (organization_id, donation_id) REFERENCES donations (organization_id, id)
);

CREATE TABLE payouts (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations(id),
    provider        text NOT NULL CHECK (provider IN ('stripe', 'mollie')),
    provider_payout_id text NOT NULL,
    amount_minor    bigint NOT NULL,              -- signed: a negative balance is debited
    currency        char(3) NOT NULL,
    status          text NOT NULL,
    arrival_date    date,
    created_at      timestamptz NOT NULL DEFAULT now(),
    synced_at       timestamptz,
    UNIQUE (provider, provider_payout_id),
    UNIQUE (organization_id, id)
);

CREATE TABLE payout_lines (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL,
    payout_id       uuid NOT NULL,
    provider_line_id text NOT NULL,
    kind            text NOT NULL,
    source_id       text,
    payment_ref     text,
    donation_id     uuid,
    gross_minor     bigint NOT NULL,
    fee_minor       bigint NOT NULL,
    net_minor       bigint NOT NULL,
    currency        char(3) NOT NULL,
    occurred_at     timestamptz,
    description     text NOT NULL DEFAULT '',
    FOREIGN KEY (organization_id, payout_id) REFERENCES payouts (organization_id, id),
    FOREIGN KEY (organization_id, donation_id) REFERENCES donations (organization_id, id),
    UNIQUE (payout_id, provider_line_id),
    CHECK (net_minor = gross_minor - fee_minor)
);

CREATE TABLE idempotency_keys (
    scope           text NOT NULL,
    key             text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_hash    char(64) NOT NULL,
    status_code     integer,
    response        jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);

CREATE TABLE audit_log (
    id              bigserial PRIMARY KEY,
    organization_id uuid REFERENCES organizations(id),
    actor           text NOT NULL,               -- "user:…", "api_key:…", "system", "provider:stripe"
    action          text NOT NULL,
    target_type     text NOT NULL,
    target_id       text,
    data            jsonb NOT NULL DEFAULT '{}',
    at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_org ON audit_log (organization_id, at DESC);
