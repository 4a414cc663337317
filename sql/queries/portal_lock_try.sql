-- Take the portal's writer lock if it is free (session level: it dies with the connection, so a
-- killed run never leaves it held). %(namespace)s keeps our locks apart from anyone else's.
SELECT pg_try_advisory_lock(%(namespace)s, hashtext(%(portal)s)) AS acquired;
