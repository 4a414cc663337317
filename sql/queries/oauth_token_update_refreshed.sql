-- Replace the pair after a refresh, still under the row lock taken by
-- oauth_token_select_for_update.sql; the generation check makes a lost lock visible.
UPDATE glyms_b24.oauth_token SET
    access_token = %(access_token)s,
    refresh_token = %(refresh_token)s,
    expires_at = %(expires_at)s,
    member_id = COALESCE(%(member_id)s, member_id),
    client_endpoint = COALESCE(%(client_endpoint)s, client_endpoint),
    scope = COALESCE(%(scope)s, scope),
    generation = generation + 1,
    updated_at = CURRENT_TIMESTAMP
WHERE portal_url = %(portal_url)s AND client_id = %(client_id)s AND generation = %(expected_generation)s
RETURNING generation, updated_at
