"""The built-in sandbox: an embedded PostgreSQL with seeded Glyms data and a Bitrix24 emulator."""
