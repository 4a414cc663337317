-- Which of these runs still have a live process (their liveness lock is held by some session).
SELECT r.run_id,
       EXISTS (
           SELECT 1 FROM pg_locks l
           WHERE l.locktype = 'advisory'
             AND l.granted
             AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
             AND l.classid = %(namespace)s::oid
             AND l.objid = hashtext(r.run_id)::oid
             AND l.objsubid = 2
       ) AS alive
FROM unnest(%(run_ids)s::text[]) AS r(run_id);
