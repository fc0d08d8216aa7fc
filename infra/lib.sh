# The one recipe for a local stack, shared by `make dev`, `make test` and the benches:
# the project-local venv, moto, the table, the key set, cargo lambda watch.
# Each service runs in its own session (setsid) so that stopping it stops its children
# (cargo lambda watch spawns cargo and the function binaries), and is known by name.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
TOKENCTL="$ROOT/target/debug/tokenctl"
declare -A SERVICE_PIDS=()
SERVICE_ORDER=()

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

ensure_venv() {
  local stamp="$VENV/.requirements.sha256"
  local want; want="$(sha256sum "$ROOT/infra/requirements.txt" | cut -d' ' -f1)"
  if [[ -x "$PY" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then return 0; fi
  log "installing local tooling into .venv (pinned in infra/requirements.txt)"
  python3 -m venv "$VENV"
  "$PY" -m pip install --quiet --disable-pip-version-check -r "$ROOT/infra/requirements.txt"
  echo "$want" > "$stamp"
}

# The browser the sign-in tests drive (tests/tests/browser_signin.rs): Debian's
# chromium, through Playwright from the venv (`playwright install` downloads browsers
# from a CDN, which a machine with only package registries cannot reach).
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
ensure_browser() {
  [[ -x "$CHROMIUM" ]] && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "the browser tests need $CHROMIUM and there is no apt-get to install it: install Chromium there (e.g. your distribution's chromium package)" >&2
    return 1
  fi
  local sudo=()
  [[ "$(id -u)" -eq 0 ]] || sudo=(sudo)
  log "installing chromium (apt) for the browser tests"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >/dev/null \
    || { "${sudo[@]}" apt-get update -qq && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >/dev/null; }
  [[ -x "$CHROMIUM" ]] || { echo "apt-get installed chromium but $CHROMIUM is missing" >&2; return 1; }
}

# The real DPoP client the peer tests drive (tests/peers/node/dpop_peer.mjs): oauth4webapi
# on Node.js 20, pinned in tests/peers/node/package-lock.json and installed by `npm ci`
# into tests/peers/node/node_modules, again only when the lock changed.
NODE_PEERS="$ROOT/tests/peers/node"
ensure_node_peers() {
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "the DPoP peer tests need Node.js 20 with npm (tests/peers/node): install them (e.g. your distribution's nodejs and npm packages)" >&2
    return 1
  fi
  local major; major="$(node -p 'process.versions.node.split(".")[0]')"
  if (( major < 20 )); then
    echo "the DPoP peer tests need Node.js 20 or later, and node is $(node --version)" >&2
    return 1
  fi
  local stamp="$NODE_PEERS/node_modules/.package-lock.sha256"
  local want; want="$(sha256sum "$NODE_PEERS/package-lock.json" | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then return 0; fi
  log "installing the node peer clients into tests/peers/node/node_modules (pinned in its package-lock.json)"
  npm ci --no-audit --no-fund --prefix "$NODE_PEERS" >&2
  echo "$want" > "$stamp"
}

# The function binaries and tokenctl, built exactly as `cargo lambda watch` and `sam
# build` build them: without any crate that enables the shared crate's `testing` feature
# in the same invocation (feature unification would otherwise put test support into the
# functions, and the watch would rebuild each function at its first request).
build_functions() {
  local packages=(-p tokenctl) dir
  for dir in "$ROOT"/functions/*/; do packages+=(-p "$(basename "$dir")"); done
  cargo build "${packages[@]}"
}

# cargo-lambda from the venv, as the `cargo lambda` subcommand.
cargo_lambda() { "$VENV/bin/cargo-lambda" lambda "$@"; }

free_port() {
  "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

port_in_use() {
  "$PY" -c 'import socket,sys; s=socket.socket(); s.settimeout(0.5); sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1])))==0 else 1)' "$1"
}

# wait_http URL SECONDS [EXPECTED_STATUS]: poll until the URL answers (any status, or the one given).
wait_http() {
  "$PY" - "$@" <<'PY'
import sys, time, urllib.request, urllib.error
url, deadline = sys.argv[1], time.time() + float(sys.argv[2])
want = int(sys.argv[3]) if len(sys.argv) > 3 else None
while time.time() < deadline:
    try:
        status = urllib.request.urlopen(url, timeout=5).status
    except urllib.error.HTTPError as e:
        status = e.code
    except Exception:
        status = None
    if status is not None and (want is None or status == want):
        sys.exit(0)
    time.sleep(0.5)
sys.exit(f"{url} did not answer{'' if want is None else f' {want}'} in {sys.argv[2]}s")
PY
}

# start_service NAME LOGFILE CMD...: run CMD in its own session under NAME, for
# service_pid and stop_services. LOGFILE "-" keeps the caller's output.
start_service() {
  local name="$1" logfile="$2"; shift 2
  if [[ "$logfile" == "-" ]]; then setsid "$@" < /dev/null &
  else setsid "$@" >"$logfile" 2>&1 < /dev/null &
  fi
  SERVICE_PIDS["$name"]=$!
  SERVICE_ORDER+=("$name")
  log "$name started (pid $!, log $logfile)"
}

# The process group of the service NAME (its session leader's pid).
service_pid() { echo "${SERVICE_PIDS[$1]}"; }

stop_services() {
  local name pid
  for name in "${SERVICE_ORDER[@]}"; do
    kill -TERM -- "-${SERVICE_PIDS[$name]}" 2>/dev/null || true
  done
  for name in "${SERVICE_ORDER[@]}"; do
    pid="${SERVICE_PIDS[$name]}"
    for _ in $(seq 1 50); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  SERVICE_PIDS=()
  SERVICE_ORDER=()
}

# start_moto NAME PORT LOGFILE
start_moto() {
  local name="$1" port="$2" logfile="$3"
  if port_in_use "$port"; then
    echo "port $port is already in use (another make dev?); set MOTO_PORT to another port" >&2
    return 1
  fi
  start_service "$name" "$logfile" "$PY" "$ROOT/infra/moto_server.py" 127.0.0.1 "$port"
  wait_http "http://127.0.0.1:$port/moto-api/" 60
}

# start_watch NAME PORT ENV_FILE LOGFILE [extra cargo lambda watch args]
start_watch() {
  local name="$1" port="$2" env_file="$3" logfile="$4"; shift 4
  if port_in_use "$port"; then
    echo "port $port is already in use; set WATCH_PORT to another port" >&2
    return 1
  fi
  start_service "$name" "$logfile" \
    "$VENV/bin/cargo-lambda" lambda watch --invoke-address 127.0.0.1 --invoke-port "$port" \
    --env-file "$env_file" "$@"
}

# start_stack NAME DIR MOTO_PORT WATCH_PORT TABLE KEYS [extra cargo lambda watch args]
# One local stack: moto (service NAME-moto), the table, the key set at KEYS unless it
# exists, the environment in DIR/NAME.env, and cargo lambda watch (service NAME-watch,
# log DIR/NAME-watch.log) once the stack answers. WATCH_PORT "-" starts no watch (a
# store for in-process tests). Needs tokenctl built.
start_stack() {
  local name="$1" dir="$2" moto_port="$3" watch_port="$4" table="$5" keys="$6"; shift 6
  write_env_file "$dir/$name.env" "$moto_port" "${watch_port/-/0}" "$table" "$keys"
  start_moto "$name-moto" "$moto_port" "$dir/$name-moto.log"
  ( load_env_file "$dir/$name.env"; "$TOKENCTL" table create >/dev/null; "$TOKENCTL" keys generate --if-missing >/dev/null )
  [[ "$watch_port" == "-" ]] && return 0
  start_watch "$name-watch" "$watch_port" "$dir/$name.env" "$dir/$name-watch.log" "$@"
  # The first request to a function builds and starts it; wait until the stack answers.
  wait_http "http://127.0.0.1:$watch_port/.well-known/jwks.json" 600 200 \
    || { tail -50 "$dir/$name-watch.log" >&2; return 1; }
}

# The environment every process of the local stack shares. moto accepts any credentials.
write_env_file() {
  local file="$1" moto_port="$2" watch_port="$3" table="$4" keys="$5"
  cat > "$file" <<ENV
AWS_ACCESS_KEY_ID=local
AWS_SECRET_ACCESS_KEY=local
AWS_REGION=us-east-1
TABLE_NAME=$table
DYNAMODB_ENDPOINT=http://127.0.0.1:$moto_port
ISSUER=http://127.0.0.1:$watch_port
KEY_SOURCE=file:$keys
EXPECTED_AUDIENCE=https://api.example.com
# moto applies requests one at a time: under a test suite's load a call waits longer
# than DynamoDB would make it.
STORE_ATTEMPT_TIMEOUT_MS=5000
STORE_OPERATION_TIMEOUT_MS=10000
RUST_LOG=${RUST_LOG:-info}
${EXTRA_ENV:-}
ENV
}

load_env_file() { set -a; # shellcheck disable=SC1090
  source "$1"; set +a; }
