-- Record this run as the portal's writer (under the advisory lock) and return the previous
-- writer's row as it was: a run that never released it died, maybe with a request in flight.
-- The bucket level the previous writer left is kept, with how long ago it left it.
WITH previous AS (
    SELECT run_id, last_write_at, released_at,
           EXTRACT(EPOCH FROM (CURRENT_TIMESTAMP - last_write_at)) AS seconds_since_last_write,
           bucket_level,
           EXTRACT(EPOCH FROM (CURRENT_TIMESTAMP - bucket_at)) AS seconds_since_bucket
    FROM glyms_b24.portal_writer
    WHERE portal_url = %(portal)s
), upsert AS (
    INSERT INTO glyms_b24.portal_writer AS w (portal_url, run_id, acquired_at, last_write_at, released_at)
    VALUES (%(portal)s, %(holder)s, CURRENT_TIMESTAMP, NULL, NULL)
    ON CONFLICT (portal_url) DO UPDATE SET run_id = EXCLUDED.run_id, acquired_at = EXCLUDED.acquired_at,
                                           last_write_at = NULL, released_at = NULL
)
SELECT run_id, last_write_at, released_at, seconds_since_last_write, bucket_level, seconds_since_bucket
FROM previous;
