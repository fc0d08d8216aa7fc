"""Drive each server with the same load (wrk) and print throughput, p50 and p99.

Usage: load.py SECONDS CONNECTIONS CLIENT_ID SECRET NAME=BASE_URL:FLAVOUR ...
FLAVOUR is `ours` (/oauth2/token, /oauth2/introspect, /oauth2/revoke) or `oidc-provider`
(/token, /token/introspection, /token/revocation). Every server gets the same client.
"""
import base64
import json
import re
import subprocess
import sys
import urllib.parse
import urllib.request

SECONDS, CONNECTIONS, CLIENT, SECRET = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
TARGETS = [arg.split("=", 1) for arg in sys.argv[5:]]
AUTH = "Basic " + base64.b64encode(f"{CLIENT}:{SECRET}".encode()).decode()
PATHS = {
    "ours": {"issue": "/oauth2/token", "introspect": "/oauth2/introspect", "revoke": "/oauth2/revoke"},
    "oidc-provider": {"issue": "/token", "introspect": "/token/introspection", "revoke": "/token/revocation"},
}
LUA = __file__.rsplit("/", 1)[0] + "/post.lua"


def token(base, paths):
    body = urllib.parse.urlencode({"grant_type": "client_credentials", "scope": "read"}).encode()
    req = urllib.request.Request(base + paths["issue"], body, {"Authorization": AUTH})
    return json.load(urllib.request.urlopen(req))["access_token"]


def wrk(url, body):
    out = subprocess.run(
        ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency", "-s", LUA, url, "--", body, AUTH],
        capture_output=True, text=True, check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    pct = {p: re.search(rf"^\s+{p}%\s+(\S+)", out, re.M).group(1) for p in ("50", "99")}
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, pct["50"], pct["99"], int(non2xx.group(1)) if non2xx else 0


print(f"| server | operation | requests/s | p50 | p99 | non-2xx |")
print("| --- | --- | --- | --- | --- | --- |")
for name, spec in TARGETS:
    base, flavour = spec.rsplit(":", 1)
    paths = PATHS[flavour]
    live = token(base, paths)
    bodies = {
        "issue": "grant_type=client_credentials&scope=read",
        "introspect": f"token={live}",
        # Revoking the same token over and over: after the first, each is a revoke of an
        # already revoked token (still a lookup, and for us still a write).
        "revoke": f"token={token(base, paths)}",
    }
    for op in ("issue", "introspect", "revoke"):
        rps, p50, p99, bad = wrk(base + paths[op], bodies[op])
        print(f"| {name} | {op} | {rps:,.0f} | {p50} | {p99} | {bad} |", flush=True)
