-- Store a token pair obtained outside a refresh (authorisation code, legacy import).
INSERT INTO glyms_b24.oauth_token AS t
    (portal_url, client_id, access_token, refresh_token, expires_at, member_id, client_endpoint, scope, generation, updated_at)
VALUES
    (%(portal_url)s, %(client_id)s, %(access_token)s, %(refresh_token)s, %(expires_at)s, %(member_id)s,
     %(client_endpoint)s, %(scope)s, 1, CURRENT_TIMESTAMP)
ON CONFLICT (portal_url, client_id) DO UPDATE SET
    access_token = EXCLUDED.access_token,
    refresh_token = EXCLUDED.refresh_token,
    expires_at = EXCLUDED.expires_at,
    member_id = COALESCE(EXCLUDED.member_id, t.member_id),
    client_endpoint = COALESCE(EXCLUDED.client_endpoint, t.client_endpoint),
    scope = COALESCE(EXCLUDED.scope, t.scope),
    generation = t.generation + 1,
    updated_at = CURRENT_TIMESTAMP
RETURNING generation, updated_at
