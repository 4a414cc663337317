-- How long this transaction waits for a row lock (e.g. '120000ms') before giving up.
SELECT set_config('lock_timeout', %(value)s, true);
