"""A real MCP server (official Python SDK, streamable HTTP, stateful sessions) that reports the
identity headers Gatehouse propagated to it.

    python3 identity_server.py <port>

Listens on http://127.0.0.1:<port>/mcp and prints `READY <port>` on stdout once it accepts
connections (port 0: the system picks a free one, and READY names it). Tool `whoami` returns
a JSON object: the X-Tenant-Id and X-User-Id headers of the HTTP request that carried the
call, and whether X-Gatehouse-Assertion was present; each call is also logged on stdout as
`WHOAMI <that JSON>`.

Works with mcp 2.x (`MCPServer`) and mcp 1.x (`FastMCP`).
"""

import asyncio
import json
import signal
import sys

import serving


try:  # mcp >= 2
    from mcp.server.mcpserver import Context, MCPServer

    MCP_MAJOR = 2
except ImportError:  # mcp 1.x
    from mcp.server.fastmcp import Context, FastMCP as MCPServer

    MCP_MAJOR = 1


def request_headers(ctx: Context):
    """The incoming HTTP request's headers (a case-insensitive mapping), or {}."""
    request = getattr(ctx.request_context, "request", None)
    headers = getattr(request, "headers", None)
    return headers if headers is not None else {}


def build_app(port: int):
    if MCP_MAJOR >= 2:
        server = MCPServer("gatehouse-identity")
    else:
        server = MCPServer("gatehouse-identity", host="127.0.0.1", port=port, stateless_http=False)

    @server.tool()
    async def whoami(ctx: Context) -> str:
        """The identity Gatehouse propagated on this request."""
        headers = request_headers(ctx)
        identity = {
            "tenant_id": headers.get("x-tenant-id"),
            "user_id": headers.get("x-user-id"),
            "assertion_present": bool(headers.get("x-gatehouse-assertion")),
        }
        # One line per call that reached the server, so a test can tell what was forwarded.
        print(f"WHOAMI {json.dumps(identity)}", flush=True)
        return json.dumps(identity)

    if MCP_MAJOR >= 2:
        # Stateful (the default): the server issues Mcp-Session-Id on initialize.
        return server.streamable_http_app(stateless_http=False, host="127.0.0.1")
    return server.streamable_http_app()


async def main(port: int) -> None:
    await serving.serve(build_app(port), port)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: identity_server.py <port>")
    # A parent may start us with signals blocked (Foundation's Process passes its mask on):
    # SIGTERM must work.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    asyncio.run(main(int(sys.argv[1])))
