-- Change log of public.cliente, filled by triggers (the seed's DDL, made idempotent).
CREATE SCHEMA IF NOT EXISTS f_cliente;

CREATE TABLE IF NOT EXISTS f_cliente.sync_log_bitrix24 (
    log_id SERIAL PRIMARY KEY,
    id_cliente INTEGER NOT NULL,
    operation_type VARCHAR(10) NOT NULL,
    change_timestamp TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,
    sync_status VARCHAR(20) DEFAULT 'PENDING',
    processed_timestamp TIMESTAMP WITH TIME ZONE NULL,
    error_message TEXT NULL
);

-- Columns the change-log consumer needs beyond the seed's: claims, retries, outcome.
ALTER TABLE f_cliente.sync_log_bitrix24 ADD COLUMN IF NOT EXISTS attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE f_cliente.sync_log_bitrix24 ADD COLUMN IF NOT EXISTS claimed_at TIMESTAMP WITH TIME ZONE NULL;
ALTER TABLE f_cliente.sync_log_bitrix24 ADD COLUMN IF NOT EXISTS claimed_by TEXT NULL;
ALTER TABLE f_cliente.sync_log_bitrix24 ADD COLUMN IF NOT EXISTS next_attempt_at TIMESTAMP WITH TIME ZONE NULL;
ALTER TABLE f_cliente.sync_log_bitrix24 ADD COLUMN IF NOT EXISTS bitrix_company_id INTEGER NULL;
ALTER TABLE f_cliente.sync_log_bitrix24 ADD COLUMN IF NOT EXISTS dagster_run_id TEXT NULL;

-- The pending-row queries (sensor count, claim) read only this small slice.
CREATE INDEX IF NOT EXISTS ix_sync_log_bitrix24_pending
    ON f_cliente.sync_log_bitrix24 (log_id)
    WHERE sync_status = 'PENDING';
CREATE INDEX IF NOT EXISTS ix_sync_log_bitrix24_cliente
    ON f_cliente.sync_log_bitrix24 (id_cliente, log_id);
-- Claims in flight (a lease returns those of a run that died) and rows that ended in ERROR
-- (parked ones are counted by a check): both small slices of a table that only grows.
CREATE INDEX IF NOT EXISTS ix_sync_log_bitrix24_claimed
    ON f_cliente.sync_log_bitrix24 (claimed_at)
    WHERE sync_status = 'CLAIMED';
CREATE INDEX IF NOT EXISTS ix_sync_log_bitrix24_error
    ON f_cliente.sync_log_bitrix24 (log_id)
    WHERE sync_status = 'ERROR';

CREATE OR REPLACE FUNCTION f_cliente.fn_log_btrix24_cliente_changes()
RETURNS TRIGGER AS $$
BEGIN
    IF (TG_OP = 'INSERT') THEN
        INSERT INTO f_cliente.sync_log_bitrix24 (id_cliente, operation_type) VALUES (NEW.id_cliente, 'INSERT');
        RETURN NEW;
    ELSIF (TG_OP = 'UPDATE') THEN
        INSERT INTO f_cliente.sync_log_bitrix24 (id_cliente, operation_type) VALUES (NEW.id_cliente, 'UPDATE');
        RETURN NEW;
    ELSIF (TG_OP = 'DELETE') THEN
        INSERT INTO f_cliente.sync_log_bitrix24 (id_cliente, operation_type) VALUES (OLD.id_cliente, 'DELETE');
        RETURN OLD;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

-- Drop-and-create keeps the three triggers exactly as specified even when an older
-- definition exists under the same name.
DROP TRIGGER IF EXISTS trg_cliente_sync_b24_insert ON public.cliente;
CREATE TRIGGER trg_cliente_sync_b24_insert AFTER INSERT ON public.cliente
    FOR EACH ROW EXECUTE FUNCTION f_cliente.fn_log_btrix24_cliente_changes();
DROP TRIGGER IF EXISTS trg_cliente_sync_b24_update ON public.cliente;
CREATE TRIGGER trg_cliente_sync_b24_update AFTER UPDATE ON public.cliente
    FOR EACH ROW EXECUTE FUNCTION f_cliente.fn_log_btrix24_cliente_changes();
DROP TRIGGER IF EXISTS trg_cliente_sync_b24_delete ON public.cliente;
CREATE TRIGGER trg_cliente_sync_b24_delete AFTER DELETE ON public.cliente
    FOR EACH ROW EXECUTE FUNCTION f_cliente.fn_log_btrix24_cliente_changes();
