#!/usr/bin/env python3
"""A minimal OpenTelemetry OTLP/HTTP trace receiver for tests.

Usage::

    python3 Tests/otlp/otlp_receiver.py [PORT]

PORT defaults to 0 (the kernel picks a free one). The receiver listens on
127.0.0.1 only and, once listening, prints ``READY <port>`` on stdout (one
line, flushed). Point the exporter under test at
``http://127.0.0.1:<port>/v1/traces`` (for OpenTelemetry SDKs:
``OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:<port>`` or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://127.0.0.1:<port>/v1/traces``).

What it accepts:

* ``POST /v1/traces`` with ``Content-Type: application/x-protobuf``: the body
  is an OTLP ``ExportTraceServiceRequest``. It is answered ``200`` with an
  empty ``ExportTraceServiceResponse`` (``Content-Type:
  application/x-protobuf``; an empty message serialises to zero bytes).
* ``POST /v1/traces`` with ``Content-Type: application/json`` (OTLP/JSON,
  ids as hex strings as the OTLP spec says): answered ``200`` with ``{}``.
* ``Content-Encoding: gzip`` (or ``identity``) on either; the body may be
  sent with ``Content-Length`` or ``Transfer-Encoding: chunked``.

Anything else is refused: another path is 404, another method 405, another
content type or encoding 415, a body that does not parse 400. Each refusal is
also reported on stderr as ``REJECT <status> <reason>``.

For every span received it prints one line on stdout (flushed; lines from
concurrent requests never interleave)::

    SPAN {"trace_id": "...", "span_id": "...", "parent_span_id": "...",
          "name": "...", "kind": "SPAN_KIND_SERVER",
          "start_time_unix_nano": 1700000000000000000,
          "end_time_unix_nano": 1700000000001000000,
          "status_code": "STATUS_CODE_UNSET", "status_message": "",
          "attributes": {"http.request.method": "GET", ...},
          "service_name": "gatehouse", "scope": "..."}

(on one line). ``trace_id``, ``span_id`` and ``parent_span_id`` are lowercase
hex; ``parent_span_id`` is ``""`` for a root span. ``kind`` and
``status_code`` are the protobuf enum names. ``attributes`` is a flat
``{key: value}`` map: string, int, bool and double values as JSON values,
arrays as JSON lists, key-value lists as JSON objects, bytes as lowercase hex,
an empty value as null. ``service_name`` is the resource's ``service.name``
attribute (null when the resource has none); ``scope`` is the
instrumentation scope's name.

It stops on SIGTERM or SIGINT (exit status 0).

Dependencies: the ``opentelemetry-proto`` package from PyPI (it brings
``protobuf``); written against opentelemetry-proto 1.45.2 with protobuf
7.36.2. If it is missing: ``python3 -m pip install opentelemetry-proto``.
"""

import json
import signal
import sys
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    from google.protobuf import json_format
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
    from opentelemetry.proto.trace.v1 import trace_pb2
except ImportError as error:  # pragma: no cover - environment problem
    sys.stderr.write(
        "otlp_receiver: %s; install it with: python3 -m pip install opentelemetry-proto\n"
        % error
    )
    sys.exit(2)

TRACES_PATH = "/v1/traces"
MAX_BODY = 64 * 1024 * 1024  # compressed or not; a test never sends this much

_output_lock = threading.Lock()


def _emit(line, stream=None):
    stream = stream or sys.stdout
    with _output_lock:
        stream.write(line + "\n")
        stream.flush()


def any_value(value):
    """An OTLP AnyValue as a plain JSON-able Python value."""
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "string_value":
        return value.string_value
    if which == "bool_value":
        return value.bool_value
    if which == "int_value":
        return value.int_value
    if which == "double_value":
        return value.double_value
    if which == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    if which == "bytes_value":
        return value.bytes_value.hex()
    return None  # a kind newer than this receiver knows


def attributes(key_values):
    return {kv.key: any_value(kv.value) for kv in key_values}


def span_records(request):
    """One dict per span in an ExportTraceServiceRequest."""
    for resource_spans in request.resource_spans:
        resource_attributes = attributes(resource_spans.resource.attributes)
        service_name = resource_attributes.get("service.name")
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope.name
            for span in scope_spans.spans:
                yield {
                    "trace_id": span.trace_id.hex(),
                    "span_id": span.span_id.hex(),
                    "parent_span_id": span.parent_span_id.hex(),
                    "name": span.name,
                    "kind": trace_pb2.Span.SpanKind.Name(span.kind),
                    "start_time_unix_nano": span.start_time_unix_nano,
                    "end_time_unix_nano": span.end_time_unix_nano,
                    "status_code": trace_pb2.Status.StatusCode.Name(span.status.code),
                    "status_message": span.status.message,
                    "attributes": attributes(span.attributes),
                    "service_name": service_name,
                    "scope": scope,
                }


def _hex_ids_to_base64(document):
    """OTLP/JSON carries ids as hex; protobuf's JSON mapping wants base64."""
    import base64

    def convert(obj, keys):
        for key in keys:
            if isinstance(obj.get(key), str):
                obj[key] = base64.b64encode(bytes.fromhex(obj[key])).decode("ascii")

    for resource_spans in document.get("resourceSpans", []) or []:
        for scope_spans in resource_spans.get("scopeSpans", []) or []:
            for span in scope_spans.get("spans", []) or []:
                convert(span, ("traceId", "spanId", "parentSpanId"))
                for link in span.get("links", []) or []:
                    convert(link, ("traceId", "spanId"))
    return document


class _Refused(Exception):
    def __init__(self, status, reason):
        super().__init__(reason)
        self.status = status
        self.reason = reason


class OTLPHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # exporters keep connections alive
    server_version = "otlp-test-receiver"

    def log_message(self, format, *args):  # noqa: A002 - silence access log
        pass

    # --- helpers ---------------------------------------------------------

    def _reply(self, status, body=b"", content_type="application/x-protobuf"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _refuse(self, status, reason):
        _emit("REJECT %d %s" % (status, reason), sys.stderr)
        body = json.dumps({"error": reason}).encode()
        self._reply(status, body, "application/json")

    def _read_body(self):
        transfer_encoding = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in transfer_encoding:
            chunks, total = [], 0
            while True:
                size_line = self.rfile.readline(65537)
                if not size_line:
                    raise _Refused(400, "truncated chunked body")
                try:
                    size = int(size_line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise _Refused(400, "bad chunk size")
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                total += size
                if total > MAX_BODY:
                    raise _Refused(413, "body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(3)  # CRLF after the chunk
            return b"".join(chunks)
        length = self.headers.get("Content-Length")
        if length is None:
            raise _Refused(411, "Content-Length or chunked encoding required")
        try:
            length = int(length)
        except ValueError:
            raise _Refused(400, "bad Content-Length")
        if length < 0 or length > MAX_BODY:
            raise _Refused(413, "body too large")
        return self.rfile.read(length)

    def _decode(self, body):
        encoding = (self.headers.get("Content-Encoding") or "identity").strip().lower()
        if encoding == "identity":
            return body
        if encoding in ("gzip", "x-gzip"):
            try:
                decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
                data = decompressor.decompress(body, MAX_BODY)
                if decompressor.unconsumed_tail:
                    raise _Refused(413, "decompressed body too large")
                if not decompressor.eof:
                    raise _Refused(400, "bad gzip body: truncated")
                return data
            except zlib.error as error:
                raise _Refused(400, "bad gzip body: %s" % error)
        raise _Refused(415, "unsupported Content-Encoding %r" % encoding)

    # --- methods ----------------------------------------------------------

    def do_POST(self):  # noqa: N802 - http.server's naming
        try:
            path = self.path.split("?", 1)[0]
            if path != TRACES_PATH:
                # Still drain the body so the connection stays usable.
                self._read_body()
                raise _Refused(404, "no such path %s" % path)
            content_type = (self.headers.get("Content-Type") or "").split(";", 1)[0]
            content_type = content_type.strip().lower()
            body = self._decode(self._read_body())
            request = trace_service_pb2.ExportTraceServiceRequest()
            if content_type == "application/x-protobuf":
                try:
                    request.ParseFromString(body)
                except DecodeError as error:
                    raise _Refused(400, "bad protobuf body: %s" % error)
                answer = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
                answer_type = "application/x-protobuf"
            elif content_type == "application/json":
                try:
                    document = _hex_ids_to_base64(json.loads(body))
                    json_format.ParseDict(document, request, ignore_unknown_fields=True)
                except (ValueError, json_format.ParseError) as error:
                    raise _Refused(400, "bad JSON body: %s" % error)
                answer, answer_type = b"{}", "application/json"
            else:
                raise _Refused(415, "unsupported Content-Type %r" % content_type)
            for record in span_records(request):
                _emit("SPAN " + json.dumps(record, sort_keys=False, separators=(", ", ": ")))
            self._reply(200, answer, answer_type)
        except _Refused as refusal:
            self._refuse(refusal.status, refusal.reason)

    def _not_allowed(self):
        self.close_connection = True
        self._refuse(405, "method %s not allowed" % self.command)

    do_GET = do_PUT = do_DELETE = do_PATCH = _not_allowed


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main(argv):
    if len(argv) > 2 or (len(argv) == 2 and argv[1] in ("-h", "--help")):
        sys.stdout.write(__doc__)
        return 0 if len(argv) == 2 else 2
    port = int(argv[1]) if len(argv) == 2 else 0
    server = _Server(("127.0.0.1", port), OTLPHandler)

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    _emit("READY %d" % server.server_address[1])
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
