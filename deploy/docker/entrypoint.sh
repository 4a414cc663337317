#!/bin/sh
# Every container of the image (code servers, daemon, UI, run workers): a portal's environment file,
# when GLYMS_B24_ENV_FILE names one, is read before the command. A run container gets the path (never
# a secret) from its code location's container context, so each portal's run has its own variables.
set -e
if [ -n "$GLYMS_B24_ENV_FILE" ]; then
    set -a
    . "$GLYMS_B24_ENV_FILE"
    set +a
fi
exec "$@"
