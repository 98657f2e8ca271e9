"""Raw HTTP for MCP tests (standard library only, no SDK): one request, one JSON line back.

    python3 raw_mcp.py URL [--body JSON | --body-file PATH] [--header NAME:VALUE]... [options]

POSTs the body (a JSON-RPC request, notification, batch, or any text) to URL and prints
{"status", "headers", "body", "json"?, "events"?, "timed_out"?}: the HTTP status, the response
headers (lowercase names; repeated ones joined with ", "), the body text, the body parsed as
JSON when it is JSON, and for a text/event-stream response the parsed events
[{"event", "id", "data"}] (data parsed as JSON when it is). The response is read to its end;
a stream still open after --timeout seconds (default 20) is reported as read so far, with
"timed_out": true.

Options:
    --header NAME:VALUE  send this header, name spelled as given (repeatable)
    --omit NAME          do not send this header, even one --modern would add (repeatable)
    --token TOKEN        shorthand for --header "Authorization:Bearer TOKEN"
    --modern [VERSION]   make the body a well-formed 2026-07-28 request (default version
                         2026-07-28): add the params._meta envelope (protocolVersion,
                         clientCapabilities, clientInfo) where missing, and the MCP-Protocol-Version,
                         Mcp-Method and Mcp-Name headers derived from the (first) request unless
                         --header/--omit says otherwise
    --legacy [VERSION]   send MCP-Protocol-Version: VERSION (default 2025-11-25) unless given
    --session ID         send Mcp-Session-Id: ID
    --pad-to N           append spaces to the body until it is N bytes (still the same JSON)
    --method VERB        HTTP method (default POST; GET/DELETE send no body)
Accept (application/json, text/event-stream) and Content-Type (application/json) are sent unless
given or omitted. Connection failures print {"status": null, "error": "..."}.
"""

import argparse
import http.client
import json
import socket
import sys
import time
import urllib.parse

MODERN = "2026-07-28"
NAME_PARAM = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}


def add_envelope(message, version: str) -> None:
    if isinstance(message, dict) and "method" in message:
        params = message.setdefault("params", {})
        if isinstance(params, dict):
            meta = params.setdefault("_meta", {})
            meta.setdefault("io.modelcontextprotocol/protocolVersion", version)
            meta.setdefault("io.modelcontextprotocol/clientCapabilities", {})
            meta.setdefault("io.modelcontextprotocol/clientInfo", {"name": "raw_mcp", "version": "0"})


def modern_headers(body, version: str) -> dict:
    first = body[0] if isinstance(body, list) and body else body
    headers = {"MCP-Protocol-Version": version}
    if isinstance(first, dict) and isinstance(first.get("method"), str):
        headers["Mcp-Method"] = first["method"]
        name = (first.get("params") or {}).get(NAME_PARAM.get(first["method"], ""))
        if isinstance(name, str):
            headers["Mcp-Name"] = name
    return headers


def sse_events(text: str) -> list:
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        event = {"event": "message", "id": None, "data": []}
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue  # blank, or a comment (keepalive ping)
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "data":
                event["data"].append(value)
            elif field in ("event", "id", "retry"):
                event[field] = value
        if event["data"] or event["id"] is not None:
            data = "\n".join(event["data"])
            try:
                event["data"] = json.loads(data)
            except ValueError:
                event["data"] = data
            events.append(event)
    return events


def read_all(response, sock: socket.socket, deadline: float) -> tuple[bytes, bool]:
    """The whole body (chunked or not), or what arrived before the deadline."""
    chunks = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return b"".join(chunks), True
        sock.settimeout(remaining)
        try:
            chunk = response.read1(65536)
        except (TimeoutError, socket.timeout):
            return b"".join(chunks), True
        if not chunk:
            return b"".join(chunks), False
        chunks.append(chunk)


def send(url: str, method: str, headers: list, body: bytes | None, timeout: float) -> dict:
    parts = urllib.parse.urlsplit(url)
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = connection_class(parts.hostname, parts.port, timeout=timeout)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    deadline = time.monotonic() + timeout
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers:
            connection.putheader(name, value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        try:
            connection.endheaders(body)
        except (BrokenPipeError, ConnectionResetError):
            # The server answered early (413) and closed while the body was still going out:
            # its answer is already here to read.
            pass
        sock = connection.sock
        response = connection.getresponse()
        raw, timed_out = read_all(response, sock, deadline)
    except (OSError, http.client.HTTPException) as error:
        return {"status": None, "error": f"{type(error).__name__}: {error}"}
    finally:
        connection.close()
    found = {}
    for name, value in response.getheaders():
        key = name.lower()
        found[key] = f"{found[key]}, {value}" if key in found else value
    text = raw.decode("utf-8", "replace")
    line = {"status": response.status, "headers": found, "body": text}
    if found.get("content-type", "").startswith("text/event-stream"):
        line["events"] = sse_events(text)
    else:
        try:
            line["json"] = json.loads(text)
        except ValueError:
            pass
    if timed_out:
        line["timed_out"] = True
    return line


def main(argv: list) -> dict:
    parser = argparse.ArgumentParser(description="raw MCP HTTP request")
    parser.add_argument("url")
    parser.add_argument("--body")
    parser.add_argument("--body-file")
    parser.add_argument("--header", action="append", default=[], metavar="NAME:VALUE")
    parser.add_argument("--omit", action="append", default=[], metavar="NAME")
    parser.add_argument("--token")
    parser.add_argument("--modern", nargs="?", const=MODERN)
    parser.add_argument("--legacy", nargs="?", const="2025-11-25")
    parser.add_argument("--session")
    parser.add_argument("--pad-to", type=int)
    parser.add_argument("--method", default="POST")
    parser.add_argument("--timeout", type=float, default=20.0)
    args = parser.parse_args(argv)

    text = args.body
    if args.body_file:
        with open(args.body_file, encoding="utf-8") as file:
            text = file.read()
    body = None
    if args.method.upper() not in ("GET", "DELETE", "HEAD"):
        text = text if text is not None else "{}"
        if args.modern:
            parsed = json.loads(text)
            for message in parsed if isinstance(parsed, list) else [parsed]:
                add_envelope(message, args.modern)
            text = json.dumps(parsed)
        body = text.encode("utf-8")
        if args.pad_to and len(body) < args.pad_to:
            body += b" " * (args.pad_to - len(body))

    # Later entries win, by case-insensitive name: defaults, then derived, then explicit.
    wanted = {"accept": ("Accept", "application/json, text/event-stream")}
    if body is not None:
        wanted["content-type"] = ("Content-Type", "application/json")
    derived = {}
    if args.modern:
        derived.update(modern_headers(json.loads(body), args.modern))
    if args.legacy:
        derived["MCP-Protocol-Version"] = args.legacy
    if args.session:
        derived["Mcp-Session-Id"] = args.session
    if args.token:
        derived["Authorization"] = f"Bearer {args.token}"
    for name, value in derived.items():
        wanted[name.lower()] = (name, value)
    explicit = []
    for item in args.header:
        name, _, value = item.partition(":")
        wanted.pop(name.strip().lower(), None)
        explicit.append((name.strip(), value.strip()))
    omitted = {name.lower() for name in args.omit}
    headers = [pair for key, pair in wanted.items() if key not in omitted]
    headers += [pair for pair in explicit if pair[0].lower() not in omitted]
    return send(args.url, args.method.upper(), headers, body, args.timeout)


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])), flush=True)
