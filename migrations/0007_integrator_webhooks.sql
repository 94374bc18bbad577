-- Webhooks for integrators: endpoints an association registers, and every delivery of an
-- event to one of them (its log, its retry state). Deliveries are written in the same
-- transaction as the state change that emits the event, with one outbox row each.

CREATE TABLE webhook_endpoints (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    url             text NOT NULL CHECK (url ~ '^https?://' AND length(url) <= 2048),
    description     text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    event_types     text[] NOT NULL CHECK (cardinality(event_types) > 0),
    -- Fernet tokens (donate.security.crypto.SecretBox): the association can read its secret
    -- again, so it is encrypted, not hashed. After a rotation the previous secret still
    -- signs (a second v1) until previous_secret_expires_at.
    secret_encrypted bytea NOT NULL,
    previous_secret_encrypted bytea,
    previous_secret_expires_at timestamptz,
    enabled         boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, id),
    CHECK ((previous_secret_encrypted IS NULL) = (previous_secret_expires_at IS NULL))
);
CREATE INDEX webhook_endpoints_org ON webhook_endpoints (organization_id, created_at);

CREATE TABLE webhook_deliveries (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL,
    endpoint_id     uuid NOT NULL,
    event_id        text NOT NULL CHECK (event_id ~ '^evt_[0-9a-f]{32}$'),
    event_type      text NOT NULL,
    payload         jsonb NOT NULL CHECK (jsonb_typeof(payload) = 'object'),  -- the envelope
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'succeeded', 'failed', 'retrying')),
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz,
    -- A worker holds the delivery while its request is in flight; a second run of the job
    -- finds it held (or done) and sends nothing.
    locked_until    timestamptz,
    last_attempt_at timestamptz,
    last_response_status integer,
    last_response_body text CHECK (length(last_response_body) <= 2000),
    last_error      text CHECK (length(last_error) <= 2000),
    replay_of       uuid,                          -- the delivery this one replays
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    FOREIGN KEY (organization_id, endpoint_id)
        REFERENCES webhook_endpoints (organization_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, replay_of)
        REFERENCES webhook_deliveries (organization_id, id) ON DELETE CASCADE,
    UNIQUE (organization_id, id),
    CHECK ((status = 'succeeded') = (delivered_at IS NOT NULL)),
    CHECK (status <> 'retrying' OR next_attempt_at IS NOT NULL)
);
-- An event reaches an endpoint once (event ids are deterministic); replays are extra rows.
CREATE UNIQUE INDEX webhook_deliveries_once ON webhook_deliveries (endpoint_id, event_id)
    WHERE replay_of IS NULL;
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at DESC, id DESC);
