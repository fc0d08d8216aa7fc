"""Verify a JWT introspection response (RFC 9701) with PyJWT, as a resource server would.

Usage: introspection_jwt.py JWKS_URL ISSUER AUDIENCE < jwt
The key comes from the published JWKS by `kid`; RS256 is the only algorithm accepted
(RFC 9701 §6's default); `typ` must be `token-introspection+jwt`; `iss`, `aud` and `iat`
are required, `exp` is not (the response has none). Prints the verified claims as JSON;
exits non-zero on any failure.
"""
import json
import sys

import jwt

jwks_url, issuer, audience = sys.argv[1:4]
token = sys.stdin.read().strip()
header = jwt.get_unverified_header(token)
if header.get("typ") != "token-introspection+jwt":
    sys.exit(f"typ is {header.get('typ')!r}, not token-introspection+jwt")
signing_key = jwt.PyJWKClient(jwks_url).get_signing_key_from_jwt(token)
claims = jwt.decode(
    token,
    signing_key.key,
    algorithms=["RS256"],
    issuer=issuer,
    audience=audience,
    options={"require": ["iss", "aud", "iat"]},
)
if not isinstance(claims.get("token_introspection"), dict):
    sys.exit(f"token_introspection is not an object: {claims!r}")
print(json.dumps(claims))
