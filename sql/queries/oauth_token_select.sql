-- The stored OAuth tokens of one portal + application (no lock: for the first call of a client).
SELECT portal_url, client_id, access_token, refresh_token, expires_at, member_id,
       client_endpoint, scope, generation, updated_at
FROM glyms_b24.oauth_token
WHERE portal_url = %(portal_url)s AND client_id = %(client_id)s
