#!/usr/bin/env python3
"""Writes the bytes an h2load-like client sends: the connection preface and SETTINGS, then
REQUESTS GET requests with a bearer token, STREAMS at a time (each batch one read). The file
is a sequence of batches, each a 4-byte big-endian length and that many bytes.

usage: client-bytes.py OUT [REQUESTS] [STREAMS]"""
import struct
import sys

import h2.config
import h2.connection

out, requests, streams = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 2000, int(sys.argv[3]) if len(sys.argv) > 3 else 4
conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
conn.initiate_connection()
token = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0." + "A" * 420 + "." + "B" * 342
headers = [
    (b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"127.0.0.1:8080"), (b":path", b"/t/acme/"),
    (b"user-agent", b"h2load nghttp2/1.52.0"), (b"authorization", b"Bearer " + token.encode()),
]
batches = [conn.data_to_send()]
sid = 1
for start in range(0, requests, streams):
    for _ in range(min(streams, requests - start)):
        conn.send_headers(sid, headers, end_stream=True)
        sid += 2
    batches.append(conn.data_to_send())
with open(out, "wb") as f:
    for b in batches:
        f.write(struct.pack(">I", len(b)))
        f.write(b)
