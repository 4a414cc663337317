-- The writer ends cleanly: none of its requests is in flight any more.
UPDATE glyms_b24.portal_writer SET released_at = CURRENT_TIMESTAMP
WHERE portal_url = %(portal)s AND run_id = %(holder)s;
