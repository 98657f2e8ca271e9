"""A real MCP server (official Python SDK 2.x, streamable HTTP) for Gatehouse's policy tests.

    python3 policy_server.py [port] [--mode legacy|2026-07-28|both]

Listens on http://127.0.0.1:<port>/mcp (default port 0: the system picks a free one) and prints
`READY <port>` on stdout once it accepts connections.

One endpoint serves both protocol eras (`--mode both`, the default): the SDK routes each POST by
its `MCP-Protocol-Version` header. A 2025-era version (or none) takes the legacy path: stateful
sessions (`initialize`, `Mcp-Session-Id`, GET stream, DELETE) with SSE responses. `2026-07-28`
takes the stateless path: every POST stands alone, no session id, a JSON response (SSE only once
the handler emits a notification). `--mode legacy` answers every 2026-07-28 request, and
`--mode 2026-07-28` every other one (no or a 2025-era MCP-Protocol-Version header), with HTTP 400
and the JSON-RPC error -32022 {"supported": [the versions it serves], "requested": <header or "">}
before the SDK sees it.

Tools:
    echo(text)        returns text
    admin_reset()     returns "reset"
    read_doc(handle)  `handle` is annotated `x-mcp-header: Handle`, so a 2026-07-28 client mirrors it
                      into an `Mcp-Param-Handle` header (the SDK rejects a call whose header and
                      argument disagree: HTTP 400, -32020). Returns JSON {handle, param_header,
                      user_id}: the argument, the Mcp-Param-Handle header and the X-User-Id header seen.
    whoami()          returns JSON {tenant_id, user_id}: the X-Tenant-Id / X-User-Id headers seen
    connect_account() needs a URL-mode elicitation; its id is `connect-<12 hex>`, its URL
                      https://auth.example/authorize?elicitation=<id>&user=<X-User-Id or anonymous>.
                      Legacy: always fails with the JSON-RPC error -32042, the elicitation in
                      error.data.elicitations[0] {"mode": "url", "message", "url", "elicitationId"}.
                      2026-07-28: returns {"resultType": "input_required", "inputRequests": {<id>:
                      {"method": "elicitation/create", "params": {"message", "mode": "url", "url"}}},
                      "requestState": <opaque>}; retried with that requestState and inputResponses
                      {<id>: {"action": "accept"}} it returns "connected" (otherwise it asks again).
    progress(steps=2) reports `steps` progress notifications (when the request has a progress
                      token), then returns "done": at 2026-07-28 this makes the response SSE.
Also prompt `greet(name)` and resource `doc://readme`, for Mcp-Name checks on prompts/get and
resources/read.

Every tool call that reaches a tool is logged on stdout as one line
`CALL {"tool", "protocol_version", "tenant_id", "user_id", "mcp_headers"}`: the MCP-Protocol-Version,
X-Tenant-Id and X-User-Id headers of the HTTP request that carried it, and all its `mcp-*` headers
(lowercased names). SIGTERM ends the server at once.
"""

import argparse
import asyncio
import json
import signal
import urllib.parse
import uuid
from typing import Annotated

from mcp import UrlElicitationRequiredError
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import ElicitRequest, ElicitRequestURLParams, InputRequiredResult
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS
from pydantic import Field

import serving

AUTHORIZE_URL = "https://auth.example/authorize"


def headers_of(ctx: Context) -> dict:
    """The HTTP request's headers as a plain dict with lowercase names ({} off HTTP)."""
    return {k.lower(): v for k, v in (ctx.headers or {}).items()}


def log_call(tool: str, ctx: Context) -> dict:
    headers = headers_of(ctx)
    seen = {
        "tool": tool,
        "protocol_version": headers.get("mcp-protocol-version"),
        "tenant_id": headers.get("x-tenant-id"),
        "user_id": headers.get("x-user-id"),
        "mcp_headers": {k: v for k, v in sorted(headers.items()) if k.startswith("mcp-")},
    }
    print(f"CALL {json.dumps(seen)}", flush=True)
    return headers


def build_server() -> MCPServer:
    server = MCPServer("gatehouse-policy")

    @server.tool()
    async def echo(text: str, ctx: Context) -> str:
        """Returns its argument."""
        log_call("echo", ctx)
        return text

    @server.tool()
    async def admin_reset(ctx: Context) -> str:
        """A privileged operation (policy tests deny it)."""
        log_call("admin_reset", ctx)
        return "reset"

    @server.tool()
    async def read_doc(
        handle: Annotated[str, Field(description="Document handle", json_schema_extra={"x-mcp-header": "Handle"})],
        ctx: Context,
    ) -> str:
        """Reads a document by handle; the handle is mirrored into the Mcp-Param-Handle header."""
        headers = log_call("read_doc", ctx)
        return json.dumps(
            {"handle": handle, "param_header": headers.get("mcp-param-handle"), "user_id": headers.get("x-user-id")}
        )

    @server.tool()
    async def whoami(ctx: Context) -> str:
        """The identity headers Gatehouse propagated on this request."""
        headers = log_call("whoami", ctx)
        return json.dumps({"tenant_id": headers.get("x-tenant-id"), "user_id": headers.get("x-user-id")})

    @server.tool()
    async def connect_account(ctx: Context) -> str | InputRequiredResult:
        """Links a third-party account: needs a URL-mode elicitation first."""
        headers = log_call("connect_account", ctx)
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS and ctx.request_state:
            # A retry: requestState (sealed by the SDK) names the elicitation this server asked for.
            answer = (ctx.input_responses or {}).get(ctx.request_state)
            if getattr(answer, "action", None) == "accept":
                return "connected"
        elicitation_id = f"connect-{uuid.uuid4().hex[:12]}"
        query = urllib.parse.urlencode({"elicitation": elicitation_id, "user": headers.get("x-user-id") or "anonymous"})
        url = f"{AUTHORIZE_URL}?{query}"
        message = "Authorize access to your account"
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
            # 2026-07-28: the elicitation rides the result; its id is the inputRequests key.
            request = ElicitRequest(params=ElicitRequestURLParams(message=message, url=url))
            return InputRequiredResult(input_requests={elicitation_id: request}, request_state=elicitation_id)
        # 2025-11-25: the JSON-RPC error -32042 carrying data.elicitations[].
        raise UrlElicitationRequiredError(
            [ElicitRequestURLParams(message=message, url=url, elicitation_id=elicitation_id)]
        )

    @server.tool()
    async def progress(ctx: Context, steps: int = 2) -> str:
        """Reports progress `steps` times, then returns "done"."""
        log_call("progress", ctx)
        for step in range(steps):
            await ctx.report_progress(step + 1, steps, f"step {step + 1}")
            await asyncio.sleep(0.05)
        return "done"

    @server.prompt()
    def greet(name: str) -> str:
        """A greeting prompt."""
        return f"Hello, {name}!"

    @server.resource("doc://readme", mime_type="text/plain")
    def readme() -> str:
        return "policy server readme"

    return server


class OnlyMode:
    """ASGI wrapper for --mode legacy / --mode 2026-07-28: refuses the other era with 400."""

    def __init__(self, app, mode: str):
        self.app, self.mode = app, mode
        self.supported = HANDSHAKE_PROTOCOL_VERSIONS if mode == "legacy" else MODERN_PROTOCOL_VERSIONS

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            version = dict(scope["headers"]).get(b"mcp-protocol-version", b"").decode("latin-1")
            modern = version in MODERN_PROTOCOL_VERSIONS
            if modern != (self.mode != "legacy"):
                body = json.dumps(
                    {
                        "jsonrpc": "2.0",
                        "id": None,
                        "error": {
                            "code": -32022,
                            "message": f"this server only speaks {self.mode}",
                            "data": {"supported": list(self.supported), "requested": version},
                        },
                    }
                ).encode()
                await send(
                    {"type": "http.response.start", "status": 400, "headers": [(b"content-type", b"application/json")]}
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def build_app(mode: str):
    app = build_server().streamable_http_app(
        stateless_http=False,  # legacy requests get sessions; 2026-07-28 requests never do
        # Gatehouse may forward a Host of its own choosing: no DNS-rebinding check in a test fixture.
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    return app if mode == "both" else OnlyMode(app, mode)


async def main(port: int, mode: str) -> None:
    await serving.serve(build_app(mode), port)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="MCP policy-test server")
    parser.add_argument("port", nargs="?", type=int, default=0)
    parser.add_argument("--mode", choices=["legacy", "2026-07-28", "both"], default="both")
    args = parser.parse_args()
    # A parent may start us with signals blocked (Foundation's Process passes its mask on).
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    asyncio.run(main(args.port, args.mode))
