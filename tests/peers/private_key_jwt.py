"""Get a client_credentials token with authlib's `private_key_jwt` client authentication
(RFC 7523 §2.2), as a Python service would: authlib makes, signs and sends the assertion.

Usage: private_key_jwt.py TOKEN_ENDPOINT CLIENT_ID < the client's RSA private key (PEM)
Prints the token response as JSON; exits non-zero if the server refuses.

Everything is authlib's (`OAuth2Session`, `PrivateKeyJWT`): the claims (`iss` = `sub` =
the client id, `aud` = the token endpoint, `iat`, `exp`, a random `jti`), RS256, no `kid`
(the client has one key), and the form parameters. One thing is set: the assertion's
lifetime. authlib's assertions live an hour unless told otherwise, and this server takes
none further ahead than five minutes (`policy::MAX_CLIENT_ASSERTION_SECONDS`): one minute,
as most client libraries make them. (Passing `claims={"exp": ...}` to `PrivateKeyJWT`
instead would also pin the first `jti` for every later assertion: authlib stores it in
that dict.)
"""
import json
import sys

from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from authlib.oauth2.rfc7523.assertion import private_key_jwt_sign
from joserfc.jwk import RSAKey


class OneMinutePrivateKeyJWT(PrivateKeyJWT):
    """authlib's `PrivateKeyJWT.sign`, with `expires_in` of one minute."""

    def sign(self, auth, token_endpoint):
        return private_key_jwt_sign(
            RSAKey.import_key(auth.client_secret),
            client_id=auth.client_id,
            token_endpoint=token_endpoint,
            header=self.headers,
            alg=self.alg,
            expires_in=60,
        )


token_endpoint, client_id = sys.argv[1:3]
private_key = sys.stdin.read()
session = OAuth2Session(client_id, private_key, token_endpoint_auth_method="private_key_jwt")
session.register_client_auth_method(OneMinutePrivateKeyJWT(token_endpoint))
token = session.fetch_token(token_endpoint, grant_type="client_credentials")
print(json.dumps(dict(token)))
