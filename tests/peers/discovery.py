"""Validate the server's discovery metadata with independent implementations:
authlib's RFC 8414 and OpenID Connect Discovery validators, and idpyoidc's
ProviderConfigurationResponse (OIDC Discovery §3).

Usage: discovery.py BASE_URL
Prints "ok"; exits non-zero with the validator's complaint otherwise. The local stack is
plain http on loopback: both libraries are told that insecure transport is expected.
"""
import json
import os
import sys
import urllib.request

os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")

from authlib.oauth2.rfc8414 import AuthorizationServerMetadata  # noqa: E402
from authlib.oidc.discovery import OpenIDProviderMetadata  # noqa: E402
from idpyoidc.message.oidc import ProviderConfigurationResponse  # noqa: E402


def fetch(url):
    with urllib.request.urlopen(url) as answer:
        return json.load(answer)


base = sys.argv[1].rstrip("/")
oauth = fetch(base + "/.well-known/oauth-authorization-server")
oidc = fetch(base + "/.well-known/openid-configuration")
AuthorizationServerMetadata(oauth).validate()
OpenIDProviderMetadata(oidc).validate()
# idpyoidc refuses a non-https issuer unless told the deployment is local.
ProviderConfigurationResponse(**oidc).verify(allow_http=base.startswith("http://"))
print("ok")
