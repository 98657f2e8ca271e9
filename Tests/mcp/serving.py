"""Runs a test fixture's ASGI app with uvicorn on 127.0.0.1, shared by the MCP test servers."""

import asyncio
import os
import signal
import sys

import uvicorn


async def serve(app, port: int) -> None:
    """Serves `app` on `port` (0: the kernel picks one), prints ``READY <port>`` once listening,
    and runs until SIGTERM. A server that cannot start exits with status 1."""
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():  # failed to start (port taken, import error…): report it
            await serving
            sys.exit(1)
        await asyncio.sleep(0.02)
    # A test fixture with nothing to save: SIGTERM ends it at once, open streams or not.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, lambda: os._exit(0))
    bound = server.servers[0].sockets[0].getsockname()[1]
    print(f"READY {bound}", flush=True)
    await serving
