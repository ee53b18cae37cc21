"""Errors the command line reports on one line, with exit code 2."""


class UsageError(Exception):
    """Bad input from the user: printed as ``cyclr: error: <message>``, exit code 2."""
