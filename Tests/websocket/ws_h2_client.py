"""A WebSocket client over HTTP/2 (RFC 8441 extended CONNECT), for the pass-through tests: the
`h2` package for HTTP/2 and WebSocket frames built here (RFC 6455 5.2), over cleartext (h2c).

    ws_h2_client.py PORT PATH TOKEN [--header NAME:VALUE]... [--send TEXT | --send-size N]... [--wait-close]

Prints one JSON line: {"connect_protocol": the server's SETTINGS_ENABLE_CONNECT_PROTOCOL,
"status": the CONNECT's :status, "hello": <the server's first message>, "echo": [replies; one
over 1 KiB as {"size": n, "all_x": bool}], "closed": true/false} — or, when the CONNECT is
refused, {"status": <code>, "body": "..."}.
"""

import json
import os
import socket
import sys

import h2.config
import h2.connection
import h2.events
import h2.settings

import client_args


def ws_frame(opcode, payload):
    """A client frame: FIN, masked."""
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = bytes([0x80 | opcode, 0x80 | n])
    elif n < 65536:
        head = bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 0x80 | 127]) + n.to_bytes(8, "big")
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "big") if n else 0
    masked = (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big") if n else b""
    return head + mask + masked


class Client:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=15)
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.conn.initiate_connection()
        self.conn.update_settings({h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL: 0})
        self.flush()
        self.connect_protocol = None
        self.status = None
        self.body = b""
        self.ws = b""
        self.ended = False

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def pump(self):
        data = self.sock.recv(65536)
        if not data:
            self.ended = True
            return
        for event in self.conn.receive_data(data):
            if isinstance(event, h2.events.RemoteSettingsChanged):
                changed = event.changed_settings.get(h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL)
                if changed is not None:
                    self.connect_protocol = changed.new_value
            elif isinstance(event, h2.events.ResponseReceived):
                self.status = int(dict(event.headers)[":status"])
            elif isinstance(event, h2.events.DataReceived):
                if self.status == 200:
                    self.ws += event.data
                else:
                    self.body += event.data
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, (h2.events.StreamEnded, h2.events.StreamReset, h2.events.ConnectionTerminated)):
                self.ended = True
        self.flush()

    def message(self):
        """The next whole text message (fragments joined), or None when the stream ended first."""
        parts = b""
        while True:
            frame = self.next_frame()
            if frame is None:
                return None
            fin, opcode, payload = frame
            if opcode == 0x8:
                return None
            parts += payload
            if fin:
                return parts.decode("utf-8")

    def next_frame(self):
        while True:
            if len(self.ws) >= 2:
                b0, b1 = self.ws[0], self.ws[1]
                n, at = b1 & 0x7F, 2
                if n == 126 and len(self.ws) >= 4:
                    n, at = int.from_bytes(self.ws[2:4], "big"), 4
                elif n == 127 and len(self.ws) >= 10:
                    n, at = int.from_bytes(self.ws[2:10], "big"), 10
                if n < 126 or at > 2:
                    if len(self.ws) >= at + n:
                        payload = self.ws[at:at + n]
                        self.ws = self.ws[at + n:]
                        return (b0 & 0x80 != 0, b0 & 0x0F, payload)
            if self.ended:
                return None
            self.pump()


def main():
    port, path, token = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    headers, sends, wait_close = client_args.parse(sys.argv[4:], str.lower)
    if token != "-":
        headers.append(("authorization", "Bearer " + token))
    c = Client(port)
    while c.connect_protocol is None and not c.ended:
        c.pump()
    request = [(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "http"), (":path", path),
               (":authority", f"127.0.0.1:{port}"), ("sec-websocket-version", "13")] + headers
    c.conn.send_headers(1, request, end_stream=False)
    c.flush()
    while c.status is None and not c.ended:
        c.pump()
    if c.status != 200:
        while not c.ended:
            c.pump()
        print(json.dumps({"connect_protocol": c.connect_protocol, "status": c.status, "body": c.body.decode("utf-8", "replace")}))
        return
    hello_text = c.message()
    hello = json.loads(hello_text) if hello_text else None
    echo = []
    for text in sends:
        frame = ws_frame(0x1, text.encode())
        at = 0
        while at < len(frame):
            # Within the stream's and the connection's send windows.
            room = min(c.conn.local_flow_control_window(1), c.conn.max_outbound_frame_size)
            if room <= 0:
                c.pump()
                continue
            c.conn.send_data(1, frame[at:at + room])
            c.flush()
            at += room
        reply = c.message()
        echo.append(reply if reply is None or len(reply) <= 1024 else {"size": len(reply), "all_x": reply == "x" * len(reply)})
    closed = False
    if wait_close:
        closed = c.message() is None
    print(json.dumps({"connect_protocol": c.connect_protocol, "status": c.status, "hello": hello, "echo": echo, "closed": closed}))


main()
