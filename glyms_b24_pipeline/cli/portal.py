"""CLI handlers: ``glyms-b24 auth``, ``price-types``, ``directory-items ENTITY_ID``.

Messages are one line each (Spanish first, English in parentheses where it helps); errors are
raised as ``OperatorError`` so the CLI prints ``error: <message>`` and exits 2.
"""

from __future__ import annotations

import argparse
import difflib
import functools
import json
import os
from pathlib import Path
from typing import Any, Callable, Optional

from glyms_b24_pipeline.bitrix24.auth import OAuthAuth, TokenSet, normalize_portal_url
from glyms_b24_pipeline.bitrix24.errors import Bitrix24Error, ReauthorizationRequired, operator_message
from glyms_b24_pipeline.bitrix24.factory import ConnectionValues, client_from_env, oauth_app, token_store
from glyms_b24_pipeline.cli.auth_listener import listen_for_code
from glyms_b24_pipeline.cli.i18n import _
from glyms_b24_pipeline.cli.output import emit, format_option, format_table, note, render
from glyms_b24_pipeline.settings.errors import ConfigError, OperatorError
from glyms_b24_pipeline.settings.model import load_settings

__all__ = ["format_table", "cli_client", "operator_errors", "auth_command", "price_types_command", "directory_items_command"]


class Bitrix24CommandError(OperatorError):
    """A Bitrix24 call of a CLI utility failed (one line, no secrets)."""


def operator_errors(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    @functools.wraps(handler)
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except ReauthorizationRequired:
            raise
        except Bitrix24Error as exc:
            raise Bitrix24CommandError(operator_message(exc, webhook_mode=bool(os.environ.get("B24_WEBHOOK_URL")))) from None

    return wrapper


# --- auth ------------------------------------------------------------------------------------------


def _read_token_file(path: str) -> tuple[dict[str, Any], float]:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
        mtime = file.stat().st_mtime
    except FileNotFoundError:
        raise ConfigError(_("{file}: the token file does not exist").format(file=file)) from None
    except OSError as exc:
        raise ConfigError(_("{file}: cannot be read: {reason}").format(file=file, reason=exc.strerror)) from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigError(_("{file}: not valid JSON (line {line})").format(file=file, line=getattr(exc, "lineno", "?"))) from None
    if not isinstance(data, dict) or not data.get("access_token") or not data.get("refresh_token"):
        raise ConfigError(_("{file}: access_token/refresh_token missing (not a bitrix24_tokens.json)").format(file=file))
    return data, mtime


def _print_stored(stored: TokenSet, portal_url: str) -> None:
    """What was stored, never a token: portal, generation and expiry."""
    if stored.client_endpoint and normalize_portal_url(stored.client_endpoint) != portal_url:
        print(_("warning: the token is of {token_portal}, B24_PORTAL_URL is {portal}").format(
            token_portal=normalize_portal_url(stored.client_endpoint), portal=portal_url))
    expires = stored.expires_at.astimezone().strftime("%Y-%m-%d %H:%M") if stored.expires_at else "?"
    print(_("tokens stored for {portal} (generation {generation}, access token valid until {expires})").format(
        portal=portal_url, generation=stored.generation, expires=expires))


def _exchange(auth: OAuthAuth, code: str) -> TokenSet:
    try:
        return auth.exchange_code(code.strip())
    except ReauthorizationRequired as exc:
        raise ReauthorizationRequired(
            _("the code was refused (it expires after 30 s and works once)"), method=exc.method, code=exc.code,
            http_status=exc.http_status,
        ) from None


@operator_errors
def auth_command(args: argparse.Namespace) -> int:
    settings = load_settings(getattr(args, "config", None)).bitrix24
    redirect_uri = getattr(args, "redirect_uri", None) or settings.redirect_uri
    values = ConnectionValues.from_env()
    code = getattr(args, "code", None)
    import_file = getattr(args, "import_tokens", None)
    listen = bool(getattr(args, "listen", False))
    if values.webhook_mode and not code and not import_file:
        print(_("B24_WEBHOOK_URL is set: webhook mode, no authorisation needed"))
        return 0
    if not code and not import_file and not listen:
        app = oauth_app(values, redirect_uri, need_secret=False)
        print(_("1. Open this URL in the browser and log in to Bitrix24:"))
        print(f"   {app.authorize_url()}")
        print(_("2. You will be sent to {redirect_uri}?code=...: copy the value of code (valid for 30 s)").format(
            redirect_uri=redirect_uri))
        print(_("3. Run: glyms-b24 auth --code CODE   (or all in one step: glyms-b24 auth --listen)"))
        return 0
    app = oauth_app(values, redirect_uri)
    store = token_store(values, app)
    if import_file:
        data, mtime = _read_token_file(import_file)
        tokens = TokenSet.from_response(data, now=mtime if data.get("expires") in (None, "") else None)
        if tokens.client_endpoint and normalize_portal_url(tokens.client_endpoint) != store.portal_url:
            raise ConfigError(
                _("{file}: the tokens are of {token_portal}, but B24_PORTAL_URL is {portal}").format(
                    file=import_file, token_portal=normalize_portal_url(tokens.client_endpoint), portal=store.portal_url)
            )
        stored = store.save(tokens)
        print(_("tokens imported for {portal} (generation {generation}); you may delete {file}").format(
            portal=store.portal_url, generation=stored.generation, file=import_file))
        return 0
    if listen:

        code = listen_for_code(redirect_uri, lambda state: app.authorize_url(state=state), port=args.port,
                               bind=args.bind, timeout_seconds=args.timeout)
        print(_("code received; asking for the tokens"), flush=True)
    _print_stored(_exchange(OAuthAuth(app, store), str(code)), store.portal_url)
    return 0


# --- utilities -----------------------------------------------------------------------------------


def cli_client(args: argparse.Namespace) -> Any:
    return client_from_env(load_settings(getattr(args, "config", None)).bitrix24)


def _format(args: argparse.Namespace) -> str:
    return getattr(args, "format", None) or "table"


@operator_errors
def price_types_command(args: argparse.Namespace) -> int:
    """``catalog.priceType.list``: the ID goes to ``services.price_type_id``."""
    with cli_client(args) as client:
        items = list_price_types(client)
    fmt = _format(args)
    if not items and fmt == "table":
        note(_("the portal has no price types"))
        return 0
    rows = [
        (item.get("id"), item.get("name"), item.get("xmlId"), _("yes") if item.get("base") in ("Y", True) else _("no"), item.get("sort"))
        for item in items
    ]
    if emit(render(("ID", "NAME", "XML_ID", "BASE", "SORT"), rows, fmt)):
        note(_("{count} price types; put the ID in services.price_type_id").format(count=len(items)), fmt)
    return 0


def list_price_types(client: Any) -> list[dict[str, Any]]:
    response = client.call("catalog.priceType.list", {"select": ["id", "name", "xmlId", "base", "sort"], "order": {"id": "ASC"}})
    result = response.result
    items = result.get("priceTypes") if isinstance(result, dict) else result
    if not isinstance(items, list):
        raise Bitrix24CommandError(_("catalog.priceType.list: unexpected answer (no priceTypes list)"))
    return items


class UnknownEntityId(OperatorError):
    """``directory-items`` for an ENTITY_ID the portal has no items of (usually a typo)."""


def known_entity_ids(client: Any) -> list[str]:
    """Every ENTITY_ID that has items: ``crm.status.list`` without filter returns them all (no paging)."""
    response = client.call("crm.status.list", {"order": {"SORT": "ASC"}})
    items = response.result if isinstance(response.result, list) else []
    return sorted({str(item.get("ENTITY_ID")) for item in items if item.get("ENTITY_ID")})


def _closest(value: str, candidates: list[str], n: int = 3) -> list[str]:

    return difflib.get_close_matches(value, candidates, n=n, cutoff=0.5)


@operator_errors
def directory_items_command(args: argparse.Namespace) -> int:
    """``crm.status.list`` for one ENTITY_ID: the STATUS_ID goes to the mappings."""
    entity_id = str(args.entity_id).strip().upper()
    if not entity_id:
        raise ConfigError(_("ENTITY_ID is empty (e.g. COMPANY_TYPE, INDUSTRY)"))
    with cli_client(args) as client:
        response = client.call("crm.status.list", {"order": {"SORT": "ASC"}, "filter": {"ENTITY_ID": entity_id}})
        items = response.result if isinstance(response.result, list) else []
        known: Optional[list[str]] = None if items else known_entity_ids(client)
    if known is not None:
        closest = _closest(entity_id, known)
        if closest:
            hint = _("did you mean {choices}? (glyms-b24 directory-items {first})").format(
                choices=_(" or ").join(closest), first=closest[0])
        else:
            shown = known[:15] + (["..."] if len(known) > 15 else [])
            hint = _("known ENTITY_IDs: {ids}").format(ids=", ".join(shown) or _("none"))
        raise UnknownEntityId(_("the portal has no items of ENTITY_ID {entity_id}; {hint}").format(entity_id=entity_id,
                                                                                                    hint=hint))
    rows = [(item.get("ID"), item.get("STATUS_ID"), item.get("NAME"), item.get("SORT"), item.get("SYSTEM")) for item in items]
    fmt = _format(args)
    if emit(render(("ID", "STATUS_ID", "NAME", "SORT", "SYSTEM"), rows, fmt)):
        note(_("{count} items of {entity_id}; put the STATUS_ID in the mappings").format(count=len(items),
                                                                                         entity_id=entity_id), fmt)
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    auth = commands.add_parser("auth", help=_("authorise the Bitrix24 local application (OAuth)"))
    group = auth.add_mutually_exclusive_group()
    group.add_argument("--code", help=_("authorisation code copied from the redirect URL"))
    group.add_argument("--import-tokens", metavar="FILE", help=_("import a legacy bitrix24_tokens.json"))
    group.add_argument("--listen", action="store_true",
                       help=_("serve the redirect URI here, wait for the redirect and store the tokens (no copying)"))
    auth.add_argument("--redirect-uri", help=_("redirect URI of the local application (default: bitrix24.redirect_uri)"))
    auth.add_argument("--port", type=int, help=_("--listen: port to listen on (default: the redirect URI's)"))
    auth.add_argument("--bind", default="127.0.0.1", help=_("--listen: address to listen on (default 127.0.0.1)"))
    auth.add_argument("--timeout", type=float, default=300.0, help=_("--listen: seconds to wait for the redirect (default 300)"))
    auth.set_defaults(handler=auth_command)

    price_types = commands.add_parser("price-types", help=_("list the catalog price types (for services.price_type_id)"))
    format_option(price_types)
    price_types.set_defaults(handler=price_types_command)
    directory = commands.add_parser("directory-items", help=_("list CRM directory items (COMPANY_TYPE, INDUSTRY, ...)"))
    directory.add_argument("entity_id", metavar="ENTITY_ID", help=_("e.g. COMPANY_TYPE or INDUSTRY"))
    format_option(directory)
    directory.set_defaults(handler=directory_items_command)
