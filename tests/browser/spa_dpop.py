"""A single-page app signs a user in with DPoP-bound tokens, entirely from browser code.

The app is tests/browser/spa (a public client: oauth4webapi in the page, authorization
code with PKCE S256, an ES256 DPoP key pair whose private key WebCrypto never lets out,
kept in IndexedDB). This driver serves it on the client's loopback origin (the redirect
URI's), with oauth4webapi's browser build at /oauth4webapi/ and the client's settings at
/config.json, opens it in Chromium (Playwright), clicks "Sign in", signs in on the hosted
login page (tests/browser/signin.py's helpers), and waits for the page's #result.

Checked here: the token types (the server's `DPoP`, oauth4webapi's `dpop`), the access
tokens' `cnf.jkt` equal to the key's RFC 7638 thumbprint (oauth4webapi's and our own),
UserInfo's `sub`, every DPoP proof the page sent (its signature by the key in its header,
`typ`, `alg` ES256, `htm`, `htu`), and the CORS preflights the `DPoP` header causes: the
browser asked to send `dpop` to the token and UserInfo endpoints, and the server allowed
it for the app's origin. A refused preflight fails the app's fetch; its error, the
browser console and the preflights are in the AssertionError.

Usage: spa_dpop.py dpop < input.json, input.json as for signin.py (one public client,
whose first redirect URI is http://127.0.0.1:PORT/). Prints one JSON object: {"sub",
"thumbprint", "access_token" (the refreshed one), "preflights"}. The Rust side is
tests/tests/browser_signin.rs.
"""
import base64
import hashlib
import json
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import jwt

from signin import OP, SCOPE, TIMEOUT, Tab, assert_back_at, assert_login_page, chromium, same_endpoint, sign_in

HERE = Path(__file__).resolve().parent
SPA = HERE / "spa"
# `source infra/lib.sh && ensure_node_peers` installs it (tests/peers/node/package-lock.json).
OAUTH4WEBAPI = HERE.parent / "peers" / "node" / "node_modules" / "oauth4webapi" / "build"


class Files(SimpleHTTPRequestHandler):
    """The app's origin: the app's files, oauth4webapi's build, the client's settings."""

    protocol_version = "HTTP/1.1"
    # ES modules must come as JavaScript.
    extensions_map = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".map": "application/json",
    }

    def log_message(self, *args):
        pass

    def do_GET(self):
        app = self.server.app
        with app.lock:
            app.hits.append(self.path)
        if urlsplit(self.path).path == "/config.json":
            body = json.dumps(app.config).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def end_headers(self):
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def translate_path(self, path):
        path = urlsplit(path).path
        root, rest = (OAUTH4WEBAPI, path[len("/oauth4webapi/"):]) if path.startswith("/oauth4webapi/") \
            else (SPA, path.lstrip("/"))
        root = root.resolve()
        target = (root / (rest or "index.html")).resolve()
        # Nothing outside the two directories (a 404 for anything else).
        return str(target) if target.is_relative_to(root) else str(root / "nothing-here")


class App:
    """The single-page app on its loopback origin; enough of signin.py's RP for its
    helpers (`op`, `name`, `origin`, `redirect_uri`, `seen`)."""

    def __init__(self, op, spec):
        self.op = op
        self.id, self.name = spec["id"], spec["name"]
        assert not spec["secret"], "a single-page app is a public client"
        self.redirect_uri = spec["redirect_uris"][0]
        parts = urlsplit(self.redirect_uri)
        assert (parts.scheme, parts.hostname, parts.path) == ("http", "127.0.0.1", "/"), self.redirect_uri
        self.origin = f"http://127.0.0.1:{parts.port}"
        self.config = {"issuer": op.issuer, "client_id": self.id, "redirect_uri": self.redirect_uri, "scope": SCOPE}
        self.hits, self.lock = [], threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", parts.port), Files)
        self.server.daemon_threads = True
        self.server.app = self
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def seen(self):
        with self.lock:
            return list(self.hits)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def thumbprint(jwk):
    """RFC 7638, SHA-256, of an EC public key."""
    members = {k: jwk[k] for k in ("crv", "kty", "x", "y")}
    return b64url(hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode()).digest())


class Network:
    """What the page sent to the authorization server and what came back, preflights
    included (Playwright does not show preflights; the DevTools protocol does)."""

    def __init__(self, tab, op):
        self.op = op
        self.console = []
        self.requests = []  # (method, url, headers) of the page's fetches to the server
        self.responses = []
        self.preflights = {}  # DevTools request id -> {"url", "request", "status", "response"}
        self.failures = []
        page = tab.page
        page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: self.console.append(f"page error: {e}"))
        page.on("request", self._request)
        page.on("response", self._response)
        cdp = tab.context.new_cdp_session(page)
        cdp.on("Network.requestWillBeSent", self._will_be_sent)
        cdp.on("Network.responseReceived", self._received)
        cdp.on("Network.loadingFailed", lambda e: self.failures.append(e))
        cdp.send("Network.enable")
        self.cdp = cdp

    def _ours(self, url):
        return urlsplit(url).netloc == urlsplit(self.op.token).netloc

    def _request(self, request):
        if request.resource_type == "fetch" and self._ours(request.url):
            self.requests.append((request.method, request.url, request.headers))

    def _response(self, response):
        if response.request.resource_type == "fetch" and self._ours(response.url):
            self.responses.append(response)

    def _will_be_sent(self, event):
        request = event["request"]
        if request["method"] == "OPTIONS" and self._ours(request["url"]):
            self.preflights[event["requestId"]] = {"url": request["url"], "request": lower(request["headers"])}

    def _received(self, event):
        if event.get("type") == "Preflight" and event["requestId"] in self.preflights:
            self.preflights[event["requestId"]].update(
                status=event["response"]["status"], response=lower(event["response"]["headers"])
            )

    def preflights_to(self, endpoint):
        return [p for p in self.preflights.values() if same_endpoint(p["url"], endpoint)]

    def diagnosis(self):
        return (f"\nbrowser console: {json.dumps(self.console, indent=1)}"
                f"\npreflights: {json.dumps(list(self.preflights.values()), indent=1)}"
                f"\nfailed loads: {json.dumps(self.failures, indent=1)}")


def lower(headers):
    return {k.lower(): v for k, v in headers.items()}


def header_list(value):
    return {v.strip().lower() for v in (value or "").split(",") if v.strip()}


def assert_preflight_allows_dpop(network, app, endpoint, method):
    """The browser preflighted `method` with a `dpop` header to `endpoint` and the server
    let the app's origin send it."""
    preflights = network.preflights_to(endpoint)
    assert preflights, f"no preflight to {endpoint}: the DPoP header was not sent?{network.diagnosis()}"
    for p in preflights:
        asked, answer = p["request"], p.get("response", {})
        assert asked.get("origin") == app.origin, p
        assert asked.get("access-control-request-method") == method, p
        assert "dpop" in header_list(asked.get("access-control-request-headers")), p
        assert p.get("status") in (200, 204), f"preflight answered {p.get('status')}: {p}"
        assert answer.get("access-control-allow-origin") == app.origin, f"origin not allowed: {p}"
        assert answer.get("access-control-allow-credentials") is None, f"credentials allowed: {p}"
        allowed = header_list(answer.get("access-control-allow-headers"))
        assert "dpop" in allowed, f"the preflight's answer does not allow the DPoP header: {p}"
        assert header_list(asked.get("access-control-request-headers")) <= allowed, p
        assert method.lower() in header_list(answer.get("access-control-allow-methods")), p
    return preflights


def assert_proof(proof, method, url, jkt):
    """One DPoP proof as the server gets it: signed by the key in its header."""
    header = jwt.get_unverified_header(proof)
    assert (header.get("typ"), header.get("alg")) == ("dpop+jwt", "ES256"), header
    assert "d" not in header["jwk"] and thumbprint(header["jwk"]) == jkt, header
    claims = jwt.decode(proof, jwt.PyJWK(header["jwk"], "ES256").key, algorithms=["ES256"])
    assert (claims["htm"], claims["htu"]) == (method, url), claims
    assert claims.get("jti") and claims.get("iat"), claims
    return claims


def scenario_dpop(cfg, op, apps, browser):
    (app,) = apps
    user = cfg["user"]
    assert (OAUTH4WEBAPI / "index.js").is_file(), \
        f"no {OAUTH4WEBAPI}/index.js: `source infra/lib.sh && ensure_node_peers` installs oauth4webapi"
    tab = Tab(browser, op)
    network = Network(tab, op)
    page = tab.page
    assert tab.goto(app.origin + "/").status == 200
    assert page.title() == "DPoP single-page app"
    page.locator("#start:enabled").wait_for()
    # "Sign in": a key pair, PKCE, then off to the authorization endpoint.
    assert_login_page(tab, app, tab.submit("Sign in"))
    # Back at the app with the code; it does the rest.
    params = assert_back_at(app, sign_in(tab, app, user))
    assert {"code", "state", "iss"} <= params.keys(), params
    page.locator("#result").wait_for(state="attached")
    result = json.loads(page.locator("#result").text_content())
    assert "error" not in result, f"the app failed: {json.dumps(result)}{network.diagnosis()}"
    assert page.url == app.redirect_uri, f"the code is left in the address bar: {page.url}"

    # The key: ES256, its private half never extractable, named alike by oauth4webapi,
    # by us, and by the server in both access tokens.
    jkt = result["thumbprint"]
    assert result["private_key_extractable"] is False and result["proof_algs"] == ["ES256"], result
    assert "d" not in result["public_jwk"] and thumbprint(result["public_jwk"]) == jkt, result
    assert result["cnf_jkt"] == jkt and result["refreshed_cnf_jkt"] == jkt, result
    assert jwt.decode(result["access_token"], options={"verify_signature": False})["cnf"] == {"jkt": jkt}
    # oauth4webapi lowercases the type; the server said DPoP, twice.
    assert (result["token_type"], result["refreshed_token_type"]) == ("dpop", "dpop"), result
    token_answers = [r for r in network.responses if r.request.method == "POST" and same_endpoint(r.url, op.token)]
    assert len(token_answers) == 2, [r.url for r in network.responses]
    for answer in token_answers:
        body = answer.json()
        assert answer.status == 200 and body["token_type"] == "DPoP", (answer.status, body)
        assert answer.headers.get("access-control-allow-origin") == app.origin, answer.headers
    assert result["refresh_rotated"] is True, result
    assert result["id_token_sub"] == user["sub"] and result["userinfo"]["sub"] == user["sub"], result

    # Discovery (twice: before the redirect and after) needs no proof; the code exchange,
    # the refresh and UserInfo each carried one, by that key.
    discovery = op.issuer + "/.well-known/openid-configuration"
    sent = [(m, u, h) for m, u, h in network.requests if not same_endpoint(u, discovery)]
    assert all("dpop" not in h for m, u, h in network.requests if same_endpoint(u, discovery))
    assert [(m, u) for m, u, _ in sent] == [("POST", op.token), ("POST", op.token), ("GET", op.userinfo_endpoint)], \
        [(m, u) for m, u, _ in network.requests]
    for method, url, headers in sent:
        endpoint = op.token if method == "POST" else op.userinfo_endpoint
        claims = assert_proof(headers["dpop"], method, endpoint, jkt)
        if method == "GET":
            assert headers["authorization"] == f"DPoP {result['access_token']}", headers.get("authorization")
            ath = b64url(hashlib.sha256(result["access_token"].encode()).digest())
            assert claims["ath"] == ath, claims
    # The preflights the DPoP header caused, and their answers. The second token request
    # may reuse the first preflight's answer (Access-Control-Max-Age).
    preflights = assert_preflight_allows_dpop(network, app, op.token, "POST")
    preflights += assert_preflight_allows_dpop(network, app, op.userinfo_endpoint, "GET")
    assert "authorization" in header_list(preflights[-1]["request"]["access-control-request-headers"]), preflights
    assert not [f for f in network.failures if not f.get("canceled")], network.diagnosis()
    # Nothing of the key in sessionStorage: the flow's leftovers are gone.
    assert page.evaluate("sessionStorage.length") == 0, page.evaluate("JSON.stringify(sessionStorage)")
    return {
        "sub": result["userinfo"]["sub"],
        "thumbprint": jkt,
        "access_token": result["access_token"],
        "preflights": [{"url": p["url"], "allow_headers": p["response"].get("access-control-allow-headers")}
                       for p in preflights],
    }


def main():
    name = sys.argv[1]
    cfg = json.load(sys.stdin)
    op = OP(cfg)
    apps = [App(op, spec) for spec in cfg["clients"]]
    with chromium(cfg) as browser:
        result = globals()[f"scenario_{name}"](cfg, op, apps, browser)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
