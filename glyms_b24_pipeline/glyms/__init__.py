"""Glyms on PostgreSQL: the schema contract and its preflight, connections, compact rows, the SQL files, install-sql."""
