-- Report exports built by the worker: a large report (a year of gifts as XLSX takes minutes)
-- is requested, generated in the background with its progress, then kept a few days for
-- download. The file lives in PostgreSQL as ~1 MB chunks, so the web and worker processes
-- share it without a shared disk and a download streams it back one chunk at a time.

CREATE TABLE report_exports (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    -- Who asked: the audit log's actor, ``user:{id}`` or ``api_key:{id}``.
    requested_by    text NOT NULL CHECK (requested_by ~ '^(user|api_key):[0-9a-f-]{36}$'),
    -- {kind: payout|period|in_transit|fec, format, payout_id, from, to, sep, lang}
    spec            jsonb NOT NULL CHECK (jsonb_typeof(spec) = 'object'
                                          AND spec->>'kind' IN ('payout', 'period', 'in_transit', 'fec')),
    status          text NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'running', 'done', 'failed', 'expired')),
    -- Each run takes the next attempt number; chunks carry it, so a run that lost the export
    -- to a newer one (worker presumed dead) can never mix its bytes into the newer file.
    attempt         integer NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    rows_done       bigint NOT NULL DEFAULT 0 CHECK (rows_done >= 0),
    rows_total      bigint CHECK (rows_total >= 0),
    error           text CHECK (length(error) <= 2000),
    file_name       text NOT NULL CHECK (length(file_name) BETWEEN 1 AND 200),
    content_type    text NOT NULL,
    size_bytes      bigint CHECK (size_bytes >= 0),
    chunks          integer CHECK (chunks >= 0),
    sha256          char(64),
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    heartbeat_at    timestamptz,                  -- a live run touches it every few seconds
    finished_at     timestamptz,
    expires_at      timestamptz,
    UNIQUE (organization_id, id),
    CHECK (status <> 'done' OR (size_bytes IS NOT NULL AND chunks IS NOT NULL
                                AND sha256 IS NOT NULL AND expires_at IS NOT NULL)),
    CHECK (status <> 'failed' OR error IS NOT NULL),
    CHECK (status <> 'running' OR heartbeat_at IS NOT NULL)
);
CREATE INDEX report_exports_org ON report_exports (organization_id, created_at DESC, id DESC);
CREATE INDEX report_exports_expiry ON report_exports (expires_at) WHERE status = 'done';
CREATE INDEX report_exports_live ON report_exports (heartbeat_at)
    WHERE status IN ('queued', 'running');

CREATE TABLE report_export_chunks (
    organization_id uuid NOT NULL,
    export_id       uuid NOT NULL,
    attempt         integer NOT NULL CHECK (attempt > 0),
    seq             integer NOT NULL CHECK (seq >= 0),
    data            bytea NOT NULL CHECK (length(data) BETWEEN 1 AND 4194304),
    PRIMARY KEY (export_id, attempt, seq),
    FOREIGN KEY (organization_id, export_id)
        REFERENCES report_exports (organization_id, id) ON DELETE CASCADE
);
-- XLSX is a zip already: out of line without trying pglz on every megabyte.
ALTER TABLE report_export_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
