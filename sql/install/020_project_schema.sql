-- The project's own schema: OAuth token store and row-level sync audit.
CREATE SCHEMA IF NOT EXISTS glyms_b24;

-- One row per Bitrix24 portal + OAuth application. Refreshes happen under SELECT ... FOR UPDATE
-- of this row, so concurrent processes never spend the same (single-use) refresh token.
CREATE TABLE IF NOT EXISTS glyms_b24.oauth_token (
    portal_url TEXT NOT NULL,
    client_id TEXT NOT NULL,
    access_token TEXT NOT NULL,
    refresh_token TEXT NOT NULL,
    expires_at TIMESTAMP WITH TIME ZONE NULL,
    member_id TEXT NULL,
    client_endpoint TEXT NULL,
    scope TEXT NULL,
    generation INTEGER NOT NULL DEFAULT 1,
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (portal_url, client_id)
);

-- Every write the pipeline attempts, one row each: what, where, and how it ended. A write is
-- recorded as 'sent' before it leaves and settled (success/failed) after, so a crash in between
-- leaves a truthful 'sent' (outcome unknown), never a write without a row. 'skipped' = not sent.
CREATE TABLE IF NOT EXISTS glyms_b24.sync_audit (
    audit_id BIGSERIAL PRIMARY KEY,
    run_id TEXT NOT NULL,
    entity TEXT NOT NULL,
    glyms_key TEXT NOT NULL,
    bitrix_id TEXT NULL,
    operation TEXT NOT NULL,
    outcome TEXT NOT NULL,
    error TEXT NULL,
    detail JSONB NULL,
    recorded_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP
);
ALTER TABLE glyms_b24.sync_audit ADD COLUMN IF NOT EXISTS settled_at TIMESTAMP WITH TIME ZONE NULL;
CREATE INDEX IF NOT EXISTS ix_sync_audit_run ON glyms_b24.sync_audit (run_id);
CREATE INDEX IF NOT EXISTS ix_sync_audit_key ON glyms_b24.sync_audit (entity, glyms_key, recorded_at);

-- The last writer of each portal. The advisory lock dies with a killed run at once, but a request
-- that run already sent may still be carried out by the portal for a while: the next writer waits
-- until the dead run's last write request (last_write_at) can no longer be in flight.
CREATE TABLE IF NOT EXISTS glyms_b24.portal_writer (
    portal_url TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    acquired_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    last_write_at TIMESTAMP WITH TIME ZONE NULL,
    released_at TIMESTAMP WITH TIME ZONE NULL
);
-- The portal counts requests per portal, not per process: each writer leaves its leaky bucket's
-- level here, and the next one starts from it (drained by the time between) instead of from empty.
ALTER TABLE glyms_b24.portal_writer ADD COLUMN IF NOT EXISTS bucket_level DOUBLE PRECISION NULL;
ALTER TABLE glyms_b24.portal_writer ADD COLUMN IF NOT EXISTS bucket_at TIMESTAMP WITH TIME ZONE NULL;

-- The audit command's newest-first listing and the daily retention prune (oldest first, in batches).
CREATE INDEX IF NOT EXISTS ix_sync_audit_recorded ON glyms_b24.sync_audit (recorded_at);
