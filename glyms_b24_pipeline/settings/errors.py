"""Errors an operator can act on: each renders as one line, never with a secret."""


class OperatorError(Exception):
    """A problem the operator must fix (configuration, database, credentials).

    ``str(error)`` is one line that says what is wrong, where, and what to do.
    """

    #: the CLI's exit code (2: configuration, mapping, authorisation or database problem)
    exit_code = 2


class ConfigError(OperatorError):
    """The configuration file or an environment variable is invalid."""
