#!/usr/bin/env bash
# `make dev`: the whole stack on this machine. Safe to run again; Ctrl-C stops everything
# it started.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

MOTO_PORT="${MOTO_PORT:-8000}"
WATCH_PORT="${WATCH_PORT:-9000}"
STATE="$ROOT/.local"
mkdir -p "$STATE"
trap 'stop_services' EXIT
trap 'echo; log "stopping (the demo credentials stay in .local/demo-client-secret and .local/demo-password)"; exit 130' INT TERM

ensure_venv
log "building the functions and tokenctl"
build_functions

log "starting the stack (the first start of each function compiles it)"
# --disable-cors: cargo lambda watch's own CORS would answer any origin with credentials;
# the functions answer CORS themselves, as they do in AWS.
start_stack dev "$STATE" "$MOTO_PORT" "$WATCH_PORT" tokens "$STATE/keys.json" --disable-cors
load_env_file "$STATE/dev.env"

# Demo credentials are made once and kept in .local/, so a re-run prints the same ones.
[[ -s "$STATE/demo-client-secret" ]] || "$PY" -c 'import secrets; print(secrets.token_urlsafe(32))' > "$STATE/demo-client-secret"
[[ -s "$STATE/demo-password" ]] || "$PY" -c 'import secrets; print(secrets.token_urlsafe(12))' > "$STATE/demo-password"
chmod 600 "$STATE/demo-client-secret" "$STATE/demo-password"
DEMO_SECRET="$(cat "$STATE/demo-client-secret")"
DEMO_PASSWORD="$(cat "$STATE/demo-password")"
"$TOKENCTL" client add demo --secret="$DEMO_SECRET" \
  --grant client_credentials --grant password --grant refresh_token \
  --scope "openid profile read write" --audience "https://api.example.com"
"$TOKENCTL" user add demo --password="$DEMO_PASSWORD" 2>/dev/null \
  || "$TOKENCTL" user set-password demo --password="$DEMO_PASSWORD"
# A public browser client for the README's sign-in walk-through: its redirect URI is a
# loopback port nothing listens on, so the code stays in the address bar to copy.
"$TOKENCTL" client add demo-spa --public --name "Demo app" \
  --grant authorization_code --grant refresh_token \
  --scope "openid profile read" --audience "https://api.example.com" \
  --redirect-uri "http://127.0.0.1:8080/callback" --post-logout-redirect-uri "http://127.0.0.1:8080/"

# The deployed stack runs logout-retry every minute (EventBridge); so does this one.
start_service "dev-logout-retry" "$STATE/dev-logout-retry.log" \
  "$PY" infra/every_minute.py "http://127.0.0.1:$WATCH_PORT/2015-03-31/functions/logout-retry/invocations"

cat <<MSG

  The token service is running on http://127.0.0.1:$WATCH_PORT (DynamoDB: moto on :$MOTO_PORT).

  demo client:  client_id=demo  client_secret=$DEMO_SECRET
  demo user:    username=demo   password=$DEMO_PASSWORD
  browser sign-in: public client demo-spa (README: "Sign in from a browser")

  curl -s -u demo:$DEMO_SECRET -d grant_type=client_credentials http://127.0.0.1:$WATCH_PORT/oauth2/token
  curl -s -u demo:$DEMO_SECRET -d grant_type=password -d username=demo -d password=$DEMO_PASSWORD \\
       -d 'scope=openid read' http://127.0.0.1:$WATCH_PORT/oauth2/token
  curl -s http://127.0.0.1:$WATCH_PORT/.well-known/jwks.json

  Credentials: .local/demo-client-secret, .local/demo-password
  Function logs: .local/dev-watch.log   logout-retry (every minute): .local/dev-logout-retry.log
  Ctrl-C stops everything.

MSG
start_service "log follower" - tail -n 0 -f "$STATE/dev-watch.log"
wait "$(service_pid dev-watch)"
