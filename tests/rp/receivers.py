"""Relying parties for the back-channel logout tests.

Each argument starts one receiver on its own loopback port:
  ok            answers 200
  slow:MS       answers 200 after MS milliseconds
  flaky:N       answers 503 to the first N requests, then 200
  retryafter:V  answers 503 with `Retry-After: V` (whatever V is: huge, negative, a date)
  MODE@PORT     any of the above on a fixed port (an RP that "comes back up")

Every POST /logout/<client_id> is validated with PyJWT, an implementation independent of
the server's, against the published JWKS (OIDC Back-Channel Logout 1.0 §2.4, §2.6 and
the errata): an RS256 signature (the OIDC default), iss, aud = <client_id>, typ logout+jwt, the events claim, sid
and/or sub, no nonce, iat and exp. An invalid token is answered 400 (§2.8).
GET /received lists every request seen, with its verdict.

Usage: receivers.py JWKS_URL ISSUER MODE...   (prints {"ports": [...]} when listening)
"""
import json
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt

EVENT = "http://schemas.openid.net/event/backchannel-logout"
JWKS_URL, ISSUER = sys.argv[1], sys.argv[2]
JWKS = jwt.PyJWKClient(JWKS_URL, cache_keys=True)


def validate(token, client_id):
    header = jwt.get_unverified_header(token)
    if header.get("typ") != "logout+jwt":
        raise ValueError(f"typ is {header.get('typ')!r}")
    key = JWKS.get_signing_key_from_jwt(token)
    claims = jwt.decode(
        token,
        key.key,
        # An RP that keeps the OIDC default (Registration §2) accepts RS256 only; the
        # test clients register no other id_token_signed_response_alg.
        algorithms=["RS256"],
        issuer=ISSUER,
        audience=client_id,
        options={"require": ["iss", "aud", "iat", "exp", "jti", "events"]},
        leeway=5,
    )
    if claims.get("events") != {EVENT: {}}:
        raise ValueError(f"events claim is {claims.get('events')!r}")
    if "sid" not in claims and "sub" not in claims:
        raise ValueError("neither sid nor sub")
    if "nonce" in claims:
        raise ValueError("nonce present")
    now = time.time()
    if abs(claims["iat"] - now) > 60:
        raise ValueError("iat is not current")
    if not (now < claims["exp"] <= claims["iat"] + 120):
        raise ValueError("exp is not within two minutes of iat")
    return claims


class Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body=b""):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with self.server.lock:
            body = json.dumps(self.server.received).encode()
        self.reply(200, body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        client_id = urllib.parse.unquote(self.path.rsplit("/", 1)[-1])
        record = {"client_id": client_id, "content_type": self.headers.get("Content-Type")}
        tokens = form.get("logout_token", [])
        try:
            if len(tokens) != 1:
                raise ValueError("exactly one logout_token expected")
            record["claims"] = validate(tokens[0], client_id)
            record["valid"] = True
        except Exception as e:  # noqa: BLE001 - every failure is a verdict to report
            record["valid"], record["error"] = False, str(e)
        with self.server.lock:
            self.server.received.append(record)
            seen = len(self.server.received)
        mode, arg = self.server.mode
        if not record["valid"]:
            return self.reply(400, b'{"error":"invalid_request"}')
        if mode == "slow":
            time.sleep(int(arg) / 1000)
        if mode == "flaky" and seen <= int(arg):
            return self.reply(503)
        if mode == "retryafter":
            self.send_response(503)
            self.send_header("Retry-After", arg)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.reply(200)


def start(spec):
    mode, _, port = spec.partition("@")
    name, _, arg = mode.partition(":")
    server = ThreadingHTTPServer(("127.0.0.1", int(port or 0)), Receiver)
    server.daemon_threads = True
    server.mode = (name, arg or "0")
    server.received, server.lock = [], threading.Lock()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1]


ports = [start(spec) for spec in sys.argv[3:]]
print(json.dumps({"ports": ports}), flush=True)
threading.Event().wait()
