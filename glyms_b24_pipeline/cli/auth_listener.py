"""``glyms-b24 auth --listen``: receive Bitrix24's OAuth redirect on this machine.

Bitrix24 sends the browser to the application's redirect URI with ``code`` (valid 30 s) and
the ``state`` we put in the authorise URL. Serving that URI here spares the operator copying
the code by hand; the random ``state`` makes sure the code is the one this run asked for.
"""

from __future__ import annotations

import secrets
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Callable, Optional, TextIO
from urllib.parse import parse_qs, urlsplit

from glyms_b24_pipeline.settings.errors import ConfigError, OperatorError

DEFAULT_TIMEOUT_SECONDS = 300.0

_PAGE = """<!doctype html><html lang="es"><head><meta charset="utf-8"><title>glyms-b24</title></head>
<body><h1>{title}</h1><p>{text}</p></body></html>"""


class AuthorisationTimeout(OperatorError):
    """No redirect arrived in time."""


class AuthorisationRefused(OperatorError):
    """The portal redirected with an error instead of a code."""


@dataclass(frozen=True)
class ListenAddress:
    """Where the redirect is served: the bound address, the port and the path of the redirect URI."""

    bind: str
    port: int
    path: str

    @classmethod
    def from_redirect_uri(cls, redirect_uri: str, *, port: Optional[int] = None, bind: str = "127.0.0.1") -> "ListenAddress":
        parts = urlsplit(redirect_uri.strip())
        if parts.scheme != "http" or not parts.hostname:
            raise ConfigError(
                f"--listen necesita un redirect_uri http://HOST:PUERTO/RUTA, no {redirect_uri!r} "
                "(bitrix24.redirect_uri o --redirect-uri)")
        return cls(bind=bind, port=port if port is not None else (parts.port or 80), path=_normal_path(parts.path))


def _normal_path(path: str) -> str:
    return "/" + path.strip("/") if path.strip("/") else "/"


@dataclass
class _Outcome:
    code: Optional[str] = None
    error: Optional[str] = None
    params: dict[str, str] = field(default_factory=dict)


class RedirectListener:
    """A one-shot HTTP server for the OAuth redirect; ``wait()`` returns the code with the right state."""

    def __init__(self, address: ListenAddress, state: str, *, warn: Optional[Callable[[str], None]] = None):
        self.address = address
        self.state = state
        self._warn = warn or (lambda text: print(text, file=sys.stderr, flush=True))
        self._outcome = _Outcome()
        self._arrived = threading.Event()
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                listener._handle(self)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet: the URL carries the code
                pass

        try:
            self._server = HTTPServer((address.bind, address.port), Handler)
        except OSError as exc:
            raise ConfigError(
                f"no se puede escuchar en {address.bind}:{address.port} ({exc.strerror or exc}); "
                "use --port o un redirect_uri con un puerto libre mayor que 1024") from None
        self.port = self._server.server_address[1]

    def _reply(self, request: BaseHTTPRequestHandler, status: int, title: str, text: str) -> None:
        body = _PAGE.format(title=title, text=text).encode("utf-8")
        request.send_response(status)
        request.send_header("Content-Type", "text/html; charset=utf-8")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(request.path)
        if _normal_path(parts.path) != self.address.path:
            self._reply(request, 404, "No encontrado", "Esta no es la dirección de redirección de glyms-b24.")
            return
        params = {key: values[0] for key, values in parse_qs(parts.query).items()}
        if not secrets.compare_digest(params.get("state", ""), self.state):
            self._reply(request, 400, "Autorización rechazada",
                        "El parámetro state no coincide con el de esta ejecución de glyms-b24 auth --listen.")
            self._warn("aviso: redirección rechazada: su state no es el de esta ejecución "
                       "(¿una pestaña vieja u otra autorización?); sigo esperando la correcta")
            return
        if params.get("error"):
            self._outcome = _Outcome(error=params.get("error_description") or params["error"], params=params)
            self._reply(request, 400, "Autorización rechazada", "Bitrix24 no concedió el acceso; vea la terminal.")
        elif params.get("code"):
            self._outcome = _Outcome(code=params["code"], params=params)
            self._reply(request, 200, "Autorización recibida",
                        "glyms-b24 recibió el código y guarda los tokens. Puede cerrar esta pestaña.")
        else:
            self._reply(request, 400, "Falta el código", "La redirección no trae el parámetro code.")
            self._warn("aviso: llegó una redirección sin code; sigo esperando")
            return
        self._arrived.set()

    def wait(self, timeout_seconds: float) -> _Outcome:
        """Serve requests until a redirect with our state arrives or ``timeout_seconds`` pass."""
        deadline = time.monotonic() + timeout_seconds
        try:
            while not self._arrived.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AuthorisationTimeout(
                        f"no llegó la redirección de Bitrix24 en {timeout_seconds:.0f} s; "
                        "repita glyms-b24 auth --listen (o use --timeout)")
                self._server.timeout = min(remaining, 1.0)
                self._server.handle_request()
        finally:
            self._server.server_close()
        if self._outcome.error:
            raise AuthorisationRefused(f"Bitrix24 rechazó la autorización: {self._outcome.error}")
        return self._outcome


def new_state() -> str:
    return secrets.token_urlsafe(24)


def listen_for_code(redirect_uri: str, authorize_url: Callable[[str], str], *, port: Optional[int] = None,
                    bind: str = "127.0.0.1", timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
                    out: Optional[TextIO] = None) -> str:
    """Listen on ``redirect_uri``, print where to go, return the authorisation code with our state."""
    out = out or sys.stdout
    state = new_state()
    listener = RedirectListener(ListenAddress.from_redirect_uri(redirect_uri, port=port, bind=bind), state)
    where = f"http://{listener.address.bind}:{listener.port}{listener.address.path}"
    print(f"esperando la redirección en {where} (hasta {timeout_seconds:.0f} s; Ctrl-C para cancelar)", file=out)
    print("Abra esta URL en el navegador e inicie sesión en Bitrix24 (open this URL and authorise):", file=out)
    print(f"   {authorize_url(state)}", file=out, flush=True)
    outcome = listener.wait(timeout_seconds)
    assert outcome.code is not None
    return outcome.code
