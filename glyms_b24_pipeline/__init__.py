"""Glyms LIMS -> Bitrix24 CRM synchronisation, as a Dagster code location."""

__version__ = "0.1.0"
