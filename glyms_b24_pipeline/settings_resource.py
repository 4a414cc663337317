"""The sync settings as a Dagster resource (the YAML path is not a secret, so it shows in the UI)."""

from __future__ import annotations

from typing import Optional

import dagster as dg

from glyms_b24_pipeline.config import Settings, load_settings


class SyncSettings(dg.ConfigurableResource):
    """Mappings, ids and limits of the sync, read from the YAML file ($GLYMS_B24_CONFIG)."""

    config_file: Optional[str] = None

    def load(self) -> Settings:
        return load_settings(self.config_file) if self.config_file else Settings()
