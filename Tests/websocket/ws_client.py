"""A WebSocket client for the pass-through tests: the `websockets` package's own client.

    ws_client.py URL TOKEN [--header NAME:VALUE]... [--send TEXT | --send-size N]... [--wait-close]

Prints one JSON line: {"status": 101, "hello": <the server's first message>, "echo": [replies;
one over 1 KiB as {"size": n, "all_x": bool}],
"closed": true/false} — or, when the handshake is refused, {"status": <code>, "body": "..."}.
"""

import asyncio
import json
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

import client_args


async def main():
    url, token = sys.argv[1], sys.argv[2]
    headers, sends, wait_close = client_args.parse(sys.argv[3:])
    if token != "-":
        headers.append(("Authorization", "Bearer " + token))
    try:
        async with connect(url, additional_headers=headers, open_timeout=10, close_timeout=5, max_size=None) as ws:
            hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
            echo = []
            for text in sends:
                await ws.send(text)
                echo.append(await asyncio.wait_for(ws.recv(), 10))
            closed = False
            if wait_close:
                try:
                    await asyncio.wait_for(ws.recv(), 10)
                except ConnectionClosed:
                    closed = True
            # Long replies are reported by size, so that the line stays short.
            echo = [text if len(text) <= 1024 else {"size": len(text), "all_x": text == "x" * len(text)} for text in echo]
            print(json.dumps({"status": 101, "hello": hello, "echo": echo, "closed": closed}))
    except InvalidStatus as e:
        body = e.response.body.decode("utf-8", "replace") if e.response.body else ""
        print(json.dumps({"status": e.response.status_code, "body": body}))


asyncio.run(main())
