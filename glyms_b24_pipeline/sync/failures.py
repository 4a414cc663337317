"""Turn the errors an operator can act on into one-line Dagster failures."""

from __future__ import annotations

import contextlib
import os
from typing import Iterator

import dagster as dg

from glyms_b24_pipeline.bitrix24.errors import AuthError, Bitrix24Error, UnreachableError, operator_message
from glyms_b24_pipeline.settings.errors import OperatorError

#: failure metadata key: the CLI's exit code for this failure (3 = another writer holds the portal)
EXIT_CODE_KEY = "glyms_b24/exit_code"


@contextlib.contextmanager
def reported_as_failure() -> Iterator[None]:
    """Inside an asset: a configuration, database or Bitrix24 error fails the step with one line.

    The run's failure then reads "cannot connect to the Glyms database ..." in the UI and in
    ``glyms-b24 sync`` instead of a traceback.
    """
    try:
        yield
    except Bitrix24Error as exc:
        webhook_mode = bool(os.environ.get("B24_WEBHOOK_URL"))
        # a portal still busy or down after the client's own retries may be fine in a minute: the
        # step's RetryPolicy tries again (a retried push replans, so nothing is sent twice)
        raise dg.Failure(description=operator_message(exc, webhook_mode=webhook_mode),
                         allow_retries=bool(exc.retryable or exc.outcome_unknown),
                         metadata={EXIT_CODE_KEY: 2 if isinstance(exc, (OperatorError, AuthError, UnreachableError)) else 1}) from None
    except OperatorError as exc:
        raise dg.Failure(description=str(exc), allow_retries=False,
                         metadata={EXIT_CODE_KEY: getattr(exc, "exit_code", 2)}) from None
