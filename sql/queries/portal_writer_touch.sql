-- A write request is about to leave: the moment a crash would leave it in flight. The bucket
-- level goes with it (NULL: this process has no bucket for the portal, keep the last one).
UPDATE glyms_b24.portal_writer SET last_write_at = CURRENT_TIMESTAMP,
       bucket_level = COALESCE(%(bucket_level)s, bucket_level),
       bucket_at = CASE WHEN %(bucket_level)s IS NULL THEN bucket_at ELSE CURRENT_TIMESTAMP END
WHERE portal_url = %(portal)s AND run_id = %(holder)s;
