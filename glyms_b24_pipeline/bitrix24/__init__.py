"""Bitrix24 access: REST client, OAuth/webhook auth with a PostgreSQL token store, pacing, progress reports.

The client's limits are settings (:mod:`glyms_b24_pipeline.settings.limits`); the Dagster resource
lives in :mod:`glyms_b24_pipeline.bitrix24.resource`.
"""
