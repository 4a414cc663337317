"""What the operator meets at the terminal: legacy spellings, listings, mapping checks, the
OAuth listener, progress and log levels. Nothing here runs inside a Dagster run except the
no-op progress sink (``progress.report``) and the mapping check the syncs may share."""
