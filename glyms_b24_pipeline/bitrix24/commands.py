"""CLI handlers: ``glyms-b24 auth``, ``price-types``, ``directory-items ENTITY_ID``.

Messages are one line each (Spanish first, English in parentheses where it helps); errors are
raised as ``OperatorError`` so the CLI prints ``error: <message>`` and exits 2.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import unicodedata
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from glyms_b24_pipeline.bitrix24.auth import OAuthAuth, TokenSet, normalize_portal_url
from glyms_b24_pipeline.bitrix24.errors import Bitrix24Error, ReauthorizationRequired, operator_message
from glyms_b24_pipeline.bitrix24.factory import ConnectionValues, client_from_env, oauth_app, token_store
from glyms_b24_pipeline.config import load_settings
from glyms_b24_pipeline.errors import ConfigError, OperatorError


class Bitrix24CommandError(OperatorError):
    """A Bitrix24 call of a CLI utility failed (one line, no secrets)."""


def _operator_errors(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    @functools.wraps(handler)
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except ReauthorizationRequired:
            raise
        except Bitrix24Error as exc:
            raise Bitrix24CommandError(operator_message(exc, webhook_mode=bool(os.environ.get("B24_WEBHOOK_URL")))) from None

    return wrapper


def _width(text: str) -> int:
    return sum(0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def format_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    """Aligned text table: a header line, a rule, one line per row (``None`` -> empty)."""
    cells = [[("" if value is None else " ".join(str(value).split())) for value in row] for row in rows]
    widths = [_width(h) for h in headers]
    for row in cells:
        for i, value in enumerate(row):
            widths[i] = max(widths[i], _width(value))

    def line(values: Sequence[str]) -> str:
        return "  ".join(v + " " * (w - _width(v)) for v, w in zip(values, widths, strict=False)).rstrip()

    return [line(list(headers)), "  ".join("-" * w for w in widths), *(line(row) for row in cells)]


# --- auth ------------------------------------------------------------------------------------------


def _read_token_file(path: str) -> tuple[dict[str, Any], float]:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
        mtime = file.stat().st_mtime
    except FileNotFoundError:
        raise ConfigError(f"{file}: no existe el archivo de tokens (file not found)") from None
    except OSError as exc:
        raise ConfigError(f"{file}: no se puede leer: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{file}: no es JSON válido (line {getattr(exc, 'lineno', '?')})") from None
    if not isinstance(data, dict) or not data.get("access_token") or not data.get("refresh_token"):
        raise ConfigError(f"{file}: faltan access_token/refresh_token (not a bitrix24_tokens.json)")
    return data, mtime


@_operator_errors
def auth_command(args: argparse.Namespace) -> int:
    settings = load_settings(getattr(args, "config", None)).bitrix24
    values = ConnectionValues.from_env()
    code = getattr(args, "code", None)
    import_file = getattr(args, "import_tokens", None)
    if values.webhook_mode and not code and not import_file:
        print("B24_WEBHOOK_URL está definido: modo webhook, no hace falta autorizar (webhook mode: no OAuth needed)")
        return 0
    if not code and not import_file:
        app = oauth_app(values, settings.redirect_uri, need_secret=False)
        print("1. Abra esta URL en el navegador e inicie sesión en Bitrix24 (open this URL and authorise):")
        print(f"   {app.authorize_url()}")
        print(f"2. Será redirigido a {settings.redirect_uri}?code=...: copie el valor de code (valid 30 s)")
        print("3. Ejecute: glyms-b24 auth --code CODIGO")
        return 0
    app = oauth_app(values, settings.redirect_uri)
    store = token_store(values, app)
    if import_file:
        data, mtime = _read_token_file(import_file)
        tokens = TokenSet.from_response(data, now=mtime if data.get("expires") in (None, "") else None)
        if tokens.client_endpoint and normalize_portal_url(tokens.client_endpoint) != store.portal_url:
            raise ConfigError(
                f"{import_file}: los tokens son de {normalize_portal_url(tokens.client_endpoint)}, "
                f"pero B24_PORTAL_URL es {store.portal_url}"
            )
        stored = store.save(tokens)
        print(f"tokens importados para {store.portal_url} (generación {stored.generation}); puede borrar {import_file}")
        return 0
    auth = OAuthAuth(app, store)
    try:
        stored = auth.exchange_code(str(code).strip())
    except ReauthorizationRequired as exc:
        raise ReauthorizationRequired(
            "el código fue rechazado (expira a los 30 s y sirve una sola vez)", method=exc.method, code=exc.code,
            http_status=exc.http_status,
        ) from None
    if stored.client_endpoint and normalize_portal_url(stored.client_endpoint) != store.portal_url:
        print(f"aviso: el token es de {normalize_portal_url(stored.client_endpoint)}, B24_PORTAL_URL es {store.portal_url}")
    expires = stored.expires_at.astimezone().strftime("%Y-%m-%d %H:%M") if stored.expires_at else "?"
    print(f"tokens guardados para {store.portal_url} (generación {stored.generation}, access token válido hasta {expires})")
    return 0


# --- utilities -----------------------------------------------------------------------------------


def _client(args: argparse.Namespace):
    return client_from_env(load_settings(getattr(args, "config", None)).bitrix24)


@_operator_errors
def price_types_command(args: argparse.Namespace) -> int:
    """``catalog.priceType.list``: the ID goes to ``services.price_type_id``."""
    with _client(args) as client:
        response = client.call("catalog.priceType.list", {"select": ["id", "name", "xmlId", "base", "sort"], "order": {"id": "ASC"}})
    result = response.result
    items = result.get("priceTypes") if isinstance(result, dict) else result
    if not isinstance(items, list):
        raise Bitrix24CommandError("catalog.priceType.list: respuesta inesperada (no priceTypes list)")
    if not items:
        print("no hay tipos de precio en el portal (no price types)")
        return 0
    rows = [
        (item.get("id"), item.get("name"), item.get("xmlId"), "sí" if item.get("base") in ("Y", True) else "no", item.get("sort"))
        for item in items
    ]
    for text in format_table(("ID", "NAME", "XML_ID", "BASE", "SORT"), rows):
        print(text)
    print(f"{len(items)} tipos de precio; use el ID en services.price_type_id")
    return 0


@_operator_errors
def directory_items_command(args: argparse.Namespace) -> int:
    """``crm.status.list`` for one ENTITY_ID: the STATUS_ID goes to the mappings."""
    entity_id = str(args.entity_id).strip().upper()
    if not entity_id:
        raise ConfigError("ENTITY_ID vacío (e.g. COMPANY_TYPE, INDUSTRY)")
    with _client(args) as client:
        response = client.call("crm.status.list", {"order": {"SORT": "ASC"}, "filter": {"ENTITY_ID": entity_id}})
    items = response.result if isinstance(response.result, list) else []
    if not items:
        print(f"no hay ítems para ENTITY_ID {entity_id} (no items; check the spelling: COMPANY_TYPE, INDUSTRY, ...)")
        return 0
    rows = [(item.get("ID"), item.get("STATUS_ID"), item.get("NAME"), item.get("SORT"), item.get("SYSTEM")) for item in items]
    for text in format_table(("ID", "STATUS_ID", "NAME", "SORT", "SYSTEM"), rows):
        print(text)
    print(f"{len(items)} ítems de {entity_id}; use STATUS_ID en los mapeos")
    return 0
