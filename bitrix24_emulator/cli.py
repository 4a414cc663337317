"""``glyms-b24 emulator``: run the local Bitrix24 portal until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Optional, Sequence

from .emulator import Bitrix24Emulator
from .settings import EmulatorSettings


def _rate_limit(text: str) -> tuple[int, float]:
    try:
        burst, drain = text.split("/")
        return int(burst), float(drain)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected BURST/DRAIN_PER_SECOND such as 50/2, got {text!r}") from exc


def _app(text: str) -> tuple[str, str, Optional[str]]:
    parts = text.split(":", 2)
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise argparse.ArgumentTypeError(f"expected CLIENT_ID:CLIENT_SECRET[:REDIRECT_URI], got {text!r}")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="glyms-b24 emulator",
                                     description="Local Bitrix24 portal emulator (REST + OAuth) on 127.0.0.1.")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8024, help="portal port (default 8024)")
    parser.add_argument("--oauth-port", type=int, default=None, help="OAuth server port (default: port+1)")
    parser.add_argument("--state", metavar="FILE", help="load the portal from FILE and save it there on exit")
    parser.add_argument("--rate-limit", type=_rate_limit, metavar="X/Y", help="leaky bucket burst/drain, e.g. 50/2")
    parser.add_argument("--app", type=_app, action="append", default=[], metavar="CLIENT_ID:CLIENT_SECRET",
                        help="register a local application (repeatable; optional :REDIRECT_URI suffix)")
    parser.add_argument("--token-lifetime", type=int, metavar="SECONDS", help="access token lifetime (default 3600)")
    parser.add_argument("--webhook", metavar="USER_ID:CODE", action="append", default=[],
                        help="register an incoming webhook (repeatable)")
    parser.add_argument("--tls", action="store_true",
                        help="serve HTTPS with the bundled test certificate (clients must trust bitrix24_emulator/tls/ca.pem)")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    settings = EmulatorSettings(tls=args.tls)
    if args.rate_limit:
        settings.rate_limit_burst, settings.rate_limit_drain_per_second = args.rate_limit
    if args.token_lifetime:
        settings.access_token_lifetime_seconds = args.token_lifetime
    emulator = Bitrix24Emulator(settings, state_file=args.state)
    for client_id, secret, redirect_uri in args.app:
        emulator.register_app(client_id, secret, redirect_uri or "http://localhost/")
    oauth_port = args.oauth_port if args.oauth_port is not None else (args.port + 1 if args.port else 0)
    try:
        emulator.start(args.host, args.port, oauth_port)
    except (OSError, ValueError) as exc:
        print(f"error: no se pudo iniciar el emulador: {exc}", file=sys.stderr)
        return 2
    for webhook in args.webhook:
        user_id, _, code = webhook.partition(":")
        print(f"webhook: {emulator.add_webhook(int(user_id), code or None)}", flush=True)
    print(f"Bitrix24 emulator: portal {emulator.portal_url}/rest/  oauth {emulator.oauth_url}/oauth/token/",
          flush=True)
    done = threading.Event()

    def _stop(signum, frame) -> None:  # noqa: ARG001 - signal handler signature
        done.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not done.wait(0.5):
            pass
    finally:
        emulator.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
