#!/usr/bin/env python3
"""The Python peers for the echo rows: socketserver's own classes with an echo handler.

  echo_server.py --listen tcp://127.0.0.1:9000 --mode threading   (ThreadingTCPServer)
  echo_server.py --listen tcp://127.0.0.1:9000 --mode forking     (ForkingTCPServer)
  echo_server.py --listen unix:/tmp/echo.sock --mode threading    (ThreadingUnixStreamServer)
  echo_server.py --listen udp://127.0.0.1:9000                    (UDPServer)
  echo_server.py --listen unix-dgram:/tmp/echo.sock               (UnixDatagramServer)
"""
import argparse
import os
import socket
import socketserver


class StreamEcho(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data)


class DatagramEcho(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        data, sock = self.request
        sock.sendto(data, self.client_address)


def server_class(scheme: str, mode: str) -> type:
    # By name: ForkingUnixStreamServer only exists from Python 3.12 on.
    names = {
        ("tcp", "threading"): "ThreadingTCPServer",
        ("tcp", "forking"): "ForkingTCPServer",
        ("tcp", "sync"): "TCPServer",
        ("unix", "threading"): "ThreadingUnixStreamServer",
        ("unix", "forking"): "ForkingUnixStreamServer",
        ("unix", "sync"): "UnixStreamServer",
        ("udp", "sync"): "UDPServer",
        ("udp", "threading"): "ThreadingUDPServer",
        ("unix-dgram", "sync"): "UnixDatagramServer",
        ("unix-dgram", "threading"): "ThreadingUnixDatagramServer",
    }
    cls = getattr(socketserver, names.get((scheme, mode), ""), None)
    if cls is None:
        raise SystemExit(f"echo_server.py: no socketserver class for {scheme} in mode {mode} in this Python")
    return cls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listen", required=True)
    parser.add_argument("--mode", default="threading")
    parser.add_argument("--backlog", type=int, default=1024)
    args = parser.parse_args()

    scheme, _, rest = args.listen.partition(":")
    if scheme in ("tcp", "udp"):
        host, _, port = rest.removeprefix("//").rpartition(":")
        address: object = (host, int(port))
    else:
        address = rest
        if os.path.exists(rest):
            os.unlink(rest)
    datagram = scheme in ("udp", "unix-dgram")
    base = server_class(scheme, args.mode)

    class Server(base):  # type: ignore[misc, valid-type]
        allow_reuse_address = True
        daemon_threads = True
        request_queue_size = args.backlog

        def server_bind(self) -> None:
            super().server_bind()
            if scheme == "tcp":
                self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    with Server(address, DatagramEcho if datagram else StreamEcho) as server:
        server.serve_forever()


if __name__ == "__main__":
    main()
