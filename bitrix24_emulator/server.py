"""HTTP layer: two threaded servers on 127.0.0.1 (portal and OAuth), plain or TLS, handing requests to the emulator."""

from __future__ import annotations

import socket
import ssl
import struct
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional
from urllib.parse import urlsplit


@dataclass
class Reply:
    """What to do with a request: send an answer, reset the connection, or hang then close."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: dict = field(default_factory=dict)
    action: str = "send"  # "send" | "reset" | "hang"
    hang_seconds: float = 0.0


class EmulatorHTTPServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer that knows its emulator and can cut every open connection on stop."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, emulator: Any, role: str, ssl_context: Optional[ssl.SSLContext] = None):
        self.emulator = emulator
        self.role = role
        self.ssl_context = ssl_context
        self.open_connections: set = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def finish_request(self, request, client_address) -> None:
        if self.ssl_context is None:
            super().finish_request(request, client_address)
            return
        # The handshake runs here, in the connection's own thread, so a client that stalls or
        # refuses the certificate never blocks the accept loop.
        request.settimeout(_Handler.timeout)
        try:
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)  # type: ignore[arg-type]  # stdlib stub: Self
        finally:
            self.shutdown_request(tls)

    def close_open_connections(self) -> None:
        with self.connections_lock:
            for connection in list(self.open_connections):
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.open_connections.clear()


class _Handler(BaseHTTPRequestHandler):
    server: "EmulatorHTTPServer"
    _headers_buffer: list[bytes]
    protocol_version = "HTTP/1.1"
    server_version = "nginx"
    sys_version = ""
    # Idle keep-alive connections give their thread back after this many seconds.
    timeout = 30

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.connections_lock:
            self.server.open_connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.open_connections.discard(self.connection)
        try:
            super().finish()
        except (OSError, ValueError):
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return  # the emulator keeps its own request log

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._handle()

    def do_POST(self) -> None:  # noqa: N802
        self._handle()

    def do_HEAD(self) -> None:  # noqa: N802
        self._handle()

    def _handle(self) -> None:
        parsed = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        reply: Reply = self.server.emulator._dispatch(
            self.server.role, self.command, parsed.path, parsed.query, self.headers, body)
        self._deliver(reply)

    def _deliver(self, reply: Reply) -> None:
        if reply.action == "reset":
            self._reset()
            return
        if reply.action == "hang":
            self.server.emulator._stopping.wait(reply.hang_seconds)
            self.close_connection = True
            return
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, str(value))
        # Headers and body in one write: two small writes meet Nagle + delayed ACK (40 ms per answer).
        self._headers_buffer.append(b"\r\n")
        if self.command != "HEAD":
            self._headers_buffer.append(reply.body)
        self.flush_headers()

    def _reset(self) -> None:
        """Close with SO_LINGER 0: the peer sees a TCP RST (``ConnectionResetError``), not a clean close."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()
            self.connection.close()
        except OSError:
            pass


def tls_context(certfile: str, keyfile: Optional[str]) -> ssl.SSLContext:
    """A server-side TLS context (TLS 1.2+) for the given certificate chain and key."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile, keyfile)
    return context


def start_server(emulator: Any, role: str, host: str, port: int,
                 ssl_context: Optional[ssl.SSLContext] = None) -> tuple[EmulatorHTTPServer, threading.Thread]:
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError("the emulator only listens on the loopback interface (127.0.0.1)")
    server = EmulatorHTTPServer((host, port), emulator, role, ssl_context)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name=f"bitrix24-emulator-{role}", daemon=True)
    thread.start()
    return server, thread


def stop_server(server: Optional[EmulatorHTTPServer], thread: Optional[threading.Thread]) -> None:
    if server is None:
        return
    server.shutdown()
    server.close_open_connections()
    server.server_close()
    if thread is not None:
        thread.join(timeout=5)
