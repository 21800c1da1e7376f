"""The command line's user-error type, in its own module so that ``python -m vidlearn.cli.main`` and
``import vidlearn.cli.main`` raise and catch the same class."""

__all__ = ["CLIError"]


class CLIError(Exception):
    """A user error the command reports as one line with exit code 2."""
