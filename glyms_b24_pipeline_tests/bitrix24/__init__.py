"""Tests of the Bitrix24 client, its auth, pacing, resource and CLI utilities."""
