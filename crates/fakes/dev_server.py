"""A test dev server, as `npm run dev` would start one: it serves the directory it runs in
(the session's checkout) over HTTP on $PORT at 127.0.0.1, answers a WebSocket on /ws by
echoing each text message back (what hot reload does over a proxy), prints "ready" once it
listens, and exits with a code on /crash?code=N (a dev server that dies).

Other paths: /headers answers the request's headers as JSON (what reached the dev server
through the proxy), /env answers PORT and KOSUKE_PREVIEW_URL. Python's standard library only:
it runs inside the sandbox, which shows the system's programs and not the test's.
"""

import base64
import hashlib
import http.server
import json
import os
import socket
import struct
import sys
import urllib.parse

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        # Headers and body go in separate writes: without this a keep-alive client's delayed
        # ACK holds the body back ~40 ms (Node's servers set it too).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format, *args):
        print("request " + (format % args), flush=True)

    def answer(self, status, body, content_type="application/json"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/headers":
            return self.answer(200, json.dumps({k.lower(): v for k, v in self.headers.items()}))
        if url.path == "/env":
            keys = ("PORT", "KOSUKE_PREVIEW_URL")
            return self.answer(200, json.dumps({k: os.environ.get(k) for k in keys}))
        if url.path == "/crash":
            code = int(urllib.parse.parse_qs(url.query).get("code", ["3"])[0])
            print(f"crashing with code {code}", flush=True)
            os._exit(code)
        if url.path == "/ws" and self.headers.get("Upgrade", "").lower() == "websocket":
            return self.websocket()
        return super().do_GET()

    def websocket(self):
        key = self.headers["Sec-WebSocket-Key"]
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        # The connection is the WebSocket's now; it is never read as HTTP again.
        self.close_connection = True
        while True:
            head = self.rfile.read(2)
            if len(head) < 2:
                return
            opcode, length = head[0] & 0x0F, head[1] & 0x7F
            if length == 126:
                length = struct.unpack("!H", self.rfile.read(2))[0]
            elif length == 127:
                length = struct.unpack("!Q", self.rfile.read(8))[0]
            mask = self.rfile.read(4) if head[1] & 0x80 else b"\0\0\0\0"
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(length)))
            if opcode == 0x8:
                self.wfile.write(b"\x88\x00")
                return
            if opcode == 0x1:
                reply = b"echo: " + payload
                self.wfile.write(bytes([0x81, len(reply)]) + reply if len(reply) < 126
                                 else bytes([0x81, 126]) + struct.pack("!H", len(reply)) + reply)
                self.wfile.flush()


def main():
    port = int(os.environ["PORT"])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"ready on {port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
