"""Bitrix24 access: REST client, OAuth/webhook auth with a PostgreSQL token store, pacing.

Dagster-free on import; the resource lives in :mod:`glyms_b24_pipeline.bitrix24.resource`.
"""
