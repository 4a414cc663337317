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

from glyms_b24_pipeline.cli.i18n import _, language
from glyms_b24_pipeline.settings.errors import ConfigError, OperatorError

DEFAULT_TIMEOUT_SECONDS = 300.0

_PAGE = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>glyms-b24</title></head>
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
                _("--listen needs a redirect_uri http://HOST:PORT/PATH, not {uri} (bitrix24.redirect_uri or "
                  "--redirect-uri)").format(uri=repr(redirect_uri)))
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
                _("cannot listen on {bind}:{port} ({reason}); use --port or a redirect_uri with a free port above "
                  "1024").format(bind=address.bind, port=address.port, reason=exc.strerror or exc)) from None
        self.port = self._server.server_address[1]

    def _reply(self, request: BaseHTTPRequestHandler, status: int, title: str, text: str) -> None:
        body = _PAGE.format(lang=language(), title=title, text=text).encode("utf-8")
        request.send_response(status)
        request.send_header("Content-Type", "text/html; charset=utf-8")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(request.path)
        if _normal_path(parts.path) != self.address.path:
            self._reply(request, 404, _("Not found"), _("This is not the redirect address of glyms-b24."))
            return
        params = {key: values[0] for key, values in parse_qs(parts.query).items()}
        if not secrets.compare_digest(params.get("state", ""), self.state):
            self._reply(request, 400, _("Authorisation refused"),
                        _("The state parameter does not match this run of glyms-b24 auth --listen."))
            self._warn(_("warning: redirect refused: its state is not this run's (an old tab, or another "
                         "authorisation?); still waiting for the right one"))
            return
        if params.get("error"):
            self._outcome = _Outcome(error=params.get("error_description") or params["error"], params=params)
            self._reply(request, 400, _("Authorisation refused"), _("Bitrix24 did not grant access; see the terminal."))
        elif params.get("code"):
            self._outcome = _Outcome(code=params["code"], params=params)
            self._reply(request, 200, _("Authorisation received"),
                        _("glyms-b24 received the code and stores the tokens. You may close this tab."))
        else:
            self._reply(request, 400, _("The code is missing"), _("The redirect carries no code parameter."))
            self._warn(_("warning: a redirect without code arrived; still waiting"))
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
                        _("no redirect from Bitrix24 arrived in {seconds:.0f} s; run glyms-b24 auth --listen again "
                          "(or use --timeout)").format(seconds=timeout_seconds))
                self._server.timeout = min(remaining, 1.0)
                self._server.handle_request()
        finally:
            self._server.server_close()
        if self._outcome.error:
            raise AuthorisationRefused(_("Bitrix24 refused the authorisation: {error}").format(error=self._outcome.error))
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
    print(_("waiting for the redirect on {where} (up to {seconds:.0f} s; Ctrl-C to cancel)").format(
        where=where, seconds=timeout_seconds), file=out)
    print(_("Open this URL in the browser and log in to Bitrix24:"), file=out)
    print(f"   {authorize_url(state)}", file=out, flush=True)
    outcome = listener.wait(timeout_seconds)
    assert outcome.code is not None
    return outcome.code
