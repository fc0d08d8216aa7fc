"""Browser sign-in in a real browser (GitHub issue #12), one scenario per subcommand.

The relying party is authlib (`OAuth2Session`: the authorization URL with PKCE S256, the
code exchange, refreshes) with a real loopback listener as its redirect target; the
user's part is Chromium driven by Playwright: it opens the authorization URL, sees the
login page, types, submits, and is sent back to the listener. ID tokens are verified
with PyJWT against the published JWKS (RS256, the OIDC default).

Usage: signin.py SCENARIO < input.json, where input.json is
  {"base_url", "issuer", "chromium",
   "user": {"username", "password", "sub"},
   "clients": [{"id", "secret" ("" for a public client), "name", "redirect_uris",
                "post_logout_redirect_uri"}],
   "receivers": [port, ...]}          (back-channel logout receivers, tests/rp)
Every client's redirect URIs are http://127.0.0.1:PORT/... on one PORT per client, on
which this script listens. Prints one JSON object (what the Rust test checks further);
any failed expectation is an AssertionError: a traceback on stderr, exit status 1.
The Rust side is tests/tests/browser_signin.rs; `screenshot DIR` is for docs/.
"""
import json
import sys
import threading
import time
import urllib.request
from contextlib import contextmanager
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from playwright.sync_api import sync_playwright

SCOPE = "openid profile read"
# A function's first request on the local stack starts it (cargo lambda watch).
TIMEOUT = 60
VIEWPORT = {"width": 1000, "height": 700}
WRONG = "Incorrect username or password."
# The accent colour of style.css (light scheme): the style sheet applied, i.e. the CSP's
# hash of it matches.
ACCENT = "rgb(31, 95, 209)"


def same_endpoint(url, endpoint):
    """`url` is `endpoint` (scheme, host, port, path), whatever its query."""
    return urlsplit(url)[:3] == urlsplit(endpoint)[:3]


def query_of(url):
    """The query's parameters, one value each (a repeated one fails)."""
    pairs = parse_qs(urlsplit(url).query, keep_blank_values=True)
    assert all(len(v) == 1 for v in pairs.values()), f"a repeated parameter in {url}"
    return {k: v[0] for k, v in pairs.items()}


class OP:
    """The authorization server, as an RP finds it: through discovery."""

    def __init__(self, cfg):
        self.issuer = cfg["issuer"]
        meta = requests.get(cfg["base_url"] + "/.well-known/openid-configuration", timeout=TIMEOUT).json()
        assert meta["issuer"] == self.issuer, meta
        assert "S256" in meta["code_challenge_methods_supported"], meta
        self.authorize = meta["authorization_endpoint"]
        self.token = meta["token_endpoint"]
        self.end_session = meta["end_session_endpoint"]
        self.userinfo_endpoint = meta["userinfo_endpoint"]
        self.jwks = jwt.PyJWKClient(meta["jwks_uri"])

    def verify_id_token(self, token, client_id, nonce):
        header = jwt.get_unverified_header(token)
        assert (header.get("alg"), header.get("typ")) == ("RS256", "JWT"), header
        key = self.jwks.get_signing_key_from_jwt(token)
        claims = jwt.decode(
            token,
            key.key,
            algorithms=["RS256"],  # the OIDC default; the test clients register no other
            audience=client_id,
            issuer=self.issuer,
            options={"require": ["iss", "sub", "aud", "exp", "iat", "auth_time", "sid"]},
        )
        assert claims.get("nonce") == nonce, f"nonce {claims.get('nonce')!r}, sent {nonce!r}"
        assert claims["sid"], claims
        assert abs(claims["iat"] - time.time()) < 60 and claims["auth_time"] <= claims["iat"] + 1, claims
        return claims

    def userinfo(self, access_token):
        bearer = {"Authorization": f"Bearer {access_token}"}
        reply = requests.get(self.userinfo_endpoint, headers=bearer, timeout=TIMEOUT)
        return reply.status_code, (reply.json() if reply.status_code == 200 else None)

    def token_request(self, form, auth=None):
        """A raw token request, to see the status and error as they are."""
        reply = requests.post(self.token, data=form, auth=auth, timeout=TIMEOUT)
        try:
            body = reply.json()
        except ValueError:
            body = None
        return reply.status_code, body


class Listener(BaseHTTPRequestHandler):
    """An RP's loopback redirect target: records every request and answers a small page
    (or, under /forms/, a page of the test's making)."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        rp = self.server.rp
        with rp.lock:
            rp.hits.append(self.path)
            page = rp.pages.get(self.path)
        body = (page or "<!doctype html><title>Back at the app</title><link rel=icon href='data:,'>"
                "<h1>Back at the app</h1>").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class RP:
    """One registered client: authlib for the protocol, a listener for the browser."""

    def __init__(self, op, spec):
        self.op = op
        self.id, self.name = spec["id"], spec["name"]
        self.secret = spec["secret"] or None
        self.redirect_uris = spec["redirect_uris"]
        self.redirect_uri = self.redirect_uris[0]
        self.post_logout_redirect_uri = spec.get("post_logout_redirect_uri")
        self.origin = "http://127.0.0.1:%d" % urlsplit(self.redirect_uri).port
        self.hits, self.pages, self.lock = [], {}, threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", urlsplit(self.redirect_uri).port), Listener)
        self.server.daemon_threads = True
        self.server.rp = self
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def session(self):
        return OAuth2Session(
            self.id,
            self.secret,
            scope=SCOPE,
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic" if self.secret else "none",
        )

    def begin(self, **extra):
        """A new authorization request, as the RP library builds it."""
        return Authorization(self, **extra)

    def seen(self):
        with self.lock:
            return list(self.hits)

    def basic(self):
        return (self.id, self.secret) if self.secret else None


class Authorization:
    def __init__(self, rp, **extra):
        self.rp = rp
        self.session = rp.session()
        self.verifier = generate_token(64)
        self.nonce = generate_token(24)
        self.url, self.state = self.session.create_authorization_url(
            rp.op.authorize, code_verifier=self.verifier, nonce=self.nonce, **extra
        )
        params = query_of(self.url)
        assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) == 43, self.url

    def exchange(self, callback_url):
        """authlib's code exchange (it checks `state`), and the ID token verified."""
        token = self.session.fetch_token(
            self.rp.op.token, authorization_response=callback_url, code_verifier=self.verifier
        )
        assert token["token_type"].lower() == "bearer", token
        assert {"access_token", "refresh_token", "id_token"} <= token.keys(), token
        assert set(token["scope"].split()) == set(SCOPE.split()), token
        claims = self.rp.op.verify_id_token(token["id_token"], self.rp.id, self.nonce)
        return token, claims


class Tab:
    """A page, in a browser profile (context) of its own or another tab's, and what it
    loaded."""

    def __init__(self, browser, op, viewport=VIEWPORT, context=None):
        self.op = op
        self.context = context or browser.new_context(viewport=viewport)
        self.context.set_default_timeout(TIMEOUT * 1000)
        self.page = self.context.new_page()
        self.documents = []  # (method, url, status) of every main-frame document, redirects too
        self.csp_errors = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.csp_errors.append(f"page error: {e}"))
        self.page.on("response", self._response)

    def _console(self, message):
        if message.type == "error" and ("Content Security Policy" in message.text or "Refused" in message.text):
            self.csp_errors.append(message.text)

    def _response(self, response):
        request = response.request
        if request.is_navigation_request() and request.frame == self.page.main_frame:
            self.documents.append((request.method, response.url, response.status))

    def goto(self, url):
        response = self.page.goto(url)
        assert response is not None, f"no response for {url}"
        return response

    def submit(self, button_name):
        """Click a submit button and wait for the document it leads to."""
        try:
            with self.page.expect_navigation(timeout=TIMEOUT * 1000) as navigation:
                self.page.get_by_role("button", name=button_name, exact=True).click()
        except Exception as e:  # noqa: BLE001 - say what the browser did
            raise AssertionError(
                f"posting the form led nowhere: {e}; page {self.page.url}; CSP reports {self.csp_errors}"
            ) from e
        response = navigation.value
        assert response is not None, f"no response after the form post; page {self.page.url}"
        return response

    def cookies(self):
        return {c["name"]: c for c in self.context.cookies()}

    def text(self, selector):
        """The text of the first `selector` of the loaded page ("" if there is none)."""
        found = self.page.locator(selector)
        return found.first.inner_text().strip() if found.count() else ""


@contextmanager
def chromium(cfg):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=cfg["chromium"], args=["--no-sandbox"], headless=True)
        try:
            yield browser
        finally:
            browser.close()


# What a user sees.


def assert_login_page(tab, rp, response, status=200, error=None):
    """The hosted login page of `rp`, in good order; returns the pending request's id."""
    page = tab.page
    assert response.status == status, f"status {response.status}, expected {status}: {page.url}"
    assert same_endpoint(page.url, rp.op.authorize), f"not on the authorization server: {page.url}"
    title = f"Sign in to {rp.name}"
    assert page.title() == (f"Error: {title}" if error else title), page.title()
    assert tab.text("h1") == "Sign in"
    assert rp.name in tab.text("main p"), tab.text("main p")
    assert page.locator("#username").is_visible() and page.locator("#password").is_visible()
    assert page.get_by_role("button", name="Sign in").is_visible()
    if error:
        assert tab.text("[role=alert]") == error, tab.text("[role=alert]")
    else:
        assert page.locator("[role=alert]").count() == 0
    csp = response.headers.get("content-security-policy", "")
    assert f"form-action 'self' {rp.origin};" in csp, f"the post's redirect is not allowed: {csp}"
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp, csp
    # The style sheet applied (its hash is in the CSP) and nothing was refused.
    background = page.locator("button").first.evaluate("b => getComputedStyle(b).backgroundColor")
    assert background == ACCENT, f"the style sheet did not apply: button background {background}"
    assert not tab.csp_errors, tab.csp_errors
    request_id = page.locator("input[name=request]").get_attribute("value")
    assert request_id and page.locator("input[name=csrf]").get_attribute("value")
    return request_id


def assert_error_page(tab, response, status, title):
    """One of our pages that does not redirect: still on the server, no form."""
    page = tab.page
    assert response.status == status, f"status {response.status}, expected {status}: {page.url} {tab.text('main')}"
    assert urlsplit(page.url).netloc == urlsplit(tab.op.authorize).netloc, f"left the server: {page.url}"
    assert tab.text("h1") == title, tab.text("h1")
    assert page.locator("form").count() == 0 and page.locator("a").count() == 0
    assert response.request.redirected_from is None, "an error page after a redirect"
    assert not tab.csp_errors, tab.csp_errors


def assert_back_at(rp, response, redirect_uri=None, via=None):
    """The browser was sent (303) from `via` (by default the authorize endpoint, whose
    responses carry `iss`) straight to the RP's `redirect_uri`, and the RP's listener got
    exactly that request. Returns its parameters."""
    redirect_uri = redirect_uri or rp.redirect_uri
    url = response.url
    # The response is added to the registered URI's query, if it has one.
    joined = redirect_uri + ("&" if "?" in redirect_uri else "?")
    assert url.startswith(joined), f"not back at {redirect_uri}: {url}"
    assert response.status == 200, url
    before = response.request.redirected_from
    assert before is not None, f"{url} was not reached by a redirect"
    assert same_endpoint(before.url, via or rp.op.authorize), f"redirected from {before.url}"
    assert before.response().status == 303, f"a {before.response().status} redirect"
    assert before.redirected_from is None, "more than one redirect"
    path = url[len(rp.origin):]
    assert path in rp.seen(), f"the RP's listener did not get {path}: {rp.seen()}"
    params = query_of(url)
    if same_endpoint(before.url, rp.op.authorize):
        assert params.get("iss") == rp.op.issuer, f"iss (RFC 9207) is {params.get('iss')!r}"
    return params


def sign_in(tab, rp, user, password=None):
    """Type the credentials into the login page shown, and submit."""
    tab.page.fill("#username", user["username"])
    tab.page.fill("#password", user["password"] if password is None else password)
    return tab.submit("Sign in")


def login(tab, rp, user, **extra):
    """A whole sign-in: authorization, the form, back at the RP, the code exchanged."""
    auth = rp.begin(**extra)
    assert_login_page(tab, rp, tab.goto(auth.url))
    params = assert_back_at(rp, sign_in(tab, rp, user))
    assert params["state"] == auth.state and "code" in params, params
    token, claims = auth.exchange(tab.page.url)
    assert claims["sub"] == user["sub"], claims
    return token, claims


def sso(tab, rp, user, **extra):
    """An authorization in a browser with a session: no form, straight back with a code."""
    auth = rp.begin(**extra)
    seen = len(tab.documents)
    params = assert_back_at(rp, tab.goto(auth.url))
    assert params["state"] == auth.state and "code" in params, params
    shown = tab.documents[seen:]
    assert [status for _, _, status in shown] == [303, 200], f"documents loaded: {shown}"
    token, claims = auth.exchange(tab.page.url)
    assert claims["sub"] == user["sub"], claims
    return token, claims


def received(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/received", timeout=5) as r:
        return json.load(r)


# Scenarios. Each returns what the Rust test checks further.


def scenario_login(cfg, op, rps, browser):
    """Case 1: the form, the code exchange (authlib, PKCE S256), the ID token."""
    rp, user = rps[0], cfg["user"]
    tab = Tab(browser, op)
    token, claims = login(tab, rp, user)
    assert tab.text("h1") == "Back at the app", "the browser shows the RP's page"
    status, info = op.userinfo(token["access_token"])
    assert status == 200 and info["sub"] == user["sub"], (status, info)
    return {"sid": claims["sid"], "sub": claims["sub"]}


def scenario_sso(cfg, op, rps, browser):
    """Case 2: a second client in the same browser skips the form; same sid."""
    a, b = rps[0], rps[1]
    user = cfg["user"]
    tab = Tab(browser, op)
    _, first = login(tab, a, user)
    token, second = sso(tab, b, user)
    assert second["sid"] == first["sid"], (first, second)
    assert second["aud"] == b.id and second["nonce"] != first["nonce"]
    assert second["auth_time"] == first["auth_time"], "the same sign-in"
    assert op.userinfo(token["access_token"])[0] == 200
    # Another browser has no session: it is asked to sign in.
    other = Tab(browser, op)
    assert_login_page(other, b, other.goto(b.begin().url))
    # The RP may insist (prompt=login): the form again, in this browser too.
    auth = b.begin(prompt="login")
    assert_login_page(tab, b, tab.goto(auth.url))
    return {"sid": first["sid"]}


def scenario_public_refresh(cfg, op, rps, browser):
    """Case 3: a public client (client_id only), refresh rotation and reuse detection."""
    rp, user = rps[0], cfg["user"]
    assert rp.secret is None
    tab = Tab(browser, op)
    token, claims = login(tab, rp, user)
    r0 = token["refresh_token"]
    session = rp.session()
    first = session.refresh_token(op.token, refresh_token=r0)
    r1 = first["refresh_token"]
    assert r1 != r0 and first["access_token"] != token["access_token"], "a new refresh token"
    assert op.userinfo(first["access_token"])[0] == 200
    second = session.refresh_token(op.token, refresh_token=r1)
    r2 = second["refresh_token"]
    assert r2 not in (r0, r1), "a new refresh token again"
    assert op.userinfo(second["access_token"])[0] == 200
    # The first refresh token, two generations back: reuse.
    try:
        session.refresh_token(op.token, refresh_token=r0)
        raise AssertionError("a reused refresh token was accepted")
    except OAuthError as e:
        assert e.error == "invalid_grant", e
    # Reuse revoked the family: the newest refresh and access tokens are dead too.
    status, body = op.token_request({"grant_type": "refresh_token", "refresh_token": r2, "client_id": rp.id})
    assert (status, body and body.get("error")) == (400, "invalid_grant"), (status, body)
    assert op.userinfo(second["access_token"])[0] == 401
    return {"sid": claims["sid"]}


def scenario_code_misuse(cfg, op, rps, browser):
    """Case 4: wrong verifier, wrong redirect_uri, another client's code (each refused and
    the code left to its holder), then the exchange, then a replay that kills its tokens."""
    rp, other, user = rps[0], rps[1], cfg["user"]
    tab = Tab(browser, op)
    auth = rp.begin()
    assert_login_page(tab, rp, tab.goto(auth.url))
    code = assert_back_at(rp, sign_in(tab, rp, user))["code"]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": rp.redirect_uri,
            "code_verifier": auth.verifier}

    def refused(what, changes, auth=rp.basic(), error="invalid_grant"):
        status, body = op.token_request({**form, **changes}, auth=auth)
        assert (status, body and body.get("error")) == (400, error), f"{what}: {status} {body}"

    refused("a wrong verifier", {"code_verifier": generate_token(64)})
    refused("a malformed verifier", {"code_verifier": "short"}, error="invalid_request")
    refused("another registered redirect_uri", {"redirect_uri": rp.redirect_uris[1]})
    refused("another client's code", {"redirect_uri": other.redirect_uri}, auth=other.basic())
    refused("another client's code, its redirect_uri", {}, auth=other.basic())
    # None of them spent the code: its holder exchanges it (authlib).
    token, _ = auth.exchange(tab.page.url)
    assert op.userinfo(token["access_token"])[0] == 200
    # The same code again: refused, and what the first exchange issued is revoked.
    try:
        auth.exchange(tab.page.url)
        raise AssertionError("a code was exchanged twice")
    except OAuthError as e:
        assert e.error == "invalid_grant", e
    assert op.userinfo(token["access_token"])[0] == 401, "the first access token survived the replay"
    status, body = op.token_request(
        {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}, auth=rp.basic()
    )
    assert (status, body and body.get("error")) == (400, "invalid_grant"), (status, body)
    return {}


def scenario_code(cfg, op, rps, browser):
    """A code and its verifier, not exchanged (the Rust test ages it)."""
    rp, user = rps[0], cfg["user"]
    tab = Tab(browser, op)
    auth = rp.begin()
    assert_login_page(tab, rp, tab.goto(auth.url))
    params = assert_back_at(rp, sign_in(tab, rp, user))
    return {"code": params["code"], "code_verifier": auth.verifier, "redirect_uri": rp.redirect_uri}


def scenario_request_errors(cfg, op, rps, browser):
    """Case 5: requests that never show the form."""
    rp = rps[0]
    tab = Tab(browser, op)
    # An unregistered redirect URI (on the RP's own listener, so a redirect would show):
    # a page, no redirect.
    auth = rp.begin(redirect_uri=rp.origin + "/elsewhere")
    assert_error_page(tab, tab.goto(auth.url), 400, "Invalid request")
    assert "has not registered" in tab.text("main p"), tab.text("main p")
    # An unknown client: a page too.
    unknown = auth.url.replace(f"client_id={rp.id}", "client_id=client-nobody")
    assert unknown != auth.url
    assert_error_page(tab, tab.goto(unknown), 400, "Unknown application")
    assert rp.seen() == [], f"the RP was sent something: {rp.seen()}"

    # Errors that go back to the client, with the state.
    verifier = generate_token(64)
    base = {"client_id": rp.id, "redirect_uri": rp.redirect_uri, "scope": SCOPE, "response_type": "code",
            "code_challenge": verifier[:43], "code_challenge_method": "S256"}
    cases = [
        ("plain PKCE", {"code_challenge_method": "plain"}, "invalid_request"),
        ("no PKCE", {"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
        ("the implicit flow", {"response_type": "token"}, "unsupported_response_type"),
        ("prompt=none without a session", {"prompt": "none"}, "login_required"),
    ]
    for what, changes, error in cases:
        state = generate_token(16)
        params = {k: v for k, v in {**base, **changes, "state": state}.items() if v is not None}
        back = assert_back_at(rp, tab.goto(op.authorize + "?" + urlencode(params)))
        assert back.get("error") == error, f"{what}: {back}"
        assert back.get("state") == state and "code" not in back, f"{what}: {back}"
        assert back.get("error_description"), f"{what}: {back}"
        assert not any(status == 200 and same_endpoint(url, op.authorize) for _, url, status in tab.documents), \
            f"{what}: the login page was shown"
    return {}


def scenario_password_csrf(cfg, op, rps, browser):
    """Case 6: a CSRF token altered or missing (403, no redirect), a wrong password (the
    page again, with the message), then the right one."""
    rp, user = rps[0], cfg["user"]
    tab = Tab(browser, op)
    page = tab.page
    for what, tamper in [
        ("altered", "e => { e.value = e.value.slice(0, -1) + (e.value.endsWith('A') ? 'B' : 'A') }"),
        ("missing", "e => e.remove()"),
    ]:
        auth = rp.begin()
        assert_login_page(tab, rp, tab.goto(auth.url))
        page.locator("input[name=csrf]").evaluate(tamper)
        response = sign_in(tab, rp, user)
        assert_error_page(tab, response, 403, "Sign-in could not be verified")
        assert same_endpoint(page.url, op.authorize), f"CSRF {what}: {page.url}"
        assert "session" not in tab.cookies(), f"CSRF {what}: signed in"
    assert rp.seen() == [], f"the RP was sent something: {rp.seen()}"

    auth = rp.begin()
    assert_login_page(tab, rp, tab.goto(auth.url))
    response = sign_in(tab, rp, user, password=user["password"] + "x")
    assert_login_page(tab, rp, response, status=401, error=WRONG)
    assert page.locator("#username").input_value() == user["username"], "the username is kept"
    assert page.locator("#password").input_value() == "", "the password is not"
    assert "session" not in tab.cookies() and rp.seen() == []
    # The same page, the right password this time.
    page.fill("#password", user["password"])
    params = assert_back_at(rp, tab.submit("Sign in"))
    assert params["state"] == auth.state and "code" in params, params
    auth.exchange(page.url)
    return {}


def scenario_cookies(cfg, op, rps, browser):
    """Case 7: the cookies as the browser keeps them; a cross-site post carries none."""
    rp, user = rps[0], cfg["user"]
    tab = Tab(browser, op)
    page = tab.page

    def flags(cookie, lifetime):
        what = cookie["name"]
        assert cookie["httpOnly"] is True, f"{what} is not HttpOnly"
        assert cookie["sameSite"] == "Lax", f"{what} is SameSite={cookie['sameSite']}"
        # Plain http (the local stack): no Secure, no __Host- prefix. The https variant
        # is a unit test (shared/src/signin/cookies.rs).
        assert cookie["secure"] is False and not what.startswith("__Host-"), cookie
        assert (cookie["path"], cookie["domain"]) == ("/", "127.0.0.1"), cookie
        left = cookie["expires"] - time.time()
        assert lifetime[0] <= left <= lifetime[1], f"{what} lives {left:.0f} s"

    auth = rp.begin()
    request_id = assert_login_page(tab, rp, tab.goto(auth.url))
    cookies = tab.cookies()
    assert list(cookies) == [f"signin-{request_id}"], list(cookies)
    flags(cookies[f"signin-{request_id}"], (590, 601))
    assert cookies[f"signin-{request_id}"]["value"] == page.locator("input[name=csrf]").get_attribute("value")
    assert page.evaluate("document.cookie") == "", "a page script can read the cookies"

    # The same form posted from another site (http://localhost is not the site of
    # http://127.0.0.1): the browser leaves the Lax cookie at home, and the post is refused.
    fields = {"request": request_id, "csrf": cookies[f"signin-{request_id}"]["value"],
              "username": user["username"], "password": user["password"]}
    inputs = "".join(f'<input type="hidden" name="{k}" value="{escape(v)}">' for k, v in fields.items())
    rp.pages["/forms/post"] = (
        f'<!doctype html><title>Elsewhere</title><link rel=icon href="data:,">'
        f'<form method="post" action="{op.authorize}">{inputs}<button type="submit">Sign in</button></form>'
    )
    port = urlsplit(rp.origin).port
    other = Tab(browser, op, context=tab.context)
    assert other.goto(f"http://localhost:{port}/forms/post").status == 200 and other.page.title() == "Elsewhere"
    assert_error_page(other, other.submit("Sign in"), 403, "Sign-in could not be verified")
    assert "session" not in tab.cookies()
    # The control: the very same page from this site (127.0.0.1, another port: same
    # site, other origin) carries the cookie, and signs in.
    assert other.goto(f"{rp.origin}/forms/post").status == 200 and other.page.title() == "Elsewhere"
    assert_back_at(rp, other.submit("Sign in"))
    page = other.page
    _, claims = auth.exchange(page.url)
    cookies = tab.cookies()
    assert list(cookies) == ["session"], f"cookies after sign-in: {list(cookies)}"
    flags(cookies["session"], (3600, 400 * 24 * 3600))
    assert cookies["session"]["value"].split(".")[0] == claims["sid"], "the cookie names the ID token's session"
    return {"sid": claims["sid"]}


def scenario_logout_hint(cfg, op, rps, browser):
    """Case 8: RP-initiated logout with id_token_hint: at once, both RPs told by
    back-channel (the Rust test reads the receivers), the cookie gone, the form again."""
    a, b = rps[0], rps[1]
    user = cfg["user"]
    tab = Tab(browser, op)
    token_a, claims = login(tab, a, user)
    token_b, claims_b = sso(tab, b, user)
    assert claims_b["sid"] == claims["sid"]
    for port in cfg["receivers"]:
        assert received(port) == [], "a logout token before the logout"
    state = generate_token(16)
    query = urlencode({"id_token_hint": token_a["id_token"], "post_logout_redirect_uri": a.post_logout_redirect_uri,
                       "state": state})
    response = tab.goto(f"{op.end_session}?{query}")
    back = assert_back_at(a, response, redirect_uri=a.post_logout_redirect_uri, via=op.end_session)
    assert back == {"signed-out": "", "state": state}, back
    assert "session" not in tab.cookies(), f"cookies after logout: {list(tab.cookies())}"
    for rp, token in ((a, token_a), (b, token_b)):
        assert op.userinfo(token["access_token"])[0] == 401, "an access token of the ended session"
        status, body = op.token_request(
            {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}, auth=rp.basic()
        )
        assert (status, body and body.get("error")) == (400, "invalid_grant"), (status, body)
    # Signed out here: the next authorization asks for the password.
    assert_login_page(tab, a, tab.goto(a.begin().url))
    assert_login_page(tab, b, tab.goto(b.begin().url))
    return {"sid": claims["sid"], "sub": claims["sub"]}


def scenario_logout_confirm(cfg, op, rps, browser):
    """Case 8, without id_token_hint: the confirmation page; "Stay signed in" ends
    nothing; "Sign out" ends the session and tells the RP."""
    rp, user = rps[0], cfg["user"]
    tab = Tab(browser, op)
    page = tab.page
    token, claims = login(tab, rp, user)
    (port,) = cfg["receivers"]

    def ask():
        state = generate_token(16)
        query = urlencode({"client_id": rp.id, "post_logout_redirect_uri": rp.post_logout_redirect_uri,
                           "state": state})
        response = tab.goto(f"{op.end_session}?{query}")
        assert response.status == 200 and same_endpoint(page.url, op.end_session), page.url
        assert page.title() == f"Sign out of {rp.name}?", page.title()
        assert tab.text("h1") == "Sign out?"
        assert f"{rp.name} asked to sign you out" in tab.text("main p"), tab.text("main p")
        csp = response.headers.get("content-security-policy", "")
        assert f"form-action 'self' {rp.origin};" in csp, csp
        assert not tab.csp_errors, tab.csp_errors
        cookie = tab.cookies().get("signout")
        assert cookie and cookie["httpOnly"] and cookie["sameSite"] == "Lax" and not cookie["secure"], cookie
        return state

    def still_signed_in(what):
        assert "session" in tab.cookies(), what
        assert received(port) == [], f"{what}: a logout token"
        assert op.userinfo(token["access_token"])[0] == 200, what

    ask()
    still_signed_in("the question alone")
    state = ask()
    back = assert_back_at(rp, tab.submit("Stay signed in"), redirect_uri=rp.post_logout_redirect_uri,
                          via=op.end_session)
    assert back == {"signed-out": "", "state": state}, back
    still_signed_in("after Stay signed in")
    sso(tab, rp, user)

    state = ask()
    back = assert_back_at(rp, tab.submit("Sign out"), redirect_uri=rp.post_logout_redirect_uri, via=op.end_session)
    assert back == {"signed-out": "", "state": state}, back
    assert "session" not in tab.cookies() and "signout" not in tab.cookies(), list(tab.cookies())
    assert op.userinfo(token["access_token"])[0] == 401
    assert_login_page(tab, rp, tab.goto(rp.begin().url))
    return {"sid": claims["sid"], "sub": claims["sub"]}


def screenshot(cfg, op, rps, browser, out):
    """The login page, wide and narrow (docs/login-page.png is one of them)."""
    rp = rps[0]
    for name, viewport in [("wide", VIEWPORT), ("narrow", {"width": 380, "height": 700})]:
        tab = Tab(browser, op, viewport)
        assert_login_page(tab, rp, tab.goto(rp.begin().url))
        tab.page.screenshot(path=f"{out}/login-{name}.png")
        sign_in(tab, rp, cfg["user"], password="not the password")
        tab.page.screenshot(path=f"{out}/login-{name}-error.png")
    return {}


def main():
    name = sys.argv[1]
    cfg = json.load(sys.stdin)
    op = OP(cfg)
    rps = [RP(op, spec) for spec in cfg["clients"]]
    with chromium(cfg) as browser:
        if name == "screenshot":
            result = screenshot(cfg, op, rps, browser, sys.argv[2])
        else:
            result = globals()[f"scenario_{name}"](cfg, op, rps, browser)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
