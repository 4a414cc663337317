"""The Bitrix24 REST client: the one way the pipeline talks to the portal.

* one ``requests.Session`` per client, connect/read timeouts, TLS verification on, JSON bodies;
* a process-wide leaky bucket per portal and per-method operating-time tracking (``pacing``);
* bounded retries: 503 -> mark the bucket full and back off; 429 -> wait for
  ``operating_reset_at``; 5xx, HTML error pages, timeouts and resets -> exponential back-off with
  jitter; any other 4xx -> raised at once;
* OAuth: ``expired_token``/``invalid_token`` -> renew through the locked token store, replay once;
* ``batch``: any number of commands in chunks of 50, one :class:`CommandOutcome` per key;
  references between commands are :class:`ResultRef` objects, and a command whose data the
  portal would read as a placeholder (``$result[...]``) goes alone, as a JSON call;
* ``iter_fast`` / ``list_fast``: ``start=-1`` keyset paging, 50 chained pages per batch (~2,500 rows/request).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional, Sequence, Union

import requests
import urllib3

from glyms_b24_pipeline.bitrix24 import errors, progress
from glyms_b24_pipeline.bitrix24.auth import Auth, install_log_redaction
from glyms_b24_pipeline.bitrix24.encoding import (
    ResultRef,
    carries_placeholder_text,
    command_string,
    json_body,
    references,
    resolve_references,
)
from glyms_b24_pipeline.bitrix24.pacing import LeakyBucket, OperatingTimeTracker, bucket_for_portal
from glyms_b24_pipeline.settings.limits import ClientLimits

log = logging.getLogger(__name__)

BATCH_LIMIT = 50
PAGE_SIZE = 50
USER_AGENT = "glyms-b24-pipeline/0.1 (+requests)"

_AUTH_RENEW_CODES = ("expired_token", "invalid_token")


@dataclass
class ApiResponse:
    """A successful answer: ``result`` plus ``total``/``next`` (lists) and the ``time`` object."""

    result: Any
    total: Optional[int] = None
    next: Optional[int] = None
    time: dict = field(default_factory=dict)
    http_status: int = 200


@dataclass(frozen=True)
class BatchCommand:
    """One command of a batch; ``params`` may hold :class:`ResultRef` values naming earlier keys."""

    key: str
    method: str
    params: Optional[Mapping[str, Any]] = None


@dataclass
class CommandOutcome:
    """What happened to one batch command: ``ok`` with ``result``, or ``error``."""

    key: str
    ok: bool
    result: Any = None
    error: Optional[errors.Bitrix24Error] = None
    total: Optional[int] = None
    next: Optional[int] = None
    method: str = ""
    time: Optional[dict] = field(default=None, repr=False)


class ClientCounters:
    """Thread-safe counters of one client, for Dagster run metadata."""

    FIELDS = ("requests", "retries", "rate_limited_503", "operating_limited_429", "seconds_waited", "refreshes")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.retries = 0
        self.rate_limited_503 = 0
        self.operating_limited_429 = 0
        self.seconds_waited = 0.0
        self.refreshes = 0

    def add(self, name: str, amount: Union[int, float] = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + amount)

    def snapshot(self) -> dict[str, Union[int, float]]:
        with self._lock:
            return {name: getattr(self, name) for name in self.FIELDS}

    def as_metadata(self) -> dict[str, Union[int, float]]:
        """``{"b24_requests": 12, ..., "b24_seconds_waited": 3.5}`` (seconds rounded to ms)."""
        data = self.snapshot()
        data["seconds_waited"] = round(float(data["seconds_waited"]), 3)
        return {f"b24_{name}": value for name, value in data.items()}

    def __repr__(self) -> str:
        return "ClientCounters(" + ", ".join(f"{k}={v}" for k, v in self.snapshot().items()) + ")"


def _never_connected(exc: requests.RequestException) -> bool:
    """True when the TCP connection was never made (refused, DNS), so nothing was sent."""
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)  # urllib3 MaxRetryError wraps the cause
    return isinstance(reason, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.NameResolutionError))


def _as_map(value: Any) -> dict[str, Any]:
    """Batch result maps are objects, ``[]`` when empty, or arrays for numeric keys."""
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value)}
    return {}


def _int_or_none(value: Any) -> Optional[int]:
    try:
        return int(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


def _check_key(key: Any) -> str:
    if not isinstance(key, str) or not key or any(ch in key for ch in "[]?&=$ \t\r\n"):
        raise ValueError(f"batch command key must be a non-empty string without []?&=$ or spaces, got {key!r}")
    return key


def solo_commands(commands: Sequence[BatchCommand]) -> set[str]:
    """Keys of commands that must not travel in a batch.

    The portal substitutes ``$result[...]``, ``$next[...]`` and the like wherever they appear
    in a batch command's parsed values, so a command whose data holds such text would be
    silently rewritten there: it goes alone, as a JSON call. Commands referring to it follow it.
    """
    solo = {c.key for c in commands if carries_placeholder_text(c.params)}
    if solo:
        for command in commands:  # commands come in order: a reference points backwards
            if references(command.params) & solo:
                solo.add(command.key)
    return solo


def plan_chunks(commands: Sequence[BatchCommand], limit: int = BATCH_LIMIT) -> list[list[BatchCommand]]:
    """Split commands, in order, into chunks of at most ``limit``.

    A command referencing ``$result[other]`` must run in the same batch as ``other``: when the
    natural boundary would separate them it is moved earlier. Raises ``ValueError`` for a
    reference to an unknown or later key, or a dependency group longer than ``limit``.
    """
    index = {}
    for position, command in enumerate(commands):
        _check_key(command.key)
        if command.key in index:
            raise ValueError(f"duplicate batch command key {command.key!r}")
        index[command.key] = position
    # last_user[k] = the last position of a command that references command k
    last_user = list(range(len(commands)))
    for position, command in enumerate(commands):
        for ref in references(command.params):
            if ref not in index:
                raise ValueError(f"batch command {command.key!r} references unknown key {ref!r}")
            target = index[ref]
            if target >= position:
                raise ValueError(f"batch command {command.key!r} references {ref!r}, which does not come before it")
            last_user[target] = max(last_user[target], position)
    chunks = []
    start = 0
    while start < len(commands):
        end = min(start + limit, len(commands))
        while end > start and max(last_user[start:end]) >= end:
            end -= 1
        if end == start:
            raise ValueError(f"commands depending on {commands[start].key!r} span more than {limit} positions")
        chunks.append(list(commands[start:end]))
        start = end
    return chunks


def _window_filters(filters: Mapping[str, Any], window_key: str, last_id: Any, pages: int,
                    last_row_path: tuple[Any, ...]) -> list[dict[str, Any]]:
    """The filter of each page of one batch: the first after ``last_id``, each next one after the last row of
    the page before it (a ``$result`` reference the portal resolves)."""
    page_filters = []
    for page in range(pages):
        page_filter = dict(filters)
        if page == 0:
            if last_id is not None:
                page_filter[window_key] = last_id
        else:
            page_filter[window_key] = ResultRef(f"p{page - 1}", last_row_path)
        page_filters.append(page_filter)
    return page_filters


#: portal URL -> (since, last): when this process began failing to connect to it, and last failed
#: (cleared by any answer; a failure long after the last one starts a new count)
_UNREACHABLE_SINCE: dict[str, tuple[float, float]] = {}


class Bitrix24Client:
    """Paced, retrying Bitrix24 REST client. Safe to share between threads."""

    def __init__(
        self,
        auth: Auth,
        limits: Optional[ClientLimits] = None,
        *,
        session: Optional[requests.Session] = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        limits = limits or ClientLimits()
        self.auth = auth
        self.limits = limits
        self.portal_url = auth.portal_url
        self.timeout = (float(limits.connect_timeout_seconds), float(limits.read_timeout_seconds))
        self.max_retries = int(limits.max_retries)
        self.backoff_base_seconds = float(limits.backoff_base_seconds)
        self.backoff_max_seconds = float(limits.backoff_max_seconds)
        self.unreachable_timeout_seconds = float(limits.unreachable_timeout_seconds)
        self.bucket: LeakyBucket = bucket_for_portal(self.portal_url, limits.rate_limit.burst,
                                                     limits.rate_limit.drain_per_second)
        self.operating = OperatingTimeTracker(limits.operating_budget_seconds,
                                              max_wait_seconds=limits.operating_wait_max_seconds)
        self.counters = ClientCounters()
        self._sleep = sleep
        if session is not None and session.verify is False:
            raise ValueError("TLS verification must stay on (session.verify is False)")
        self.session = session or requests.Session()
        self.session.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})
        install_log_redaction()
        auth.bind(self.session, self.timeout)

    def __repr__(self) -> str:
        return f"Bitrix24Client(portal_url={self.portal_url!r}, mode={self.auth.mode!r}, bucket={self.bucket!r})"

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> "Bitrix24Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # --- waiting ---------------------------------------------------------------------------

    def _wait(self, seconds: float, cause: str, detail: str = "") -> None:
        if seconds > 0:
            self._announced_sleep(seconds, cause, detail)
            self.counters.add("seconds_waited", seconds)

    def _announced_sleep(self, seconds: float, cause: str = progress.RATE_LIMIT, detail: str = "") -> None:
        progress.waiting(seconds, cause, detail)  # an operator's terminal names the wait; a no-op elsewhere
        self._sleep(seconds)

    def _unreachable_since(self) -> float:
        now = time.monotonic()
        since, last = _UNREACHABLE_SINCE.get(self.portal_url, (now, now))
        if now - last > self.unreachable_timeout_seconds:
            since = now
        _UNREACHABLE_SINCE[self.portal_url] = (since, now)
        return since

    def _backoff(self, retry_number: int) -> float:
        ceiling = min(self.backoff_max_seconds, self.backoff_base_seconds * (2 ** (retry_number - 1)))
        return random.uniform(ceiling / 2, ceiling)

    def _pace(self, methods: Iterable[str]) -> None:
        delays = {m: self.operating.delay_before(m) for m in set(methods)}
        slowest = max(delays, key=lambda m: delays[m], default="")
        if slowest and delays[slowest] > 0:
            log.info("%s is near its operating-time budget: waiting %.1fs for its window", slowest, delays[slowest])
            self._wait(delays[slowest], progress.OPERATING_WINDOW, slowest)
        waited = self.bucket.acquire(self._announced_sleep)
        if waited > 0:
            self.counters.add("seconds_waited", waited)

    # --- one HTTP request with retries -----------------------------------------------------------

    def _send_once(self, method: str, payload: Mapping[str, Any], token: Optional[str]) -> tuple[int, dict]:
        body = dict(payload)
        if token:
            body["auth"] = token
        data = json_body(body)
        self.counters.add("requests")
        started = time.monotonic()
        try:
            response = self.session.post(
                self.auth.endpoint(method),
                data=data,
                headers={"Content-Type": "application/json; charset=utf-8"},
                timeout=self.timeout,
            )
        except requests.ConnectTimeout:
            raise errors.ConnectError("no answer (connect timeout)", method=method) from None
        except requests.Timeout:
            raise errors.TransportError("no answer (read timeout)", method=method) from None
        except requests.exceptions.SSLError:
            raise errors.ConnectError("TLS verification failed", method=method) from None
        except requests.RequestException as exc:
            if _never_connected(exc):
                raise errors.ConnectError(f"cannot connect ({type(exc).__name__})", method=method) from None
            raise errors.TransportError(f"connection failed ({type(exc).__name__})", method=method) from None
        elapsed = time.monotonic() - started
        log.debug("%s -> HTTP %s (%d bytes sent, %d received, %.2fs)", method, response.status_code, len(data), len(response.content), elapsed)
        status = response.status_code
        try:
            parsed = response.json()
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and "error" in parsed and "result" not in parsed:
            extra = {k: v for k, v in parsed.items() if k not in ("error", "error_description")}
            raise errors.classify(
                method=method,
                http_status=status,
                code=parsed.get("error"),
                description=parsed.get("error_description") or "",
                extra=extra,
            )
        if not isinstance(parsed, dict) or "result" not in parsed:
            kind = response.headers.get("Content-Type", "no content type").split(";")[0]
            description = f"unexpected answer ({kind}, {len(response.content)} bytes)"
            if status >= 400 and status < 500:
                raise errors.classify(method=method, http_status=status, code=None, description=description)
            raise errors.ServerError(description, method=method, http_status=status)
        if status >= 400:
            raise errors.classify(method=method, http_status=status, code=None, description="error status with a result")
        return status, parsed

    def _request(
        self, method: str, payload: Mapping[str, Any], pacing_methods: Sequence[str], *, resend_unknown: bool = True,
        before_send: Optional[Callable[[], None]] = None,
    ) -> tuple[int, dict]:
        """Send with pacing and retries; ``resend_unknown=False`` never resends a request the
        portal may already have carried out (an answer lost to a reset, timeout or 5xx).
        ``before_send`` runs right before every attempt leaves (a writer's heartbeat)."""
        retries = 0
        renewed = False
        while True:
            self._pace(pacing_methods)
            token = self.auth.access_token()
            if before_send is not None:
                before_send()
            try:
                answer = self._send_once(method, payload, token)
            except errors.Bitrix24Error as exc:
                error = exc
            else:
                _UNREACHABLE_SINCE.pop(self.portal_url, None)
                return answer
            if isinstance(error, errors.AuthError):
                if error.code in _AUTH_RENEW_CODES and self.auth.mode == "oauth" and not renewed:
                    renewed = True
                    log.info("%s: %s; renewing the OAuth tokens", method, error.code)
                    if self.auth.renew(token):
                        self.counters.add("refreshes")
                    continue
                raise error
            if isinstance(error, errors.RateLimitError):
                self.counters.add("rate_limited_503")
                self.bucket.saturate()
            elif isinstance(error, errors.OperatingLimitError):
                self.counters.add("operating_limited_429")
            if not error.retryable or (error.outcome_unknown and not resend_unknown):
                raise error
            if isinstance(error, errors.OperatingLimitError):
                delay = max(self.operating.blocked(m, error.reset_at) for m in (pacing_methods or [method]))
            else:
                delay = self._backoff(retries + 1)
            if isinstance(error, errors.ConnectError):
                # a portal that cannot be reached at all gets a bounded time, shared by this process's
                # requests to it (a run's next step does not start the count again); then the run ends
                since = self._unreachable_since()
                if retries >= self.max_retries or time.monotonic() - since + delay > self.unreachable_timeout_seconds:
                    raise errors.UnreachableError(
                        f"{error.description}; unreachable for {time.monotonic() - since:.1f} s, the limit is "
                        f"{self.unreachable_timeout_seconds:g} s (bitrix24.unreachable_timeout_seconds)",
                        method=method) from None
            elif retries >= self.max_retries:
                raise error
            retries += 1
            self.counters.add("retries")
            log.warning("%s: %s (%s); retry %d/%d in %.1fs", method, type(error).__name__, error.description, retries,
                        self.max_retries, delay)
            if isinstance(error, errors.OperatingLimitError):
                self._wait(delay, progress.OPERATING_WINDOW, method)
            else:
                self._wait(delay, progress.RETRY, type(error).__name__)

    # --- public API --------------------------------------------------------------------------

    def call(self, method: str, params: Optional[Mapping[str, Any]] = None, *, idempotent: bool = True,
             before_send: Optional[Callable[[], None]] = None) -> ApiResponse:
        """Call one REST method (JSON body); raises a :mod:`~glyms_b24_pipeline.bitrix24.errors` subclass.

        ``idempotent=False`` (a write): a request whose answer was lost is not sent again.
        """
        status, data = self._request(method, params or {}, [method], resend_unknown=idempotent, before_send=before_send)
        time_info = data.get("time") if isinstance(data.get("time"), dict) else {}
        self.operating.observe(method, time_info)
        return ApiResponse(
            result=data.get("result"),
            total=_int_or_none(data.get("total")),
            next=_int_or_none(data.get("next")),
            time=time_info or {},
            http_status=status,
        )

    @staticmethod
    def _normalize(commands: Union[Mapping[str, tuple], Sequence[BatchCommand]]) -> list[BatchCommand]:
        if isinstance(commands, Mapping):
            result = []
            for key, spec in commands.items():
                if isinstance(spec, BatchCommand):
                    result.append(BatchCommand(key, spec.method, spec.params))
                else:
                    method, params = (spec, None) if isinstance(spec, str) else (spec[0], spec[1] if len(spec) > 1 else None)
                    result.append(BatchCommand(key, method, params))
            return result
        result = []
        for item in commands:
            if isinstance(item, BatchCommand):
                result.append(item)
            else:
                key, method, *rest = item
                result.append(BatchCommand(key, method, rest[0] if rest else None))
        return result

    def batch(
        self,
        commands: Union[Mapping[str, tuple[str, Optional[Mapping[str, Any]]]], Sequence[BatchCommand]],
        *,
        halt: bool = False,
        idempotent: bool = True,
        before_send: Optional[Callable[[], None]] = None,
    ) -> dict[str, CommandOutcome]:
        """Run any number of commands, 50 per request, in order; one outcome per key.

        A failed command never hides the others' results. A whole request that still fails
        after retries marks every command of its chunk failed with that error (authentication
        failures also mark the chunks not yet sent). With ``halt`` the portal stops at the
        first failing command and later chunks are not sent; skipped commands get
        :class:`~errors.NotExecutedError`.

        ``idempotent=False`` (writes such as creates): a chunk whose answer was lost is not
        sent again, because it may have been applied; its commands come back with an error
        whose ``outcome_unknown`` is true, for the caller to verify by reading.

        Commands the portal refused with ``OPERATION_TIME_LIMIT`` did not run, so (without
        ``halt``) they are sent again once their method's window allows, together with the
        commands that failed only because they referred to them.
        """
        ordered = self._normalize(commands)
        solo = solo_commands(ordered)
        batched = [c for c in ordered if c.key not in solo]
        outcomes = self._run_chunks(plan_chunks(batched), halt=halt, idempotent=idempotent, before_send=before_send)
        if not halt:
            self._resend_blocked(batched, outcomes, idempotent=idempotent, before_send=before_send)
        if solo:
            self._run_solo([c for c in ordered if c.key in solo], outcomes, halt=halt, idempotent=idempotent,
                           before_send=before_send)
        return {command.key: outcomes[command.key] for command in ordered}

    def _run_solo(self, commands: list[BatchCommand], outcomes: dict[str, CommandOutcome], *, halt: bool,
                  idempotent: bool, before_send: Optional[Callable[[], None]] = None) -> None:
        """Commands that cannot travel in a batch, one JSON call each, references resolved first."""
        stop: Optional[errors.Bitrix24Error] = None
        if halt and any(not o.ok for o in outcomes.values()):
            stop = errors.NotExecutedError("an earlier command failed (halt)", method="batch")
        for command in commands:
            if stop is not None:
                outcomes[command.key] = CommandOutcome(command.key, False, error=stop, method=command.method)
                continue
            done = {key: o.result for key, o in outcomes.items() if o.ok}
            try:
                params = resolve_references(command.params, done)
            except LookupError as exc:
                error: errors.Bitrix24Error = errors.NotExecutedError(f"not sent: {exc}", method=command.method)
                outcomes[command.key] = CommandOutcome(command.key, False, error=error, method=command.method)
                continue
            log.debug("%s sent alone: its data holds text the portal reads as a batch placeholder", command.method)
            try:
                response = self.call(command.method, params, idempotent=idempotent, before_send=before_send)
            except errors.Bitrix24Error as exc:
                outcomes[command.key] = CommandOutcome(command.key, False, error=exc, method=command.method)
                if isinstance(exc, errors.AuthError) or halt:
                    stop = exc if isinstance(exc, errors.AuthError) else errors.NotExecutedError(
                        "an earlier command failed (halt)", method="batch")
                continue
            outcomes[command.key] = CommandOutcome(command.key, True, result=response.result, total=response.total,
                                                   next=response.next, method=command.method, time=response.time)

    def _resend_blocked(self, ordered: list[BatchCommand], outcomes: dict[str, CommandOutcome], *, idempotent: bool,
                        before_send: Optional[Callable[[], None]] = None) -> None:
        """Commands refused with OPERATION_TIME_LIMIT never ran: wait for their method's window
        and send them again, with the commands that failed only because they referred to them."""
        for _ in range(self.max_retries):
            resend = {c.key for c in ordered if isinstance(outcomes[c.key].error, errors.OperatingLimitError)}
            if not resend:
                return
            for command in ordered:  # e.g. a price whose $result[create] was refused
                if not outcomes[command.key].ok and references(command.params) & resend:
                    resend.add(command.key)
            self.counters.add("retries")
            blocked = {outcomes[k].method: self.operating.blocked(outcomes[k].method, getattr(outcomes[k].error, "reset_at", None))
                       for k in resend if isinstance(outcomes[k].error, errors.OperatingLimitError)}
            slowest = max(blocked, key=lambda m: blocked[m])
            self._wait(blocked[slowest], progress.OPERATING_WINDOW, slowest)
            done = {key: o.result for key, o in outcomes.items() if o.ok}
            again = [BatchCommand(c.key, c.method, resolve_references(c.params, done, keep_pending=True))
                     for c in ordered if c.key in resend]
            log.info("resending %d command(s) refused for operating time", len(again))
            outcomes.update(self._run_chunks(plan_chunks(again), halt=False, idempotent=idempotent,
                                             before_send=before_send))

    def _run_chunks(self, plan: list[list[BatchCommand]], *, halt: bool, idempotent: bool,
                    before_send: Optional[Callable[[], None]] = None) -> dict[str, CommandOutcome]:
        outcomes: dict[str, CommandOutcome] = {}
        stop: Optional[errors.Bitrix24Error] = None
        for chunk in plan:
            if stop is not None:
                for command in chunk:
                    outcomes[command.key] = CommandOutcome(command.key, False, error=stop, method=command.method)
                continue
            payload = {"halt": 1 if halt else 0, "cmd": {c.key: command_string(c.method, c.params) for c in chunk}}
            log.debug("batch of %d commands (%s)", len(chunk), ", ".join(sorted({c.method for c in chunk})))
            try:
                _, data = self._request("batch", payload, [c.method for c in chunk], resend_unknown=idempotent,
                                        before_send=before_send)
            except errors.Bitrix24Error as exc:
                for command in chunk:
                    outcomes[command.key] = CommandOutcome(command.key, False, error=exc, method=command.method)
                if isinstance(exc, errors.AuthError) or halt:
                    stop = exc if isinstance(exc, errors.AuthError) else errors.NotExecutedError("an earlier batch failed (halt)", method="batch")
                continue
            failed = self._collect(chunk, data, halt, outcomes)
            if halt and failed:
                stop = errors.NotExecutedError("an earlier command failed (halt)", method="batch")
        return outcomes

    def _collect(self, chunk: list[BatchCommand], data: dict, halt: bool, outcomes: dict[str, CommandOutcome]) -> bool:
        body = data.get("result")
        body = body if isinstance(body, dict) else {}
        results = _as_map(body.get("result"))
        failures = _as_map(body.get("result_error"))
        totals = _as_map(body.get("result_total"))
        nexts = _as_map(body.get("result_next"))
        times = _as_map(body.get("result_time"))
        any_failed = False
        for command in chunk:
            key = command.key
            time_info = times.get(key) if isinstance(times.get(key), dict) else None
            self.operating.observe(command.method, time_info)
            if key in failures:
                any_failed = True
                failure = failures[key] if isinstance(failures[key], dict) else {"error": failures[key]}
                error: errors.Bitrix24Error = errors.classify(
                    method=command.method,
                    http_status=None,
                    code=failure.get("error"),
                    description=failure.get("error_description") or "",
                    extra={k: v for k, v in failure.items() if k not in ("error", "error_description")},
                )
                if isinstance(error, errors.OperatingLimitError):
                    self.counters.add("operating_limited_429")
                    self.operating.blocked(command.method, error.reset_at)
                outcomes[key] = CommandOutcome(key, False, error=error, method=command.method, time=time_info)
            elif key in results:
                outcomes[key] = CommandOutcome(
                    key,
                    True,
                    result=results[key],
                    total=_int_or_none(totals.get(key)),
                    next=_int_or_none(nexts.get(key)),
                    method=command.method,
                    time=time_info,
                )
            else:
                any_failed = True
                error = (
                    errors.NotExecutedError("not run: an earlier command of the batch failed (halt)", method=command.method)
                    if halt
                    else errors.ServerError("the batch answer has no result for this command", method=command.method)
                )
                outcomes[key] = CommandOutcome(key, False, error=error, method=command.method)
        return any_failed

    def list_fast(self, method: str, params: Optional[Mapping[str, Any]] = None, **options: Any) -> list[dict]:
        """Every row of :meth:`iter_fast` (same options), as a list."""
        return list(self.iter_fast(method, params, **options))

    def iter_fast(
        self,
        method: str,
        params: Optional[Mapping[str, Any]] = None,
        *,
        id_field: str = "ID",
        result_key: Optional[str] = None,
        pages_per_batch: int = BATCH_LIMIT,
    ) -> Iterator[dict]:
        """Every row matching ``params['filter']``, by ascending id, with ``start=-1`` paging.

        A generator: one request's rows (up to 2,500) are held at a time, so a caller that keeps a
        compact form of each row never holds the whole listing as dicts.

        Each request is a batch of ``pages_per_batch`` page commands chained with
        ``$result[p{i-1}][...][49][{id_field}]`` as the next ``>{id_field}`` window, so one
        request returns up to 2,500 rows. Pages after the first short page are ignored
        (their placeholders cannot resolve). ``result_key`` unwraps catalog answers
        (``{"services": [...]}``). Any ``order`` given is replaced by id ascending.
        """
        if not 1 <= pages_per_batch <= BATCH_LIMIT:
            raise ValueError(f"pages_per_batch must be 1..{BATCH_LIMIT}")
        base = dict(params or {})
        filters = dict(base.get("filter") or {})
        window_key = f">{id_field}"
        last_id = filters.pop(window_key, None)
        select = base.get("select")
        if select and id_field not in select and "*" not in select:
            base["select"] = [*select, id_field]
        base["order"] = {id_field: "ASC"}
        base["start"] = -1
        path: tuple[Any, ...] = (result_key,) if result_key else ()
        if carries_placeholder_text(base) or carries_placeholder_text(filters):
            pages_per_batch = 1  # such a filter cannot ride in a batch: page with single calls
        while True:
            commands = [BatchCommand(f"p{page}", method, {**base, "filter": page_filter})
                        for page, page_filter in enumerate(_window_filters(filters, window_key, last_id, pages_per_batch,
                                                                           (*path, PAGE_SIZE - 1, id_field)))]
            if pages_per_batch == 1:
                outcomes = {"p0": self._single_page(commands[0])}
            else:
                outcomes = self.batch(commands)
            finished = False
            for page in range(pages_per_batch):
                outcome = outcomes[f"p{page}"]
                if not outcome.ok:
                    raise outcome.error  # type: ignore[misc]
                page_rows = self._unwrap(outcome.result, result_key, method)
                for row in page_rows:
                    row_id = _int_or_none(row.get(id_field)) if isinstance(row, dict) else None
                    if row_id is None:
                        raise errors.ServerError(f"list row without a numeric {id_field}", method=method)
                    if last_id is not None and row_id <= int(last_id):
                        raise errors.ServerError(f"rows not in ascending {id_field} order (paging would loop)", method=method)
                    last_id = row_id
                    yield row
                if len(page_rows) < PAGE_SIZE:
                    finished = True
                    break
            if finished:
                return

    def _single_page(self, command: BatchCommand) -> CommandOutcome:
        try:
            response = self.call(command.method, command.params)
        except errors.Bitrix24Error as exc:
            return CommandOutcome(command.key, False, error=exc, method=command.method)
        return CommandOutcome(command.key, True, result=response.result, total=response.total, next=response.next,
                              method=command.method)

    @staticmethod
    def _unwrap(result: Any, result_key: Optional[str], method: str) -> list:
        if result_key:
            if isinstance(result, dict) and isinstance(result.get(result_key), list):
                return result[result_key]
            if result in ([], None, {}):
                return []
            raise errors.ServerError(f"list answer has no {result_key!r} list", method=method)
        if isinstance(result, list):
            return result
        if result in (None, {}):
            return []
        raise errors.ServerError("list answer is not a list (pass result_key for wrapped results)", method=method)
