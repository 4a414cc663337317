-- Retention, dry run: how many audit rows were recorded before the cutoff.
SELECT count(*) AS rows FROM glyms_b24.sync_audit WHERE recorded_at < %(cutoff)s;
