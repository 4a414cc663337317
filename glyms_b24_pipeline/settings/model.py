"""Typed sync settings, loaded from one YAML file; secrets come only from the environment."""

from __future__ import annotations

import os
import re
import zoneinfo
from pathlib import Path
from typing import Any, Literal, Optional, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from glyms_b24_pipeline.settings.errors import ConfigError
from glyms_b24_pipeline.settings.limits import ClientLimits

CONFIG_ENV_VAR = "GLYMS_B24_CONFIG"

# Environment variables that hold secrets or endpoints: never in the YAML file.
SECRET_ENV_VARS = (
    "GLYMS_PG_DSN",
    "B24_PORTAL_URL",
    "B24_CLIENT_ID",
    "B24_CLIENT_SECRET",
    "B24_OAUTH_URL",
    "B24_WEBHOOK_URL",
    "DAGSTER_PG_URL",
    "GLYMS_B24_SMTP_PASSWORD",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Bitrix24Settings(ClientLimits):
    """The client's limits (one model, shared with the resource and the client) plus the OAuth redirect."""

    redirect_uri: str = "http://localhost/"

    def client_limits(self) -> ClientLimits:
        return ClientLimits.model_validate(self.model_dump(exclude={"redirect_uri"}))


class WriterSettings(_Strict):
    """One writer per portal: how long a second sync waits for the portal lock before giving up."""

    lock_wait_seconds: float = Field(120.0, ge=0, le=86_400)
    # A writer killed mid-push may leave a request the portal still carries out (a request may
    # take 60 s on Bitrix24): the next writer waits this long after that request left.
    in_flight_grace_seconds: float = Field(65.0, ge=0, le=3600)


def _excluded_and_mapped(mapping: dict[int, Any], excluded: frozenset[int], names: str) -> None:
    both = sorted(set(mapping) & excluded)
    if both:
        raise ValueError(f"{names}: {', '.join(map(str, both))} both mapped and excluded; keep each value in one of them")


class ServicesSettings(_Strict):
    iblock_id: int = Field(24, ge=1)
    price_type_id: int = Field(2, ge=1)
    currency: str = Field("ARS", min_length=3, max_length=3)
    currency_decimals: int = Field(2, ge=0, le=6)
    sections_by_tipo_ot: dict[int, int] = {1: 48, 2: 46, 3: 44}
    contracts_by_tipo_ot: dict[int, int] = {1: 14, 2: 259, 3: 371}
    # Work-order types whose services are not synced, on purpose: counted as excluded, not as problems.
    excluded_tipo_ot: frozenset[int] = frozenset()
    # The legacy script set the section only on create; True keeps it in line on update too.
    keep_sections_in_line: bool = False
    # A plan that would deactivate more than this share of the catalog stops the push.
    max_deactivation_share: float = Field(0.5, ge=0, le=1)

    @model_validator(mode="after")
    def _exclusions(self) -> "ServicesSettings":
        _excluded_and_mapped(self.sections_by_tipo_ot, self.excluded_tipo_ot,
                             "services.excluded_tipo_ot / services.sections_by_tipo_ot")
        _excluded_and_mapped(self.contracts_by_tipo_ot, self.excluded_tipo_ot,
                             "services.excluded_tipo_ot / services.contracts_by_tipo_ot")
        return self


class CompanyUserFields(_Strict):
    codigo: str = "UF_CRM_1748636158002"
    nombre_fantasia: str = "UF_CRM_1748637070"
    bloqueado: str = "UF_CRM_1748888310536"

    @field_validator("codigo", "nombre_fantasia", "bloqueado")
    @classmethod
    def _uf_code(cls, value: str) -> str:
        if not value.startswith("UF_CRM_"):
            raise ValueError(f"expected a user-field code starting with UF_CRM_, got {value!r}")
        return value


LEGACY_INDUSTRY_BY_CLIENTE_TIPO: dict[int, str] = {
    7: "UC_FV5RTZ", 9: "OTHER", 10: "1", 11: "UC_5KOWIB", 12: "UC_6IPFTB", 13: "UC_PJRWUH",
    14: "UC_QMEHSY", 15: "UC_G2UX05", 16: "UC_8B7GEU", 17: "UC_D0S7HJ", 18: "UC_FWPBRZ",
    19: "UC_281LBU", 20: "UC_N97ZBK", 21: "UC_SGFFD2", 22: "UC_Z8QQ65", 23: "UC_5HKBY1",
    24: "UC_8DMZTD", 25: "UC_APU0VJ", 26: "3", 27: "4", 28: "5", 29: "6", 30: "7", 31: "8",
    32: "9", 33: "10", 34: "11", 35: "12", 36: "13", 37: "14", 38: "15", 39: "16", 40: "17",
}
LEGACY_COMPANY_TYPE_BY_TIPO_OT: dict[int, str] = {1: "UC_HMSG7D", 2: "4", 3: "UC_EYGC4I"}


class CompanySensorSettings(_Strict):
    """When the pending-log sensor launches a companies run."""

    min_pending: int = Field(1, ge=1, le=1_000_000)
    max_age_seconds: float = Field(30.0, ge=0, le=86_400)


class CompaniesSettings(_Strict):
    company_type_by_tipo_ot: dict[int, str] = LEGACY_COMPANY_TYPE_BY_TIPO_OT
    industry_by_cliente_tipo: dict[int, str] = LEGACY_INDUSTRY_BY_CLIENTE_TIPO
    # Values left without a company type / industry on purpose (the field stays empty, no warning).
    company_type_excluded_tipo_ot: frozenset[int] = frozenset()
    industry_excluded_cliente_tipo: frozenset[int] = frozenset()
    user_fields: CompanyUserFields = CompanyUserFields()
    # Region for phone numbers written without a country code (ISO 3166 alpha-2).
    phone_region: str = Field("AR", min_length=2, max_length=2)
    # An update for a customer whose company is missing in Bitrix24: "create" it, or mark the row
    # TARGET_MISSING as the legacy script did.
    missing_on_update: Literal["create", "target_missing"] = "create"
    # A customer gone from Glyms: append the dated [SISTEMA] note once (legacy), delete the company, or ignore it.
    on_delete: Literal["note", "delete", "ignore"] = "note"
    # Companies typed by hand (no ORIGIN_ID) that match a customer are only reported, unless this says how to link.
    link_existing: Literal["none", "email", "phone"] = "none"
    # Pending log rows claimed per run (the legacy script read 200).
    claim_limit: int = Field(10_000, ge=1, le=100_000)
    # A claim not settled within this time (a killed run) returns its rows to PENDING.
    lease_seconds: float = Field(900.0, ge=30, le=86_400)
    # Transient failures (rate limits, 5xx, lost answers) are retried on later runs, this many times in all.
    max_attempts: int = Field(5, ge=1, le=100)
    retry_backoff_seconds: float = Field(60.0, ge=0, le=86_400)
    # The pending_age check warns when a change has waited longer than this (a stopped sensor or daemon).
    max_pending_age_seconds: float = Field(3600.0, ge=60, le=7 * 86_400)
    # Reconciliation stops before noting more than this share of the managed companies as deleted.
    max_deletion_share: float = Field(0.5, ge=0, le=1)
    sensor: CompanySensorSettings = CompanySensorSettings()

    @model_validator(mode="after")
    def _exclusions(self) -> "CompaniesSettings":
        _excluded_and_mapped(self.company_type_by_tipo_ot, self.company_type_excluded_tipo_ot,
                             "companies.company_type_excluded_tipo_ot / companies.company_type_by_tipo_ot")
        _excluded_and_mapped(self.industry_by_cliente_tipo, self.industry_excluded_cliente_tipo,
                             "companies.industry_excluded_cliente_tipo / companies.industry_by_cliente_tipo")
        return self


ServicesKeep = Literal["priced_lowest_id", "lowest_id", "newest"]
SERVICES_KEEP_POLICIES: tuple[str, ...] = get_args(ServicesKeep)


class RepairSettings(_Strict):
    """``glyms-b24 repair``: what to do with what the legacy script left behind."""

    # Of the catalog services sharing an xmlId, the one that keeps it: the one with a price of the
    # configured type and the lowest id (the first the legacy script created, already priced), the
    # lowest id, or the newest (highest id). The others are deactivated and moved aside.
    services_keep: ServicesKeep = "priced_lowest_id"


class ScheduleSettings(_Strict):
    """When the daemon runs the syncs on its own (cron syntax, in ``timezone``)."""

    timezone: str = "America/Argentina/Buenos_Aires"
    # Services and the change log, every morning before the lab opens (the legacy cron line).
    full_sync_cron: str = "0 5 * * *"
    # Every customer against every company, weekly: repairs drift edited by hand in Bitrix24.
    reconcile_cron: str = "0 6 * * 0"

    @field_validator("full_sync_cron", "reconcile_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        if len(value.split()) != 5:
            raise ValueError(f"expected a cron expression with 5 fields such as '0 5 * * *', got {value!r}")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. America/Argentina/Buenos_Aires)") from None
        return value


# --- maintenance: run history retention, alerts, freshness (glyms_b24_pipeline/defs/maintenance) ---


class HistorySettings(_Strict):
    """How long run history and audit rows are kept (pruned daily by the maintenance_prune job)."""

    audit_days: int = Field(400, ge=1, le=36_500)
    runs_days: int = Field(400, ge=1, le=36_500)


class EmailAlertSettings(_Strict):
    """SMTP delivery of alerts; the password only from GLYMS_B24_SMTP_PASSWORD."""

    smtp_host: str = ""
    smtp_port: int = Field(587, ge=1, le=65_535)
    sender: str = Field("", alias="from")
    to: list[str] = []
    starttls: bool = True
    username: str = ""
    timeout_seconds: float = Field(20.0, gt=0, le=600)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class AlertSettings(_Strict):
    """Where an alert goes when a sync starts failing and when it recovers."""

    channels: list[Literal["log", "email", "bitrix24"]] = ["log"]
    email: EmailAlertSettings = EmailAlertSettings()
    # Bitrix24 user who receives the system notification (im.notify.system.add)
    bitrix24_user_id: int = Field(1, ge=1)

    @model_validator(mode="after")
    def _email_complete(self) -> "AlertSettings":
        if "email" in self.channels:
            missing = [name for name, value in (("smtp_host", self.email.smtp_host), ("from", self.email.sender),
                                                ("to", self.email.to)) if not value]
            if missing:
                raise ValueError(f"channel email needs alerts.email.{', alerts.email.'.join(missing)}")
        return self


class FreshnessSettings(_Strict):
    """A sync whose push has not succeeded within this age fails its freshness check."""

    max_age_hours: float = Field(26.0, gt=0, le=24 * 60)


#: the code location's name when ``location.name`` is not set (a single-portal installation)
DEFAULT_LOCATION_NAME = "glyms_b24_pipeline"


class LocationSettings(_Strict):
    """Several portals on one Dagster instance: the name of this portal's code location."""

    # The workspace's location_name of this code location (a Helm user deployment's name); it also
    # prefixes every asset key (portal_a/glyms/services, a "-" written "_") so that several locations
    # share one instance. Empty: one portal, location glyms_b24_pipeline, today's asset keys.
    name: str = ""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if value and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]{0,39}", value):
            raise ValueError(f"expected a name of letters, digits, _ and - (at most 40, starting with a letter) "
                             f"such as portal_a, got {value!r}")
        return value

    @property
    def location_name(self) -> str:
        return self.name or DEFAULT_LOCATION_NAME

    @property
    def key_prefix(self) -> tuple[str, ...]:
        """The asset key prefix (an asset key's parts hold letters, digits and _ only)."""
        return (self.name.replace("-", "_"),) if self.name else ()


#: the location of a single-portal installation (no ``location.name``)
SINGLE_PORTAL = LocationSettings()


class UiSettings(_Strict):
    """Where operators open Dagster's UI (e.g. http://servidor:3000): run summaries link to the run's page."""

    url: Optional[str] = None

    @field_validator("url")
    @classmethod
    def _http(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"expected the UI's address such as http://127.0.0.1:3000, got {value!r}")
        return value.rstrip("/") if value else None

    def run_details(self, run_id: str) -> str:
        """Where one run's details are: its page in the UI, else ``glyms-b24 history --run``."""
        return f"{self.url}/runs/{run_id}" if self.url else f"glyms-b24 history --run {run_id}"


class Settings(_Strict):
    """Everything about the sync that is not a secret."""

    services: ServicesSettings = ServicesSettings()
    companies: CompaniesSettings = CompaniesSettings()
    bitrix24: Bitrix24Settings = Bitrix24Settings()
    writer: WriterSettings = WriterSettings()
    schedules: ScheduleSettings = ScheduleSettings()
    history: HistorySettings = HistorySettings()
    alerts: AlertSettings = AlertSettings()
    freshness: FreshnessSettings = FreshnessSettings()
    repair: RepairSettings = RepairSettings()
    ui: UiSettings = UiSettings()
    location: LocationSettings = LocationSettings()


#: pydantic's error types said in a few fixed phrases (the CLI translates them; pydantic's own are English)
_EXPECTATIONS = {
    "int_parsing": "must be an integer", "int_type": "must be an integer", "int_from_float": "must be an integer",
    "float_parsing": "must be a number", "float_type": "must be a number", "decimal_parsing": "must be a number",
    "bool_parsing": "must be true or false", "bool_type": "must be true or false",
    "string_type": "must be text", "list_type": "must be a list", "dict_type": "must be a mapping (key: value lines)",
    "model_type": "must be a mapping (key: value lines)",
}
_BOUNDS = {"greater_than_equal": ("ge", "must be at least {}"), "greater_than": ("gt", "must be more than {}"),
           "less_than_equal": ("le", "must be at most {}"), "less_than": ("lt", "must be less than {}")}


def _describe(error: Any) -> str:
    location = ".".join(str(part) for part in error["loc"]) or "(top level)"
    if error["type"] == "extra_forbidden":
        return f"{location}: unknown key (check its spelling; see glyms_b24.example.yaml)"
    if error["type"] == "missing":
        return f"{location}: required key is missing"
    ctx = error.get("ctx") or {}
    message = error["msg"]
    if error["type"] in _EXPECTATIONS:
        message = _EXPECTATIONS[error["type"]]
    elif error["type"] in _BOUNDS and _BOUNDS[error["type"]][0] in ctx:
        key, phrase = _BOUNDS[error["type"]]
        bound = ctx[key]
        message = phrase.format(f"{bound:g}" if isinstance(bound, float) else bound)
    elif error["type"] == "literal_error" and "expected" in ctx:
        message = f"must be one of {str(ctx['expected']).replace(' or ', ', ')}"
    elif error["type"] == "value_error":  # our validators' own words, which name the value where it helps
        return f"{location}: {message.removeprefix('Value error, ')}"
    if "input" in error and error["type"] not in ("model_type",):
        message = f"{message}, got {error['input']!r}"
    return f"{location}: {message}"


def parse_settings(data: Any, source: str) -> Settings:
    """Validate already-parsed YAML data; errors name ``source``, the key and the expectation."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of sections (services, companies, bitrix24, writer, schedules, repair), got {type(data).__name__}")
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(_describe(err) for err in exc.errors())
        raise ConfigError(f"{source}: {problems}") from None


def load_settings(path: Optional[str | os.PathLike[str]] = None) -> Settings:
    """Settings from ``path``, else from ``$GLYMS_B24_CONFIG``, else the built-in legacy defaults."""
    if path is None:
        path = os.environ.get(CONFIG_ENV_VAR) or None
    if path is None:
        return Settings()
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{file}: configuration file not found (set {CONFIG_ENV_VAR} or pass --config)") from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read configuration file: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{file}:{where}: {problem}") from None
    return parse_settings(data, str(file))


def require_env(name: str, purpose: str) -> str:
    """Value of a secret environment variable, or a one-line error naming it."""
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigError(f"environment variable {name} is not set ({purpose})")
    return value
