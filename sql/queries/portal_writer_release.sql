-- The writer ends cleanly: none of its requests is in flight any more. It leaves its bucket level
-- for the next writer (NULL: this process has no bucket for the portal, keep the last one).
UPDATE glyms_b24.portal_writer SET released_at = CURRENT_TIMESTAMP,
       bucket_level = COALESCE(%(bucket_level)s, bucket_level),
       bucket_at = CASE WHEN %(bucket_level)s IS NULL THEN bucket_at ELSE CURRENT_TIMESTAMP END
WHERE portal_url = %(portal)s AND run_id = %(holder)s;
