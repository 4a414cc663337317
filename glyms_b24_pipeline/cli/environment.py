"""Check the environment a command needs before anything slow starts (Dagster, a run)."""

from __future__ import annotations

from typing import Mapping, Optional

from glyms_b24_pipeline.bitrix24.factory import ConnectionValues, build_client
from glyms_b24_pipeline.settings.model import Bitrix24Settings


def check_bitrix24_environment(settings: Optional[Bitrix24Settings] = None,
                               environ: Optional[Mapping[str, str]] = None) -> None:
    """Raise the same one-line ``ConfigError`` as ``glyms-b24 price-types`` for a missing or malformed variable.

    Builds the client the utilities build (no request is sent), so both commands name the same
    variable in the same words.
    """
    settings = settings or Bitrix24Settings()
    build_client(ConnectionValues.from_env(environ), settings.client_limits(), redirect_uri=settings.redirect_uri).close()
