"""Answers 503 Service Unavailable on a loopback port for a while, then exits:
    python unavailable.py PORT SECONDS
What clients meet while a service behind a load balancer restarts (devcloud.sh restart)."""

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Unavailable(BaseHTTPRequestHandler):
    def answer(self) -> None:
        # Read the body first, so that a client still sending one reads the answer.
        remaining = int(self.headers.get("Content-Length") or 0)
        while remaining > 0 and (chunk := self.rfile.read(min(remaining, 1 << 20))):
            remaining -= len(chunk)
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = answer

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Unavailable)
    threading.Timer(float(sys.argv[2]), server.shutdown).start()
    server.serve_forever()
    server.server_close()


if __name__ == "__main__":
    main()
