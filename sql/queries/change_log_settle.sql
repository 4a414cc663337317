-- The outcome of claimed rows (a JSON array, one object per row: parsed far faster than six
-- array parameters of 100,000 elements), only while this run still holds their claim.
-- PENDING again = a transient failure, retried after next_attempt_at; the others are final.
UPDATE f_cliente.sync_log_bitrix24 l
SET sync_status = u.status,
    error_message = u.error,
    processed_timestamp = CASE WHEN u.status = 'PENDING' THEN NULL ELSE CURRENT_TIMESTAMP END,
    attempts = l.attempts + CASE WHEN u.attempted THEN 1 ELSE 0 END,
    next_attempt_at = CASE WHEN u.retry_after_seconds IS NULL THEN NULL
                           ELSE CURRENT_TIMESTAMP + make_interval(secs => u.retry_after_seconds) END,
    bitrix_company_id = COALESCE(u.company_id, l.bitrix_company_id),
    claimed_at = NULL,
    claimed_by = NULL
FROM jsonb_to_recordset(%(rows)s::jsonb)
     AS u(log_id integer, status text, error text, attempted boolean, retry_after_seconds double precision,
          company_id integer)
WHERE l.log_id = u.log_id
  AND l.sync_status = 'CLAIMED'
  AND l.claimed_by = %(run_id)s;
