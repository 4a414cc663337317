"""SyncSettings: read once when a run starts; an edit of the file mid-run waits for the next run."""

import dagster as dg

from glyms_b24_pipeline.settings.resource import SyncSettings


def test_every_step_of_a_run_sees_the_settings_of_its_start_and_the_next_run_the_edit(tmp_path):
    config = tmp_path / "glyms_b24.yaml"
    config.write_text("services:\n  iblock_id: 24\n", encoding="utf-8")

    @dg.asset
    def first(sync_settings: SyncSettings) -> int:
        seen = sync_settings.load().services.iblock_id
        config.write_text("services:\n  iblock_id: 99\n", encoding="utf-8")  # edited while the run goes on
        return seen

    @dg.asset
    def second(first: int, sync_settings: SyncSettings) -> tuple[int, int]:
        return first, sync_settings.load().services.iblock_id

    resources = {"sync_settings": SyncSettings(config_file=str(config))}
    run = dg.materialize([first, second], resources=resources)
    assert run.output_for_node("second") == (24, 24)
    again = dg.materialize([first, second], resources=resources)  # the next run reads the edit
    assert again.output_for_node("second") == (99, 99)
