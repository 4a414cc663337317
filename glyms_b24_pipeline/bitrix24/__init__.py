"""Bitrix24 access: REST client, OAuth/webhook auth with a PostgreSQL token store, pacing.

The client imports Dagster only for its limits model (`limits.ClientLimits`, a `dg.Config`);
the resource lives in :mod:`glyms_b24_pipeline.bitrix24.resource`.
"""
