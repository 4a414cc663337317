-- Whether a table or view exists, e.g. %(relation)s = 'public.cliente'.
SELECT to_regclass(%(relation)s) IS NOT NULL AS present;
