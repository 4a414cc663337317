-- What waits in the change log: pending rows (due or not), the oldest pending change, claims in
-- flight, and rows parked in ERROR after their last attempt. Reads only the partial indexes' rows.
SELECT
    (SELECT count(*) FROM f_cliente.sync_log_bitrix24 WHERE sync_status = 'PENDING') AS pending,
    (SELECT min(change_timestamp) FROM f_cliente.sync_log_bitrix24 WHERE sync_status = 'PENDING') AS oldest_pending,
    (SELECT count(*) FROM f_cliente.sync_log_bitrix24 WHERE sync_status = 'CLAIMED') AS claimed,
    (SELECT count(*) FROM f_cliente.sync_log_bitrix24
     WHERE sync_status = 'ERROR' AND attempts >= %(max_attempts)s) AS parked;
