"""A real MCP client (official Python SDK 2.x, streamable HTTP) for Gatehouse's policy tests.

    python3 policy_client.py MODE URL TOKEN ACTION [args...] [--header NAME:VALUE]... [--no-list]

MODE is `legacy` (initialize handshake, protocol 2025-11-25, Mcp-Session-Id) or `2026-07-28`
(stateless: every POST carries MCP-Protocol-Version, Mcp-Method, Mcp-Name and Mcp-Param-* headers).
TOKEN is sent as `Authorization: Bearer TOKEN`; `-` sends no Authorization header. `--header`
adds an HTTP header to every request (repeatable).

ACTION:
    list                  {"tools": [names]}
    call TOOL JSON_ARGS   {"result": <text, or the object it encodes>, "is_error": bool}.
                          Lists the tools first (unless --no-list; a refused listing is ignored)
                          so that arguments annotated x-mcp-header are mirrored into Mcp-Param-*
                          headers at 2026-07-28; without that listing the SDK sends the call
                          without them, gets 400/-32020, lists the tools and resends once. A URL
                          elicitation the server asks for in an input-required result is accepted.
                          Sends a progress token; "progress": n is added when n notifications arrived.
    elicit                calls connect_account without resolving what it asks and reports the URL
                          elicitation: {"elicitation": {"id", "url", "message"}, "via": "error -32042"
                          (legacy) | "input_required" (2026-07-28)}; at 2026-07-28 the call is then
                          retried with the elicitation accepted and requestState echoed, and
                          "retry": {"result", "is_error"} is added.
    prompt NAME JSON_ARGS {"result": [message texts]}
    read URI              {"result": [resource texts]}

Prints exactly one JSON line. A JSON-RPC error gives {"error": {"code", "message", "data"}}; when
an HTTP response failed (status >= 400) the line also has "status", "body" and
"www_authenticate" of the last such response. In legacy mode "session_id" names the
Mcp-Session-Id the server issued. Every run ends within about 20 s (a timeout is reported as
{"error": {"message": "timed out ..."}}). Exit status 0 when the line was printed.
"""

import argparse
import asyncio
import json
import os
import signal
import sys

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import URL_ELICITATION_REQUIRED, ElicitResult, InputRequiredResult

TIMEOUT = 20.0


def emit(line: dict) -> None:
    print(json.dumps(line), flush=True)


def text_of(content: list) -> str | None:
    return next((c.text for c in content if getattr(c, "type", None) == "text"), None)


def decoded(text):
    """A tool's text result, or the JSON object/array it encodes."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return text
    return value if isinstance(value, dict | list) else text


def call_line(result) -> dict:
    return {"result": decoded(text_of(result.content)), "is_error": bool(result.is_error)}


async def accept_url_elicitation(_ctx, params):
    """Stands in for a user: completes URL-mode elicitations, refuses forms."""
    return ElicitResult(action="accept" if getattr(params, "mode", None) == "url" else "decline")


async def run(args, watch: dict) -> dict:
    headers = {}
    if args.token != "-":
        headers["Authorization"] = f"Bearer {args.token}"
    for item in args.header:
        name, _, value = item.partition(":")
        headers[name.strip()] = value.strip()

    async def observe(response: httpx2.Response) -> None:
        if response.headers.get("mcp-session-id"):
            watch["session_id"] = response.headers["mcp-session-id"]
        if response.status_code >= 400:
            await response.aread()  # an error body is short; the SDK reads it again from the cache
            watch["http"] = {
                "status": response.status_code,
                "body": response.text,
                "www_authenticate": response.headers.get("www-authenticate"),
            }

    http = httpx2.AsyncClient(headers=headers, timeout=TIMEOUT, event_hooks={"response": [observe]})
    async with http:
        transport = streamable_http_client(args.url, http_client=http)
        client = Client(
            transport,
            mode=args.mode,
            read_timeout_seconds=TIMEOUT,
            elicitation_callback=accept_url_elicitation,
            cache=None,
        )
        async with client:
            if args.action == "list":
                return {"tools": [tool.name for tool in (await client.list_tools()).tools]}
            if args.action == "call":
                return await call(client, args.args[0], json.loads(args.args[1]), not args.no_list, watch)
            if args.action == "prompt":
                result = await client.get_prompt(args.args[0], json.loads(args.args[1]))
                return {"result": [getattr(m.content, "text", None) for m in result.messages]}
            if args.action == "read":
                result = await client.read_resource(args.args[0])
                return {"result": [getattr(c, "text", None) for c in result.contents]}
            return await elicit(client)


async def call(client: Client, tool: str, arguments: dict, listed: bool, watch: dict) -> dict:
    if listed:
        try:
            await client.list_tools()  # remembers which arguments to mirror into Mcp-Param-* headers
        except MCPError:
            pass  # a proxy may refuse tools/list yet allow the call: try the call regardless
        watch.pop("http", None)  # report the call's own HTTP failure, not the listing's
    notes = []

    async def on_progress(progress, total, message):
        notes.append(progress)

    line = call_line(await client.call_tool(tool, arguments, progress_callback=on_progress))
    if notes:  # notifications/progress arrived (at 2026-07-28 that means an SSE response)
        line["progress"] = len(notes)
    return line


async def elicit(client: Client) -> dict:
    try:
        first = await client.session.call_tool("connect_account", {}, allow_input_required=True)
    except MCPError as error:  # legacy: -32042 URL elicitation required
        if error.code != URL_ELICITATION_REQUIRED:
            raise
        found = ((error.error.data or {}).get("elicitations") or [{}])[0]
        return {
            "elicitation": {"id": found.get("elicitationId"), "url": found.get("url"), "message": found.get("message")},
            "via": f"error {error.code}",
        }
    if not isinstance(first, InputRequiredResult):
        return {"unexpected": call_line(first)}
    key, request = next(iter((first.input_requests or {}).items()))
    line = {
        "elicitation": {"id": key, "url": request.params.url, "message": request.params.message},
        "via": "input_required",
    }
    retry = await client.session.call_tool(
        "connect_account",
        {},
        input_responses={key: ElicitResult(action="accept")},
        request_state=first.request_state,
        allow_input_required=True,
    )
    line["retry"] = call_line(retry) if not isinstance(retry, InputRequiredResult) else {"input_required": True}
    return line


def error_line(exc: BaseException) -> dict:
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    if isinstance(exc, MCPError):
        return {"code": exc.error.code, "message": exc.error.message, "data": exc.error.data}
    if isinstance(exc, TimeoutError):
        return {"message": f"timed out after {TIMEOUT:.0f} s"}
    return {"message": str(exc) or type(exc).__name__, "type": type(exc).__name__}


async def main(args) -> dict:
    watch: dict = {}
    try:
        with anyio.fail_after(TIMEOUT):
            line = await run(args, watch)
    except Exception as exc:  # report it: the caller wants one JSON line whatever happened
        line = {"error": error_line(exc)}
        if "http" in watch:
            line.update(watch["http"])
    if "session_id" in watch:
        line["session_id"] = watch["session_id"]
    return line


def parse(argv: list) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="MCP policy-test client")
    parser.add_argument("mode", choices=["legacy", "2026-07-28"])
    parser.add_argument("url")
    parser.add_argument("token")
    parser.add_argument("action", choices=["list", "call", "elicit", "prompt", "read"])
    parser.add_argument("args", nargs="*")
    parser.add_argument("--header", action="append", default=[], metavar="NAME:VALUE")
    parser.add_argument("--no-list", action="store_true", help="call: do not list the tools first")
    args = parser.parse_args(argv)
    wanted = {"list": 0, "call": 2, "elicit": 0, "prompt": 2, "read": 1}[args.action]
    if len(args.args) != wanted:
        parser.error(f"{args.action} takes {wanted} argument(s)")
    return args


if __name__ == "__main__":
    arguments = parse(sys.argv[1:])
    # Last resort against a hang anywhere (even in teardown): one line, then out.
    signal.signal(signal.SIGALRM, lambda *_: (emit({"error": {"message": "hard timeout"}}), os._exit(1)))
    signal.alarm(int(TIMEOUT) + 10)
    emit(asyncio.run(main(arguments)))
    signal.alarm(0)
