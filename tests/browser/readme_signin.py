"""The reader's part of the README's "Sign in from a browser": open the URL in Chromium,
sign in as `demo` on the login page, and read the code from where the browser lands.

Usage: readme_signin.py URL (from a checkout laid out like `make dev`'s: the password in
.local/demo-password; Chromium at $CHROMIUM). Nothing listens on the redirect URI, as in
the README: the request to it is recorded and aborted, like a browser's failed load.
Prints the code; a failed expectation is an AssertionError (exit status 1).
"""
import os
import sys
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import sync_playwright

REDIRECT_URI = "http://127.0.0.1:8080/callback"


def main(url):
    password = open(".local/demo-password").read().strip()
    landed = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=os.environ["CHROMIUM"], args=["--no-sandbox"])
        page = browser.new_page()

        def record(route):
            landed.append(route.request.url)
            route.abort()

        page.route(REDIRECT_URI + "*", record)
        page.goto(url, timeout=60_000)
        page.get_by_label("Username").fill("demo")
        page.get_by_label("Password").fill(password)
        try:
            page.get_by_role("button", name="Sign in").click()
            for _ in range(600):  # a minute at most
                if landed:
                    break
                page.wait_for_timeout(100)
        finally:
            browser.close()
    assert landed, "the browser was never sent to the redirect URI"
    query = parse_qs(urlsplit(landed[0]).query)
    assert query.get("state") == ["xyz"], f"state comes back: {landed[0]}"
    print(query["code"][0])


if __name__ == "__main__":
    main(sys.argv[1])
