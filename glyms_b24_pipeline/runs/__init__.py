"""Runs of the code location: the Dagster instance (opened safely), and starting a run with its origin."""
