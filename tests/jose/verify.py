"""Verify one of our access tokens with PyJWT, an independent JOSE implementation.

Usage: verify.py JWKS_URL ISSUER AUDIENCE < token
Prints the verified claims as JSON; exits non-zero on any failure.
"""
import json
import sys

import jwt

jwks_url, issuer, audience = sys.argv[1:4]
token = sys.stdin.read().strip()
header = jwt.get_unverified_header(token)
if header.get("typ") != "at+jwt":
    sys.exit(f"typ is {header.get('typ')!r}, not at+jwt (RFC 9068 §2.1)")
signing_key = jwt.PyJWKClient(jwks_url).get_signing_key_from_jwt(token)
claims = jwt.decode(
    token,
    signing_key.key,
    # The algorithm comes from the published key, never from the token header.
    algorithms=[signing_key.algorithm_name],
    issuer=issuer,
    audience=audience,
    options={"require": ["iss", "sub", "aud", "exp", "iat", "jti", "client_id"]},
)
print(json.dumps({"kid": header["kid"], "alg": header["alg"], "claims": claims}))
