"""The sync settings as a Dagster resource, read once per run (the YAML path is not a secret, so it shows in the UI)."""

from __future__ import annotations

from typing import Optional

import dagster as dg
from pydantic import PrivateAttr

from glyms_b24_pipeline.settings.location import label_run_with_its_location
from glyms_b24_pipeline.settings.model import Settings, load_settings


class SyncSettings(dg.ConfigurableResource):
    """Mappings, ids and limits of the sync, read from the YAML file ($GLYMS_B24_CONFIG) when the run starts."""

    config_file: Optional[str] = None

    _settings: Optional[Settings] = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # once, when the run's resources are built: every step of the run sees the same settings,
        # and an edit of the file takes effect at the next run
        self._settings = self._read()
        label_run_with_its_location(context, self._settings.location.location_name)

    def _read(self) -> Settings:
        return load_settings(self.config_file) if self.config_file else Settings()

    def load(self) -> Settings:
        """The run's settings (read now when used outside a run)."""
        if self._settings is None:
            self._settings = self._read()
        return self._settings
