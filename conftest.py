"""Fixtures shared by both test trees: the local Bitrix24 emulator."""

pytest_plugins = ["bitrix24_emulator.testing"]


def pytest_configure(config):
    """The message catalogs of this checkout, compiled as the build hook does (a .po edited since the
    install is in force); every xdist worker compiles them too, each write atomic."""
    from pathlib import Path

    from hatch_build import compile_catalogs

    compile_catalogs(Path(__file__).resolve().parent)
