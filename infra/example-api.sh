#!/usr/bin/env bash
# `make example-api`: the guard's example API (shared/guard/examples/hello_api.rs) in
# front of a running `make dev` stack, registered there as the resource server
# `example-api` (--introspect: it reads the revocation feed). Safe to run again; Ctrl-C
# stops it.
#
# The same ports as `make dev` (WATCH_PORT, MOTO_PORT); EXAMPLE_API_PORT (9100) is the
# API's. EXAMPLE_API_STATE_DIR (.local) is where the stack's dev.env is read, if there,
# and the API's client secret kept: the tests point it, and the ports, at their own stack.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

MOTO_PORT="${MOTO_PORT:-8000}"
WATCH_PORT="${WATCH_PORT:-9000}"
PORT="${EXAMPLE_API_PORT:-9100}"
STATE="${EXAMPLE_API_STATE_DIR:-$ROOT/.local}"
CLIENT_ID="example-api"
AUDIENCE="https://api.example.com"

# The stack's environment as `make dev` wrote it (table, AWS settings for moto), for
# tokenctl; the ports given here win.
if [[ -f "$STATE/dev.env" ]]; then load_env_file "$STATE/dev.env"; fi
export ISSUER="http://127.0.0.1:$WATCH_PORT"
export DYNAMODB_ENDPOINT="http://127.0.0.1:$MOTO_PORT"

ensure_venv
if ! wait_http "$ISSUER/.well-known/jwks.json" 2 200 2>/dev/null; then
  echo "the token service is not running on $ISSUER (its JWKS does not answer): start it with \`make dev\` in another terminal, then run this again" >&2
  exit 1
fi
if [[ ! -x "$TOKENCTL" ]]; then
  echo "$TOKENCTL is missing: \`make dev\` builds it" >&2
  exit 1
fi
if port_in_use "$PORT"; then
  echo "port $PORT is already in use: set EXAMPLE_API_PORT to another port" >&2
  exit 1
fi

# The secret is made once and kept, so a re-run registers the same credentials (and a
# warm function's cached client record, CLIENT_CACHE_TTL_SECONDS, still matches them).
mkdir -p "$STATE"
SECRET_FILE="$STATE/example-api-secret"
NEW_SECRET=0
if [[ ! -s "$SECRET_FILE" ]]; then
  NEW_SECRET=1
  ( umask 077; "$PY" -c 'import secrets; print(secrets.token_urlsafe(32))' > "$SECRET_FILE" )
fi
chmod 600 "$SECRET_FILE"
SECRET="$(cat "$SECRET_FILE")"
if [[ $NEW_SECRET -eq 1 && "$("$TOKENCTL" client list)" == *"\"client_id\":\"$CLIENT_ID\""* ]]; then
  log "$CLIENT_ID was registered with another secret: warm functions trust their cached record for up to a minute (CLIENT_CACHE_TTL_SECONDS), so the API may take that long to start"
fi
# --replace: a re-run updates the registration instead of failing on the taken id.
"$TOKENCTL" client add "$CLIENT_ID" --replace --secret="$SECRET" --introspect

# Paths as a person types them from the repository root.
DEMO_SECRET="${STATE#"$ROOT"/}/demo-client-secret"
API="http://127.0.0.1:$PORT/hello"
cat <<MSG

  example-api is starting on http://127.0.0.1:$PORT (it listens once it has read the
  revocation feed). GET /hello answers {"sub": …} for a live access token of the issuer
  $ISSUER with audience $AUDIENCE, and refuses a revoked one
  within a second. With the demo client, in a second terminal, from the repository root:

  SECRET=\$(cat $DEMO_SECRET)
  TOKEN=\$(curl -s -u "demo:\$SECRET" -d grant_type=client_credentials $ISSUER/oauth2/token \\
    | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  curl -s -H "Authorization: Bearer \$TOKEN" $API                # {"sub":"demo"}
  curl -s -u "demo:\$SECRET" -d "token=\$TOKEN" $ISSUER/oauth2/revoke
  sleep 1; curl -si -H "Authorization: Bearer \$TOKEN" $API      # 401 invalid_token

MSG
log "starting example-api (the first run compiles it); Ctrl-C stops it"
export EXAMPLE_API_AUDIENCE="$AUDIENCE" EXAMPLE_API_CLIENT_ID="$CLIENT_ID" EXAMPLE_API_CLIENT_SECRET="$SECRET"
export EXAMPLE_API_PORT="$PORT" LOG_FORMAT="${LOG_FORMAT:-text}"
exec cargo run -q -p guard --example hello_api
