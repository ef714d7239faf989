#!/usr/bin/env python3
"""mint_jwt.py — makes a JSON Web Token for the tests, as an identity
provider would, with Python's standard library (HS256) and the openssl
command (RS256, ES256), and the broken ones an attacker would send.

  mint_jwt.py ALG KEYFILE [claim=value ...] [--header k=v] [--tamper-sub U]

ALG is HS256 (KEYFILE holds the secret), RS256 or ES256 (KEYFILE a PEM
private key), or none (no signature). A claim's value is JSON when it
parses as JSON, else a string; exp=+N and nbf=+N are N seconds from now
(-N before). --header k=v sets a header field (alg too: the token is
still signed with ALG). --hmac-with FILE signs an HS256 token with FILE's bytes as the
secret (the algorithm-confusion attack with a public key's PEM).
--tamper-sub U swaps the signed token's sub for U, keeping the signature.
"""
import base64
import hashlib
import hmac
import json
import subprocess
import sys
import time


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def value(text, now):
    if text[:1] in "+-" and text[1:].isdigit():
        return now + int(text)
    try:
        return json.loads(text)
    except ValueError:
        return text


def der_to_raw(der, size):
    """An ECDSA signature from DER (SEQUENCE of two INTEGERs) to r || s."""
    assert der[0] == 0x30
    i = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    out = b""
    for _ in range(2):
        assert der[i] == 0x02
        n = der[i + 1]
        out += der[i + 2:i + 2 + n].lstrip(b"\0").rjust(size, b"\0")
        i += 2 + n
    return out


def sign(alg, keyfile, signing_input):
    if alg == "none":
        return b""
    if alg == "HS256":
        with open(keyfile, "rb") as f:
            secret = f.read().rstrip(b"\r\n")
        return hmac.new(secret, signing_input, hashlib.sha256).digest()
    der = subprocess.run(["openssl", "dgst", "-sha256", "-sign", keyfile],
                         input=signing_input, capture_output=True,
                         check=True).stdout
    return der if alg == "RS256" else der_to_raw(der, 32)


def main(argv):
    alg, keyfile = argv[0], argv[1]
    now = int(time.time())
    header = {"alg": alg, "typ": "JWT"}
    claims = {}
    tamper = hmac_file = None
    args = iter(argv[2:])
    for arg in args:
        if arg == "--header":
            k, v = next(args).split("=", 1)
            header[k] = value(v, now)
        elif arg == "--tamper-sub":
            tamper = next(args)
        elif arg == "--hmac-with":
            hmac_file = next(args)
        else:
            k, v = arg.split("=", 1)
            claims[k] = value(v, now)
    head = b64(json.dumps(header).encode())
    body = b64(json.dumps(claims).encode())
    signing_input = f"{head}.{body}".encode()
    if hmac_file:
        with open(hmac_file, "rb") as f:
            sig = hmac.new(f.read(), signing_input, hashlib.sha256).digest()
    else:
        sig = sign(alg, keyfile, signing_input)  # whatever the header says
    if tamper:
        claims["sub"] = tamper
        body = b64(json.dumps(claims).encode())
    print(f"{head}.{body}.{b64(sig)}")


if __name__ == "__main__":
    main(sys.argv[1:])
