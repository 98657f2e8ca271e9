#!/usr/bin/env python3
"""Benchmark fixtures: an RSA-2048 key, its JWKS, and a token signed with it.

usage: mint.py OUTDIR ISSUER TENANT
writes OUTDIR/jwks.json, OUTDIR/public.pem (the same public key, SubjectPublicKeyInfo PEM),
OUTDIR/token (RS256, valid for 24 h, client_id "bench-client") and OUTDIR/token.tampered (the
same token with one signature character changed, which must be refused).
"""
import base64, json, sys, time
from cryptography.hazmat.primitives.asymmetric import rsa, padding
from cryptography.hazmat.primitives import hashes, serialization


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def main() -> None:
    out, issuer, tenant = sys.argv[1], sys.argv[2], sys.argv[3]
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = key.public_key().public_numbers()
    n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
    e = numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")
    jwks = {"keys": [{"kty": "RSA", "kid": "bench-1", "alg": "RS256", "use": "sig", "n": b64(n), "e": b64(e)}]}
    with open(f"{out}/jwks.json", "w") as f:
        json.dump(jwks, f)
    with open(f"{out}/public.pem", "wb") as f:
        f.write(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    now = int(time.time())
    header = {"alg": "RS256", "typ": "JWT", "kid": "bench-1"}
    claims = {"iss": issuer, "sub": "bench-user", "client_id": "bench-client", "tenant": tenant,
              "email": "bench@example.com", "iat": now, "exp": now + 86400, "scope": "agents:invoke"}
    signing_input = b64(json.dumps(header, separators=(",", ":")).encode()) + "." + \
        b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = b64(key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256()))
    with open(f"{out}/token", "w") as f:
        f.write(signing_input + "." + signature)
    # A character in the middle of the signature: all six of its bits count (the last one's may not).
    middle = len(signature) // 2
    tampered = signature[:middle] + ("B" if signature[middle] == "A" else "A") + signature[middle + 1:]
    with open(f"{out}/token.tampered", "w") as f:
        f.write(signing_input + "." + tampered)


if __name__ == "__main__":
    main()
