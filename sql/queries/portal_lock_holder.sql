-- Who holds the portal's writer lock: the session's application_name names the run.
SELECT a.pid, a.application_name, a.backend_start, a.client_addr::text AS client_addr
FROM pg_locks l
JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory'
  AND l.granted
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.classid = %(namespace)s::oid
  AND l.objid = hashtext(%(portal)s)::oid
  AND l.objsubid = 2;
