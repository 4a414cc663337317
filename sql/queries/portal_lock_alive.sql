-- Whether this session still holds the portal's writer lock (checked before every write slice).
SELECT EXISTS (
    SELECT 1 FROM pg_locks l
    WHERE l.locktype = 'advisory' AND l.granted AND l.pid = pg_backend_pid()
      AND l.classid = %(namespace)s::oid AND l.objid = hashtext(%(portal)s)::oid AND l.objsubid = 2
) AS held;
