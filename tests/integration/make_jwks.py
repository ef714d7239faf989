#!/usr/bin/env python3
"""make_jwks.py — writes a JSON Web Key Set (RFC 7517) for the tests, as
an identity provider publishes one, from PEM public keys, with the
openssl command for their numbers (no Python package needed).

  make_jwks.py KID=PUBLIC.pem[,field=value...] ...

Each argument is one key: RSA (kty RSA, n, e) or EC P-256 (kty EC, crv,
x, y), with its kid; field=value pairs are added to the key as they are
(use=enc, alg=RS512) or taken out (kid= leaves no kid)."""
import base64
import json
import re
import subprocess
import sys


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def openssl(*args):
    return subprocess.run(["openssl", *args], check=True, capture_output=True,
                          text=True).stdout


def jwk(path):
    text = openssl("pkey", "-pubin", "-in", path, "-noout", "-text")
    if text.startswith("Public-Key") and "Modulus" in text:
        modulus = openssl("rsa", "-pubin", "-in", path, "-noout", "-modulus")
        n = bytes.fromhex(modulus.strip().split("=", 1)[1])
        e = int(re.search(r"Exponent: (\d+)", text).group(1))
        return {"kty": "RSA", "n": b64(n),
                "e": b64(e.to_bytes((e.bit_length() + 7) // 8, "big"))}
    point = re.search(r"pub:\s*((?:[0-9a-f]{2}:?\s*)+)", text).group(1)
    raw = bytes.fromhex(re.sub(r"[:\s]", "", point))
    assert raw[0] == 4 and len(raw) == 65, "an uncompressed P-256 point"
    return {"kty": "EC", "crv": "P-256", "x": b64(raw[1:33]), "y": b64(raw[33:])}


keys = []
for arg in sys.argv[1:]:
    kid, rest = arg.split("=", 1)
    path, *fields = rest.split(",")
    key = dict(jwk(path), kid=kid)
    for field in fields:
        name, value = field.split("=", 1)
        if value:
            key[name] = value
        else:
            key.pop(name, None)
    keys.append(key)
print(json.dumps({"keys": keys}))
