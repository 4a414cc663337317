"""``Bitrix24Emulator``: the portal (REST + OAuth) behind two local HTTP servers, plus its test API."""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any, Optional
from urllib.parse import parse_qs

from . import methods_app, methods_catalog, methods_crm
from .batch import batch_methods, command_count, run_batch
from .clock import iso_now
from .encoding import parse_php_query, php_json_encode
from .errors import METHOD_NOT_FOUND, RestError
from .faults import Fault, FaultInjector
from .limits import LeakyBucket, OperatingTime
from .oauth import DEFAULT_SCOPE, Caller, OAuthServer, TokenError
from .observability import Observability, RequestLogEntry
from .registry import CallContext, MethodResult, MethodSpec
from .server import Reply, start_server, stop_server, tls_context
from .settings import EmulatorSettings
from .state import PortalState, write_json_atomically

_TLS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tls")
# The test CA that signed the bundled certificate: what a client must trust to reach a TLS emulator.
TLS_CA_FILE = os.path.join(_TLS_DIR, "ca.pem")
TLS_CERT_FILE = os.path.join(_TLS_DIR, "portal-cert.pem")
TLS_KEY_FILE = os.path.join(_TLS_DIR, "portal-key.pem")

REGISTRY: dict[str, MethodSpec] = {spec.name.lower(): spec
                                   for spec in methods_app.METHODS + methods_crm.METHODS + methods_catalog.METHODS}
BATCH = "batch"
# Methods that may not run inside a batch.
NOT_IN_BATCH = {"batch", "download", "upload"}
USER_SCOPES = {"user", "user_basic", "user_brief"}

HTML_ERROR_PAGE = (b"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Bitrix24</title></head>\n<body>\n"
                   b"<h1>Service temporarily unavailable</h1>\n<p>The portal is under maintenance. "
                   b"Please try again later.</p>\n</body></html>\n")


def _scope_allows(spec: MethodSpec, caller: Caller) -> bool:
    if spec.scope is None:
        return True
    if spec.scope == "user":
        return bool(USER_SCOPES & caller.scope)
    return spec.scope in caller.scope


class Bitrix24Emulator:
    """A local Bitrix24 portal: REST at ``portal_url``/rest/, OAuth at ``oauth_url``/oauth/token/.

    Also a context manager: ``with Bitrix24Emulator().start() as emu: ...``.
    """

    def __init__(self, settings: Optional[EmulatorSettings] = None, state_file: Optional[str] = None):
        self.settings = settings or EmulatorSettings()
        self.state_file = state_file
        self.state = PortalState(self.settings.timezone_offset_minutes, self.settings.member_id, {
            "element": self.settings.first_element_id, "price": self.settings.first_price_id,
            "company": self.settings.first_company_id})
        self.oauth = OAuthServer(self.settings)
        self.bucket = LeakyBucket(self.settings.rate_limit_burst, self.settings.rate_limit_drain_per_second)
        self.operating = OperatingTime(self.settings.operating_budget_seconds, self.settings.operating_window_seconds)
        self.fault_injector = FaultInjector(self.settings.random_seed)
        self.observability = Observability()
        self._stopping = threading.Event()
        self._servers: list = []
        self.host = "127.0.0.1"
        self.port: Optional[int] = None
        self.oauth_port: Optional[int] = None
        if state_file and os.path.exists(state_file):
            self.load_state(state_file)

    # ---- lifecycle ------------------------------------------------------------------------
    def start(self, host: str = "127.0.0.1", port: int = 0, oauth_port: int = 0) -> "Bitrix24Emulator":
        """Listen on ``host`` (loopback only); port 0 picks a free port. Returns self."""
        self._stopping.clear()
        context = None
        if self.settings.tls:
            certfile = self.settings.tls_certfile or TLS_CERT_FILE
            keyfile = self.settings.tls_keyfile or (None if self.settings.tls_certfile else TLS_KEY_FILE)
            context = tls_context(certfile, keyfile)
        portal, portal_thread = start_server(self, "portal", host, port, context)
        try:
            oauth, oauth_thread = start_server(self, "oauth", host, oauth_port, context)
        except BaseException:
            stop_server(portal, portal_thread)
            raise
        self._servers = [(portal, portal_thread), (oauth, oauth_thread)]
        self.host = host
        self.port = portal.server_address[1]
        self.oauth_port = oauth.server_address[1]
        return self

    def stop(self) -> None:
        """Stop both servers (waking sleeping faults) and save the state when a state file is set."""
        self._stopping.set()
        # Both servers wind down concurrently, so a stop costs one poll interval, not two.
        stoppers = [threading.Thread(target=stop_server, args=pair) for pair in self._servers]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join()
        self._servers = []
        if self.state_file:
            self.save_state(self.state_file)

    def __enter__(self) -> "Bitrix24Emulator":
        if not self._servers:
            self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def scheme(self) -> str:
        return "https" if self.settings.tls else "http"

    @property
    def portal_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def oauth_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.oauth_port}"

    @property
    def portal_domain(self) -> str:
        return f"{self.host}:{self.port}"

    # ---- OAuth and webhooks ------------------------------------------------------------------
    def register_app(self, client_id: str, client_secret: str, redirect_uri: str = "http://localhost/",
                     scope: str = DEFAULT_SCOPE) -> None:
        self.oauth.register_app(client_id, client_secret, redirect_uri, scope)

    def issue_authorization_code(self, client_id: str) -> str:
        """What the consent screen of ``/oauth/authorize/`` hands out (valid 30 s, single use)."""
        return self.oauth.issue_code(client_id, self.settings.user_id)

    def issue_tokens(self, client_id: str) -> dict:
        """The full token response of an ``authorization_code`` exchange."""
        code = self.issue_authorization_code(client_id)
        secret = self.oauth.apps[client_id]["client_secret"]
        return self.oauth.token({"grant_type": "authorization_code", "client_id": client_id,
                                 "client_secret": secret, "code": code}, self._token_endpoints())

    def add_webhook(self, user_id: int = 1, code: Optional[str] = None, scope: str = DEFAULT_SCOPE) -> str:
        """Register an incoming webhook; returns its base URL ``{portal}/rest/{user}/{code}/``."""
        code = self.oauth.add_webhook(user_id, code, scope)
        return f"{self.portal_url}/rest/{user_id}/{code}/"

    def expire_access_tokens(self) -> None:
        """Every access token issued so far answers ``expired_token`` from now on."""
        self.oauth.expire_access_tokens()

    def _token_endpoints(self) -> dict:
        return {"client_endpoint": f"{self.portal_url}/rest/", "server_endpoint": f"{self.oauth_url}/rest/",
                "domain": f"{self.host}:{self.oauth_port}", "member_id": self.state.member_id}

    # ---- faults, limits, observability --------------------------------------------------------
    def add_fault(self, fault: Fault) -> int:
        return self.fault_injector.add(fault)

    def remove_fault(self, fault_id: int) -> None:
        self.fault_injector.remove(fault_id)

    def clear_faults(self) -> None:
        self.fault_injector.clear()

    @property
    def faults(self) -> list[Fault]:
        return self.fault_injector.faults

    def set_limits(self, burst: Optional[int] = None, drain_per_second: Optional[float] = None,
                   operating_budget_seconds: Optional[float] = None,
                   operating_window_seconds: Optional[float] = None, operating_cost_seconds: Any = None) -> None:
        """Change the limits at run time (None keeps a value)."""
        self.bucket.configure(burst, drain_per_second)
        if burst is not None:
            self.settings.rate_limit_burst = burst
        if drain_per_second is not None:
            self.settings.rate_limit_drain_per_second = drain_per_second
        if operating_budget_seconds is not None:
            self.operating.budget_seconds = self.settings.operating_budget_seconds = operating_budget_seconds
        if operating_window_seconds is not None:
            self.operating.window_seconds = self.settings.operating_window_seconds = operating_window_seconds
        if operating_cost_seconds is not None:
            self.settings.operating_cost_seconds = operating_cost_seconds

    def reset_limits(self) -> None:
        """Empty the leaky bucket and forget all operating time."""
        self.bucket.reset()
        self.operating.reset()

    @property
    def request_log(self) -> list[RequestLogEntry]:
        return self.observability.log

    @property
    def counters(self) -> dict:
        return self.observability.counters()

    def reset_observability(self) -> None:
        self.observability.reset()

    # ---- inspection and seeding (direct, no HTTP, no limits) --------------------------------------
    def _ctx(self, method: str = "seed") -> CallContext:
        return CallContext(self.state, self.settings, self.settings.user_id, method)

    def services(self, iblock_id: Optional[int] = 24) -> list[dict]:
        """Services as ``catalog.product.service.get`` renders them, by id."""
        with self.state.lock:
            return [methods_catalog.render_service(e) for _, e in sorted(self.state.data["elements"].items())
                    if e.get("type") == methods_catalog.SERVICE_TYPE and (iblock_id is None or e["iblockId"] == iblock_id)]

    def prices(self, product_id: Optional[int] = None) -> list[dict]:
        with self.state.lock:
            return [methods_catalog.render_price(p) for _, p in sorted(self.state.data["prices"].items())
                    if product_id is None or p["productId"] == product_id]

    def companies(self) -> list[dict]:
        """Companies as ``crm.company.get`` renders them, by id."""
        with self.state.lock:
            return [methods_crm.render_company(self._ctx(), c) for _, c in sorted(self.state.data["companies"].items())]

    def notifications(self) -> list[dict]:
        with self.state.lock:
            return [dict(n) for n in self.state.data["notifications"]]

    def seed_service(self, **fields: Any) -> int:
        """Add a service directly (camelCase fields; ``iblockId`` defaults to 24, ``name`` to a placeholder)."""
        fields.setdefault("iblockId", 24)
        fields.setdefault("name", "Servicio de prueba")
        with self.state.lock:
            return methods_catalog.create_element(self._ctx(), fields)["id"]

    def seed_product(self, **fields: Any) -> int:
        """Add a simple product (type 1): services methods must not see it."""
        fields.setdefault("iblockId", 24)
        fields.setdefault("name", "Producto de prueba")
        with self.state.lock:
            return methods_catalog.create_element(self._ctx(), fields, methods_catalog.PRODUCT_TYPE)["id"]

    def seed_price(self, product_id: int, price: float, currency: str = "ARS", price_type_id: int = 1,
                   price_id: Optional[int] = None) -> int:
        with self.state.lock:
            return methods_catalog.create_price(self._ctx(), product_id, price_type_id, price, currency, price_id)["id"]

    def seed_company(self, **fields: Any) -> int:
        """Add a company directly (UPPER_CASE fields, multifields as lists of ``{VALUE, VALUE_TYPE}``)."""
        fields.setdefault("TITLE", "Empresa de prueba")
        with self.state.lock:
            return methods_crm.create_company(self._ctx(), fields, import_mode=True)

    def add_catalog(self, iblock_id: int, name: str = "Catálogo", product_iblock_id: Optional[int] = None,
                    sku_property_id: Optional[int] = None) -> int:
        self.state.add_catalog(iblock_id, name, product_iblock_id, sku_property_id)
        return iblock_id

    def add_section(self, name: str, iblock_id: int = 24, section_id: Optional[int] = None,
                    parent_id: Optional[int] = None, sort: int = 500, xml_id: Optional[str] = None,
                    code: Optional[str] = None, active: str = "Y") -> int:
        return self.state.add_section(section_id, iblock_id, name, sort, parent_id, xml_id, code, active)["id"]

    def add_price_type(self, name: str, price_type_id: Optional[int] = None, base: bool = False, sort: int = 100,
                       xml_id: Optional[str] = None) -> int:
        return self.state.add_price_type(price_type_id, name, base, sort, xml_id)["id"]

    def add_currency(self, code: str, name: Optional[str] = None) -> None:
        with self.state.lock:
            if code not in self.state.currency_codes():
                self.state.data["currencies"].append({"CURRENCY": code, "BASE": "N", "SORT": "300",
                                                      "FULL_NAME": name or code})

    def add_status(self, entity_id: str, status_id: str, name: str, sort: Optional[int] = None) -> dict:
        return self.state.add_status(entity_id, status_id, name, sort)

    def add_user_field(self, field_name: str, user_type_id: str = "string", label: str = "", **options: Any) -> int:
        return int(self.state.add_user_field(field_name, user_type_id, label, **options)["ID"])

    # ---- persistence ---------------------------------------------------------------------
    def save_state(self, path: Optional[str] = None) -> str:
        """Write portal data and OAuth records (apps, tokens, webhooks) to a JSON file."""
        path = path or self.state_file
        if not path:
            raise ValueError("no state file given")
        payload = {"format": "glyms-b24-emulator-state/1", "portal": self.state.snapshot(),
                   "oauth": self.oauth.snapshot()}
        write_json_atomically(path, payload)
        return path

    def load_state(self, path: str) -> None:
        with open(path, encoding="utf-8") as stream:
            payload = json.load(stream)
        self.state.restore(payload.get("portal", {}))
        self.oauth.restore(payload.get("oauth", {}))

    # ---- request handling --------------------------------------------------------------------
    def _json_reply(self, status: int, body: Any, headers: Optional[dict] = None) -> Reply:
        text = php_json_encode(body, self.settings.php_json_escaping)
        return Reply(status, text.encode("ascii"), headers=headers or {})

    def _dispatch(self, role: str, http_method: str, path: str, query: str, headers: Any, body: bytes) -> Reply:
        started = time.time()
        entry: dict[str, Any] = {"method": path, "transport": "none", "batch_commands": 0, "error": None, "fault": None}
        try:
            reply = self._route(role, http_method, path, query, headers, body, entry, started)
        except Exception as exc:  # an emulator bug must look like a portal 500, not a dropped socket
            entry["error"] = "INTERNAL_SERVER_ERROR"
            reply = self._json_reply(500, {"error": "INTERNAL_SERVER_ERROR", "error_description": repr(exc)})
        self.observability.record(RequestLogEntry(
            time=started, method=entry["method"], http_status=reply.status if reply.action == "send" else None,
            batch_commands=entry["batch_commands"], error=entry["error"], transport=entry["transport"],
            duration=time.time() - started, fault=entry["fault"], server=role))
        return reply

    def _route(self, role: str, http_method: str, path: str, query: str, headers: Any, body: bytes,
               entry: dict, started: float) -> Reply:
        clean = path.rstrip("/")
        if clean == "/oauth/token":
            entry.update(method="oauth.token", transport="token")
            return self._token_request(query, headers, body, entry)
        if clean == "/oauth/authorize":
            entry.update(method="oauth.authorize", transport="authorize")
            return self._authorize_request(query, entry)
        if role == "portal" and clean.startswith("/rest/"):
            return self._rest_request(clean[len("/rest/"):], query, headers, body, entry, started)
        if role == "oauth" and clean in ("/rest/app.info", "/rest/app.info.json"):
            entry.update(method="oauth.app.info", transport="oauth")
            return self._oauth_app_info(query, headers, body, entry, started)
        entry["error"] = "NOT_FOUND"
        return Reply(404, b"<html><body><h1>404 Not Found</h1></body></html>", "text/html; charset=utf-8")

    # -- OAuth endpoints --
    def _token_request(self, query: str, headers: Any, body: bytes, entry: dict) -> Reply:
        params = self._params(query, headers, body)
        fault = self.fault_injector.pick({"oauth.token"})
        if fault is not None:
            entry["fault"] = fault.kind
            early = self._early_fault(fault, entry)
            if early is not None:
                return early
        try:
            result = self.oauth.token(params, self._token_endpoints())
        except TokenError as exc:
            entry["error"] = exc.error
            return self._json_reply(exc.status, exc.body())
        if fault is not None and fault.kind == "lost_response":
            return Reply(action="reset")
        return self._json_reply(200, result)

    def _authorize_request(self, query: str, entry: dict) -> Reply:
        params = {key: values[0] for key, values in parse_qs(query).items()}
        client_id = params.get("client_id", "")
        if client_id not in self.oauth.apps:
            # Bitrix shows the error to the user on the portal and does not redirect.
            entry["error"] = "wrong_client"
            page = "<html><body><h1>Error</h1><p>wrong_client: aplicación desconocida</p></body></html>"
            return Reply(400, page.encode("utf-8"), "text/html; charset=utf-8")
        location = self.oauth.authorize_redirect(
            client_id, params.get("state"), self.settings.user_id, self.portal_domain, self.state.member_id,
            f"{self.host}:{self.oauth_port}")
        return Reply(302, b"", "text/html; charset=utf-8", headers={"Location": location})

    def _oauth_app_info(self, query: str, headers: Any, body: bytes, entry: dict, started: float) -> Reply:
        """``app.info`` on the OAuth server: how an SDK checks whose token it holds and where it is installed."""
        params = self._params(query, headers, body)
        token = params.get("auth") or params.get("access_token")
        install = {"domain": self.portal_domain, "uri": self.portal_url, "client_endpoint": f"{self.portal_url}/rest/",
                   "member_id": self.state.member_id, "member_type": "PORTAL"}
        try:
            result = self.oauth.app_info(token if isinstance(token, str) else None, install,
                                         self.settings.timezone_offset_minutes)
        except RestError as exc:
            entry["error"] = exc.error
            return self._json_reply(exc.status, exc.body())
        return self._json_reply(200, {"result": result,
                                      "time": self._time_object(started, started, None, None, with_operating=False)})

    # -- REST --
    @staticmethod
    def _params(query: str, headers: Any, body: bytes) -> dict:
        """Query and body merged, body wins; JSON only with Content-Type application/json."""
        params = parse_php_query(query)
        content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if body:
            if content_type == "application/json":
                try:
                    decoded = json.loads(body.decode("utf-8"))
                except (ValueError, UnicodeDecodeError):
                    decoded = {}  # malformed JSON silently becomes "no params"
                if isinstance(decoded, dict):
                    params.update(decoded)
            elif content_type in ("application/x-www-form-urlencoded", ""):
                params.update(parse_php_query(body.decode("utf-8", "replace")))
        return params

    def _early_fault(self, fault: Fault, entry: dict) -> Optional[Reply]:
        """Faults answered instead of processing the request (None = process it)."""
        kind = fault.kind
        if kind in ("http_500", "http_502", "http_504"):
            status = int(kind[-3:])
            entry["error"] = f"HTTP_{status}"
            if status == 500:
                return self._json_reply(500, {"error": "INTERNAL_SERVER_ERROR", "error_description": "Internal server error"})
            title = {502: "502 Bad Gateway", 504: "504 Gateway Time-out"}[status]
            page = f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
            return Reply(status, page.encode("ascii"), "text/html")
        if kind == "html_error":
            return Reply(fault.status or 200, HTML_ERROR_PAGE, "text/html; charset=utf-8")
        if kind == "connection_reset":
            return Reply(action="reset")
        if kind == "timeout":
            delay = fault.delay_seconds if fault.delay_seconds is not None else self.settings.timeout_delay_seconds
            return Reply(action="hang", hang_seconds=delay)
        if kind == "slow":
            delay = fault.delay_seconds if fault.delay_seconds is not None else self.settings.slow_delay_seconds
            self._stopping.wait(delay)
        return None

    def _authenticate(self, route: str, params: dict, headers: Any) -> tuple[Caller, str]:
        """The caller and the method path; webhooks carry ``{user}/{code}/`` before the method."""
        parts = route.split("/")
        if len(parts) >= 3:
            return self.oauth.authenticate_webhook(parts[0], parts[1]), "/".join(parts[2:])
        token = params.pop("auth", None) or params.pop("access_token", None)
        authorization = headers.get("Authorization") or ""
        if not token and authorization.lower().startswith("bearer "):
            token = authorization[7:].strip()
        params.pop("access_token", None)
        return self.oauth.authenticate(token if isinstance(token, str) else None), route

    def _rest_request(self, route: str, query: str, headers: Any, body: bytes, entry: dict,
                      started: float) -> Reply:
        parts = route.split("/")
        method_path = "/".join(parts[2:]) if len(parts) >= 3 else route
        entry["transport"] = "webhook" if len(parts) >= 3 else "oauth"
        method = method_path[:-5] if method_path.lower().endswith(".json") else method_path
        method = method.lower()
        entry["method"] = method
        params = self._params(query, headers, body)
        # Method lookup comes before authentication: an unknown method is 404 even with a bad token.
        if method != BATCH and method not in REGISTRY:
            entry["error"] = METHOD_NOT_FOUND[0]
            return self._json_reply(METHOD_NOT_FOUND[2], {"error": METHOD_NOT_FOUND[0],
                                                          "error_description": METHOD_NOT_FOUND[1]})
        touched = {method} | (batch_methods(params) if method == BATCH else set())
        if method == BATCH:
            entry["batch_commands"] = command_count(params)
        fault = self.fault_injector.pick(touched)
        if fault is not None:
            entry["fault"] = fault.kind
            if fault.kind == "expired_token" and entry["transport"] == "oauth":
                self.oauth.expire_access_tokens()
            early = self._early_fault(fault, entry)
            if early is not None:
                return early
        try:
            caller, _ = self._authenticate(route, params, headers)
            if self.settings.rate_limit_enabled and not self.bucket.try_acquire():
                raise RestError("QUERY_LIMIT_EXCEEDED", "Too many requests", 503)
            if method == BATCH:
                result, operating_method = self._run_batch(caller, params), BATCH
            else:
                result, operating_method = self._call(caller, REGISTRY[method], params), REGISTRY[method].name
        except RestError as exc:
            entry["error"] = exc.error
            if fault is not None and fault.kind == "lost_response":
                return Reply(action="reset")
            return self._json_reply(exc.status, exc.body())
        if fault is not None and fault.kind == "lost_response":
            return Reply(action="reset")  # the write is applied; the answer never arrives
        envelope: dict[str, Any] = {"result": result.result}
        if result.next is not None:
            envelope["next"] = result.next
        if result.total is not None:
            envelope["total"] = result.total
        envelope["time"] = self._time_object(started, started, caller, operating_method)
        return self._json_reply(200, envelope, {
            "X-Bitrix-Rest-Time": f"{envelope['time']['duration']:.6f}",
            "X-Bitrix-Rest-Application": caller.key if caller.transport == "oauth" else "",
        })

    def _time_object(self, start: float, processing_start: float, caller: Optional[Caller],
                     method: Optional[str], with_operating: bool = True) -> dict:
        finish = time.time()
        offset = self.settings.timezone_offset_minutes
        result = {"start": start, "finish": finish, "duration": finish - start,
                  "processing": finish - processing_start, "date_start": iso_now(offset, start),
                  "date_finish": iso_now(offset, finish)}
        if with_operating and caller is not None and method is not None:
            result["operating_reset_at"] = self.operating.reset_at(caller.key, method)
            result["operating"] = self.operating.used(caller.key, method) if method != BATCH else 0
        return result

    def _call(self, caller: Caller, spec: MethodSpec, params: dict) -> MethodResult:
        """Scope, operating time, then the method itself under the state lock."""
        if not _scope_allows(spec, caller):
            suffix = "webhook token" if caller.transport == "webhook" else "access token"
            raise RestError("insufficient_scope",
                            f"The request requires higher privileges than provided by the {suffix}",
                            self.settings.insufficient_scope_status)
        if self.settings.operating_limit_enabled and self.operating.is_blocked(caller.key, spec.name):
            raise RestError("OPERATION_TIME_LIMIT", "Method is blocked due to operation time limit.", 429)
        if self.fault_injector.pick({spec.name.lower()}, command_level=True) is not None:
            # an injected validation-style refusal of this one call; the rest of a batch still runs
            code: Any = 0 if spec.name.lower().startswith("catalog.") else "ERROR_CORE"
            raise RestError(code, "Injected failure (command_error fault)", 400)
        began = time.perf_counter()
        try:
            with self.state.lock:
                return spec.handler(CallContext(self.state, self.settings, caller.user_id, spec.name, caller), params)
        finally:
            if self.settings.operating_limit_enabled:
                cost = time.perf_counter() - began + self.settings.operating_cost_for(spec.name)
                self.operating.charge(caller.key, spec.name, cost)

    def _run_batch(self, caller: Caller, params: dict) -> MethodResult:
        def execute(method: str, command_params: dict) -> tuple[Any, dict]:
            started = time.time()
            name = method.lower()
            if name.endswith(".json"):
                name = name[:-5]
            if name in NOT_IN_BATCH:
                return RestError("ERROR_BATCH_METHOD_NOT_ALLOWED", "Method is not allowed for batch usage", 405), {}
            spec = REGISTRY.get(name)
            if spec is None:
                return RestError(*METHOD_NOT_FOUND), {}
            command_params.pop("auth", None)
            try:
                outcome: Any = self._call(caller, spec, command_params)
            except RestError as exc:
                outcome = exc
            info = self._time_object(started, started, None, None, with_operating=False)
            if self.settings.operating_limit_enabled:
                # the configured cost is execution time: it shows in the command's duration too,
                # the only operating figure a batch sub-result carries
                cost = self.settings.operating_cost_for(spec.name)
                info["duration"] += cost
                info["processing"] += cost
            return outcome, info

        return MethodResult(run_batch(params, execute, self.settings.batch_max_commands))
