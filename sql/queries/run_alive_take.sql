-- A run's process announces it is alive: a session-level advisory lock keyed by its run id, held
-- on its own connection until the run ends. PostgreSQL drops it when the process dies.
SELECT pg_try_advisory_lock(%(namespace)s, hashtext(%(run_id)s)) AS acquired;
