-- A write request is about to leave: the moment a crash would leave it in flight.
UPDATE glyms_b24.portal_writer SET last_write_at = CURRENT_TIMESTAMP
WHERE portal_url = %(portal)s AND run_id = %(holder)s;
