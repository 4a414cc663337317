"""Fixtures shared by both test trees: the local Bitrix24 emulator."""

pytest_plugins = ["bitrix24_emulator.testing"]
