"""Verify one of our JWTs with PyJWT, an independent JOSE implementation.

Usage: verify.py JWKS_URL ISSUER AUDIENCE [TYP [ALG]] < token
TYP is the header typ the token must carry (at+jwt, RFC 9068 §2.1, by default). ALG, when
given, is the only algorithm accepted, as a relying party configured for one (the OIDC
default RS256, or the rfc9068 validator's RS256) would; otherwise the published key's
algorithm is used. Prints the verified claims as JSON; exits non-zero on any failure.
"""
import json
import sys

import jwt

REQUIRED = ["iss", "sub", "aud", "exp", "iat"]

jwks_url, issuer, audience = sys.argv[1:4]
typ = sys.argv[4] if len(sys.argv) > 4 else "at+jwt"
token = sys.stdin.read().strip()
header = jwt.get_unverified_header(token)
if header.get("typ") != typ:
    sys.exit(f"typ is {header.get('typ')!r}, not {typ}")
signing_key = jwt.PyJWKClient(jwks_url).get_signing_key_from_jwt(token)
# The algorithm comes from the relying party or the published key, never the token header.
algorithms = [sys.argv[5]] if len(sys.argv) > 5 else [signing_key.algorithm_name]
claims = jwt.decode(
    token,
    signing_key.key,
    algorithms=algorithms,
    issuer=issuer,
    audience=audience,
    options={"require": REQUIRED + (["jti", "client_id"] if typ == "at+jwt" else [])},
)
print(json.dumps({"kid": header["kid"], "alg": header["alg"], "claims": claims}))
