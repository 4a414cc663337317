-- Lock the token row for a refresh: a second process blocks here until the first has stored
-- the rotated pair, then sees the new access token and uses it instead of refreshing again.
SELECT portal_url, client_id, access_token, refresh_token, expires_at, member_id,
       client_endpoint, scope, generation, updated_at
FROM glyms_b24.oauth_token
WHERE portal_url = %(portal_url)s AND client_id = %(client_id)s
FOR UPDATE
