"""A TLS client for the listener tests: Python's own ssl module (OpenSSL).

    tls_client.py resume PORT TOKEN VERSION     VERSION: 1.2 or 1.3; prints one JSON line
    tls_client.py fingerprint PORT              prints the SHA-256 of the server certificate
    tls_client.py hold PORT TOKEN GOFILE        one keep-alive connection: a request, then a
                                                second one on it once GOFILE exists

The certificate is not verified (the tests compare what the server presents).
"""

import hashlib
import json
import os
import socket
import ssl
import sys
import time


def context(version=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if version == "1.2":
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    elif version == "1.3":
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    return ctx


def connect(port, ctx, session=None):
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return ctx.wrap_socket(raw, server_hostname="localhost", session=session)


def request(sock, token, close):
    head = f"GET /t/acme/tls HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n"
    head += "Connection: close\r\n\r\n" if close else "\r\n"
    sock.sendall(head.encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return status


def fingerprint(sock):
    return hashlib.sha256(sock.getpeercert(binary_form=True)).hexdigest()


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    if mode == "resume":
        token, version = sys.argv[3], sys.argv[4]
        ctx = context(version)
        first = connect(port, ctx)
        status = request(first, token, close=True)
        session = first.session
        first_reused = first.session_reused
        negotiated = first.version()
        first.close()
        second = connect(port, ctx, session=session)
        second_status = request(second, token, close=True)
        print(json.dumps({"version": negotiated, "status": status, "second_status": second_status,
                          "first_reused": first_reused, "second_reused": second.session_reused}))
        second.close()
    elif mode == "fingerprint":
        sock = connect(port, context())
        print(fingerprint(sock))
        sock.close()
    elif mode == "hold":
        token, gofile = sys.argv[3], sys.argv[4]
        sock = connect(port, context())
        print(f"FIRST {request(sock, token, close=False)} {fingerprint(sock)}", flush=True)
        deadline = time.time() + 60
        while not os.path.exists(gofile) and time.time() < deadline:
            time.sleep(0.02)
        print(f"SECOND {request(sock, token, close=False)}", flush=True)
        sock.close()
    else:
        raise SystemExit(f"unknown mode {mode}")


main()
