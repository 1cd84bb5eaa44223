#!/usr/bin/env python3
"""The Python peer for the HTTP row: http.server.ThreadingHTTPServer speaking HTTP/1.1
keep-alive with TCP_NODELAY, answering every GET with 200 and a fixed body.

The response goes out in one write: BaseHTTPRequestHandler's send_header/end_headers path
writes the head and the body separately, and with small packets that costs the client a
delayed ACK (about 1k req/s instead of about 12k)."""
import argparse
import http.server
import socketserver


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--body", default="Hello from sockhost\n")
    parser.add_argument("--backlog", type=int, default=1024)
    args = parser.parse_args()
    body = args.body.encode()
    response = (
        b"HTTP/1.1 200 OK\r\nServer: python\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # TCP_NODELAY

        def do_GET(self) -> None:
            self.wfile.write(response)

        def log_message(self, *_args) -> None:
            pass

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = args.backlog

    with Server((args.host, args.port), Handler) as server:
        server.serve_forever()


if __name__ == "__main__":
    main()
