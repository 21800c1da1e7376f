"""The command line's user errors: the :class:`CLIError` type and :func:`user_errors`.

They live in their own module, not in :mod:`vidlearn.cli.main`, so that ``python -m vidlearn.cli.main``
and ``import vidlearn.cli.main`` raise and catch the same class, and so that the command modules,
which ``main`` loads, import nothing from ``main``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

__all__ = ["CLIError", "user_errors"]


class CLIError(Exception):
    """A user error the command reports as one line with exit code 2."""


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn the errors a user's input causes (unknown model, bad value, missing file) into :class:`CLIError`.

    The message is kept whole: it already names the key, file or value at fault.
    """
    try:
        yield
    except KeyError as error:
        raise CLIError(str(error.args[0]) if error.args else "unknown key") from error
    except (ValueError, FileNotFoundError, NotADirectoryError) as error:
        raise CLIError(str(error)) from error
