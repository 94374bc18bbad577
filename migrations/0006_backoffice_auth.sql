-- Back-office accounts: server-side sessions, single-use e-mail tokens, invitations, the
-- association's branding, and pending Stripe Connect onboarding.
-- Secrets (session tokens, e-mail tokens, invitation tokens) are stored as SHA-256 only.

CREATE TABLE user_sessions (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    token_hash      bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    user_id         uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- The association last worked on: where /admin sends the user.
    organization_id uuid REFERENCES organizations(id) ON DELETE SET NULL,
    -- Password checked, second factor not yet: the session opens nothing but the TOTP form.
    mfa_pending     boolean NOT NULL DEFAULT false,
    -- A TOTP secret being set up, shown once and confirmed with a code (Fernet).
    totp_pending_encrypted bytea,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    revoked_at      timestamptz,
    ip              text,
    user_agent      text CHECK (length(user_agent) <= 300),
    CHECK (expires_at > created_at)
);
CREATE INDEX user_sessions_user ON user_sessions (user_id, last_seen_at DESC)
    WHERE revoked_at IS NULL;

CREATE TABLE user_tokens (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose         text NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
    token_hash      bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    expires_at      timestamptz NOT NULL,
    used_at         timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX user_tokens_user ON user_tokens (user_id, purpose) WHERE used_at IS NULL;

CREATE TABLE invitations (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    email           text NOT NULL CHECK (email ~ '^[^@\s]+@[^@\s]+$'),
    role            text NOT NULL CHECK (role IN ('owner', 'admin', 'campaigner', 'finance')),
    -- Set by the job that e-mails the link: the plain token never rests in the database.
    token_hash      bytea UNIQUE CHECK (length(token_hash) = 32),
    invited_by      uuid REFERENCES users(id) ON DELETE SET NULL,
    expires_at      timestamptz NOT NULL,
    accepted_at     timestamptz,
    accepted_by     uuid REFERENCES users(id) ON DELETE SET NULL,
    revoked_at      timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, id),
    CHECK (accepted_at IS NULL OR revoked_at IS NULL)
);
-- One open invitation per address and association.
CREATE UNIQUE INDEX invitations_open ON invitations (organization_id, lower(email))
    WHERE accepted_at IS NULL AND revoked_at IS NULL;

ALTER TABLE users
    -- The last TOTP time step accepted: a code cannot be replayed.
    ADD COLUMN totp_last_step bigint,
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();

ALTER TABLE organizations
    ADD COLUMN logo_png bytea CHECK (length(logo_png) <= 1048576),
    ADD COLUMN color_primary text NOT NULL DEFAULT '#1f6f4a' CHECK (color_primary ~ '^#[0-9a-f]{6}$'),
    ADD COLUMN color_accent text NOT NULL DEFAULT '#f2b705' CHECK (color_accent ~ '^#[0-9a-f]{6}$'),
    ADD CONSTRAINT organizations_signature_size CHECK (length(receipt_signature_png) <= 1048576);

-- A Stripe account whose onboarding is not finished yet takes no payment.
ALTER TABLE provider_accounts DROP CONSTRAINT provider_accounts_status_check;
ALTER TABLE provider_accounts ADD CONSTRAINT provider_accounts_status_check
    CHECK (status IN ('active', 'pending', 'disconnected'));
