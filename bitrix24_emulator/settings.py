"""Emulator settings: every point where the sources disagree is a setting with the stricter default."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional, Union


@dataclass
class EmulatorSettings:
    """Behaviour knobs of the emulated portal (defaults = a cloud portal on a standard plan)."""

    # Leaky bucket per portal: +1 per HTTP request, drains at drain_per_second; over burst -> 503.
    rate_limit_burst: int = 50
    rate_limit_drain_per_second: float = 2.0
    rate_limit_enabled: bool = True
    # Operating time per method x application/webhook in a rolling window -> 429.
    operating_budget_seconds: float = 480.0
    operating_window_seconds: float = 600.0
    # Seconds charged per call on top of the measured time; a float or {method: seconds}.
    operating_cost_seconds: Union[float, dict] = 0.0
    operating_limit_enabled: bool = True
    # OAuth lifetimes and rotation.
    access_token_lifetime_seconds: int = 3600
    refresh_token_lifetime_seconds: int = 180 * 24 * 3600
    authorization_code_lifetime_seconds: int = 30
    # Old docs: a refresh invalidates the access token issued with the used refresh token.
    revoke_access_token_on_refresh: bool = True
    # Docs 403 vs. source code/SDK 401 (see docs/emulator.md).
    insufficient_scope_status: int = 401
    invalid_credentials_status: int = 401
    expired_token_description: str = "The access token provided has expired"
    # Services: answer for an id that does not exist. "access_denied" = older source
    # (get/delete 200040300040, update 0 "iblock is not catalog"); "not_exists" = docs (0).
    missing_service_error: str = "access_denied"
    # catalog.price.modify deletes unlisted prices before validating the rest (older source).
    price_modify_delete_first: bool = True
    # catalog.price.update: the docs mark both price and currency as required.
    price_update_requires_currency: bool = True
    # Portal clock offset used in every datetime (Argentina).
    timezone_offset_minutes: int = -180
    # PHP json_encode flags (\/, \u0026, \u003C, ...); off gives plain JSON.
    php_json_escaping: bool = True
    page_size: int = 50
    batch_max_commands: int = 50
    # HTTPS on both servers, as every cloud portal and oauth.bitrix24.tech are: SDKs that hard-code
    # https:// need it. None = the bundled test certificate for 127.0.0.1/::1/localhost (TLS_CA_FILE).
    tls: bool = False
    tls_certfile: Optional[str] = None
    tls_keyfile: Optional[str] = None
    # Portal identity. app.info shows LICENSE as "<language_id>_<license_type>" (e.g. "la_project").
    member_id: Optional[str] = None
    user_id: int = 1
    language_id: str = "la"
    license_type: str = "project"
    # Fault defaults.
    slow_delay_seconds: float = 1.0
    timeout_delay_seconds: float = 65.0
    random_seed: Optional[int] = None
    # Counters start where a used portal would be, so ids never look like list indexes.
    first_element_id: int = 1000
    first_price_id: int = 5000
    first_company_id: int = 100
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)

    def operating_cost_for(self, method: str) -> float:
        cost = self.operating_cost_seconds
        if isinstance(cost, dict):
            return float(cost.get(method, cost.get("*", 0.0)))
        return float(cost or 0.0)
