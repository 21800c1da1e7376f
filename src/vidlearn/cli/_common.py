"""Helpers shared by the command modules."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from vidlearn.cli.errors import CLIError

__all__ = ["user_errors"]


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
