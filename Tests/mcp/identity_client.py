"""A real MCP client (official Python SDK, streamable HTTP) that calls `whoami` through Gatehouse.

    python3 identity_client.py call <url> <token>
        initialize, call whoami, leave the session open (no DELETE) and print one JSON line:
        {"result": {...whoami...}, "session_id": "<Mcp-Session-Id the client got>"}

    python3 identity_client.py replay <url> <token> <session-id>
        one raw JSON-RPC tools/call POST carrying `Mcp-Session-Id: <session-id>` and this token
        (e.g. another user replaying someone else's session) and print one JSON line:
        {"status": <HTTP status>, "body": "<response body>"}

Works with mcp 2.x and mcp 1.x. Exit status 0 when the line was printed.
"""

import asyncio
import json
import sys
import urllib.error
import urllib.request


async def call(url: str, token: str) -> dict:
    from mcp import ClientSession  # imported here: `replay` needs only the standard library

    headers = {"Authorization": f"Bearer {token}"}
    try:  # mcp >= 2: headers go on the HTTP client; the session id is read off the responses
        import httpx2
        from mcp.client.streamable_http import streamable_http_client
    except ImportError:
        httpx2 = None

    if httpx2 is not None:
        seen = {}

        async def remember_session(response):
            sid = response.headers.get("mcp-session-id")
            if sid:
                seen["id"] = sid

        http = httpx2.AsyncClient(headers=headers, event_hooks={"response": [remember_session]}, timeout=10)
        async with http:
            # terminate_on_close=False: the session must outlive this process (the test replays it).
            async with streamable_http_client(url, http_client=http, terminate_on_close=False) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    result = await session.call_tool("whoami", {})
        session_id = seen.get("id")
    else:  # mcp 1.x
        from mcp.client.streamable_http import streamablehttp_client

        async with streamablehttp_client(url, headers=headers, terminate_on_close=False) as (read, write, get_id):
            async with ClientSession(read, write) as session:
                await session.initialize()
                result = await session.call_tool("whoami", {})
                session_id = get_id()

    if getattr(result, "isError", None) or getattr(result, "is_error", None):
        raise RuntimeError(f"whoami failed: {result}")
    text = next(c.text for c in result.content if getattr(c, "type", None) == "text")
    return {"result": json.loads(text), "session_id": session_id}


def replay(url: str, token: str, session_id: str) -> dict:
    body = json.dumps({"jsonrpc": "2.0", "id": 99, "method": "tools/call", "params": {"name": "whoami", "arguments": {}}})
    request = urllib.request.Request(
        url,
        data=body.encode(),
        method="POST",
        headers={
            "Authorization": f"Bearer {token}",
            "Mcp-Session-Id": session_id,
            "Mcp-Protocol-Version": "2025-11-25",
            "Accept": "application/json, text/event-stream",
            "Content-Type": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return {"status": response.status, "body": response.read().decode("utf-8", "replace")}
    except urllib.error.HTTPError as error:
        return {"status": error.code, "body": error.read().decode("utf-8", "replace")}


def main(argv: list) -> None:
    if len(argv) == 4 and argv[1] == "call":
        print(json.dumps(asyncio.run(call(argv[2], argv[3]))), flush=True)
    elif len(argv) == 5 and argv[1] == "replay":
        print(json.dumps(replay(argv[2], argv[3], argv[4])), flush=True)
    else:
        sys.exit("usage: identity_client.py call <url> <token> | replay <url> <token> <session-id>")


if __name__ == "__main__":
    main(sys.argv)
