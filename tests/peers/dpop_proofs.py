"""Make DPoP keys and proofs (RFC 9449 §4) with PyJWT, an independent JOSE implementation.

Usage:
  dpop_proofs.py keygen ES256|EdDSA|RS256
      prints {"private_pem", "public_jwk", "jkt"}: a new key pair, its public JWK and the
      JWK's RFC 7638 SHA-256 thumbprint (base64url), the value of an access token's cnf.jkt.
  dpop_proofs.py proof --key-pem FILE --alg ES256|EdDSA|RS256 --htm METHOD --htu URL
                       [--ath-of TOKEN] [--iat N] [--jti X]
      prints one compact DPoP proof: header typ dpop+jwt, alg, jwk (the public key only);
      claims jti (random unless given), htm, htu, iat (now unless given), and ath, the
      base64url SHA-256 of TOKEN, when --ath-of is given.
"""
import argparse
import base64
import hashlib
import json
import secrets
import time

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

ALGS = ["ES256", "EdDSA", "RS256"]
# The members of each key type that RFC 7638 §3.2 hashes, in lexicographic order.
THUMBPRINT_MEMBERS = {"EC": ["crv", "kty", "x", "y"], "OKP": ["crv", "kty", "x"], "RSA": ["e", "kty", "n"]}


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def key_alg(private_key):
    """The one alg of ALGS that signs with this key."""
    if isinstance(private_key, ec.EllipticCurvePrivateKey) and private_key.curve.name == "secp256r1":
        return "ES256"
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return "EdDSA"
    if isinstance(private_key, rsa.RSAPrivateKey):
        return "RS256"
    return None


def generate(alg):
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(private_key):
    public = private_key.public_key()
    if isinstance(public, ec.EllipticCurvePublicKey):
        jwk = ECAlgorithm.to_jwk(public, as_dict=True)
    elif isinstance(public, ed25519.Ed25519PublicKey):
        jwk = OKPAlgorithm.to_jwk(public, as_dict=True)
    else:
        jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
    # Only the key itself: no private member can be there, and nothing else belongs.
    return {name: jwk[name] for name in THUMBPRINT_MEMBERS[jwk["kty"]]}


def thumbprint(jwk):
    members = {name: jwk[name] for name in THUMBPRINT_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def keygen(args):
    private_key = generate(args.alg)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    jwk = public_jwk(private_key)
    print(json.dumps({"private_pem": pem, "public_jwk": jwk, "jkt": thumbprint(jwk)}))


def proof(args):
    with open(args.key_pem, "rb") as pem:
        private_key = serialization.load_pem_private_key(pem.read(), password=None)
    if key_alg(private_key) != args.alg:
        raise SystemExit(f"{args.key_pem} is not a key for {args.alg}")
    claims = {
        "jti": args.jti if args.jti is not None else secrets.token_urlsafe(16),
        "htm": args.htm,
        "htu": args.htu,
        "iat": args.iat if args.iat is not None else int(time.time()),
    }
    if args.ath_of is not None:
        claims["ath"] = b64url(hashlib.sha256(args.ath_of.encode("ascii")).digest())
    headers = {"typ": "dpop+jwt", "jwk": public_jwk(private_key)}
    print(jwt.encode(claims, private_key, algorithm=args.alg, headers=headers))


def main():
    parser = argparse.ArgumentParser(description="DPoP keys and proofs (RFC 9449) with PyJWT.")
    commands = parser.add_subparsers(dest="command", required=True)
    keygen_parser = commands.add_parser("keygen", help="a new key pair, its public JWK and thumbprint")
    keygen_parser.add_argument("alg", choices=ALGS)
    keygen_parser.set_defaults(run=keygen)
    proof_parser = commands.add_parser("proof", help="one compact DPoP proof JWT")
    proof_parser.add_argument("--key-pem", required=True, help="the private key (PEM), as keygen prints it")
    proof_parser.add_argument("--alg", required=True, choices=ALGS)
    proof_parser.add_argument("--htm", required=True, help="the HTTP method, e.g. POST")
    proof_parser.add_argument("--htu", required=True, help="the HTTP URI, without query and fragment")
    proof_parser.add_argument("--ath-of", metavar="TOKEN", help="the access token the proof goes with")
    proof_parser.add_argument("--iat", type=int, help="issued-at, seconds since the epoch (default: now)")
    proof_parser.add_argument("--jti", help="the proof's unique id (default: random)")
    proof_parser.set_defaults(run=proof)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
