"""A faithful local Bitrix24 portal (REST + OAuth) for tests, benchmarks and the sandbox.

See docs/emulator.md for what it emulates and where it knowingly differs from a real portal.
"""

from .emulator import TLS_CA_FILE, Bitrix24Emulator
from .encoding import build_php_query, parse_php_query, php_json_encode
from .errors import RestError
from .faults import FAULT_KINDS, Fault
from .observability import RequestLogEntry
from .settings import EmulatorSettings

__all__ = ["Bitrix24Emulator", "EmulatorSettings", "Fault", "FAULT_KINDS", "RequestLogEntry", "RestError",
           "TLS_CA_FILE", "build_php_query", "parse_php_query", "php_json_encode"]
