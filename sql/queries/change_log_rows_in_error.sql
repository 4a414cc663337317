-- Change-log rows in ERROR that nothing has put right since, whatever their attempts (a data
-- error is final at its first attempt): not requeued, and no later change of the same customer
-- processed (that one brought the company in step). The first %(limit)s, with the total.
SELECT e.log_id, e.id_cliente, e.operation_type, e.attempts, e.error_message, e.processed_timestamp,
       count(*) OVER () AS total
FROM f_cliente.sync_log_bitrix24 e
WHERE e.sync_status = 'ERROR'
  AND NOT EXISTS (SELECT 1 FROM f_cliente.sync_log_bitrix24 later
                  WHERE later.id_cliente = e.id_cliente AND later.log_id > e.log_id
                    AND later.sync_status = 'PROCESSED')
ORDER BY e.log_id
LIMIT %(limit)s;
