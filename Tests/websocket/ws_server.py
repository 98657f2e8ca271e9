"""A WebSocket agent for the pass-through tests: the `websockets` package's own server.

Prints `READY <port>` once listening (port 0: the kernel picks one). On each connection it sends
one text message, a JSON object of the handshake's request headers (lower-cased names), then
echoes every message back. A connection to `/close` is closed by the server right after that
first message; `/reject` is refused with a 403 before any upgrade.
"""

import asyncio
import json
import sys

from websockets.asyncio.server import serve
from websockets.http11 import Response
from websockets.datastructures import Headers


def process_request(connection, request):
    if request.path.startswith("/reject"):
        return Response(403, "Forbidden", Headers([("Content-Length", "0")]), b"")
    return None


async def handler(ws):
    headers = {}
    for name, value in ws.request.headers.raw_items():
        headers.setdefault(name.lower(), []).append(value)
    await ws.send(json.dumps({"path": ws.request.path, "headers": headers}))
    print("HANDSHAKE " + json.dumps({"path": ws.request.path, "headers": headers}), flush=True)
    if ws.request.path.startswith("/close"):
        await ws.close()
        return
    async for message in ws:
        await ws.send(message)


async def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    async with serve(handler, "127.0.0.1", port, process_request=process_request, max_size=None) as server:
        bound = server.sockets[0].getsockname()[1]
        print(f"READY {bound}", flush=True)
        await asyncio.get_running_loop().create_future()


asyncio.run(main())
