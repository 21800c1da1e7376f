"""The command line's user errors: the :class:`CLIError` type and :func:`user_errors`; and
:func:`note_emulated_bf16`, the commands' one note on a fast path that the CPU cannot make fast.

They live in their own module, not in :mod:`vidlearn.cli.main`, so that ``python -m vidlearn.cli.main``
and ``import vidlearn.cli.main`` raise and catch the same class, and so that the command modules,
which ``main`` loads, import nothing from ``main``.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

__all__ = ["CLIError", "note_emulated_bf16", "user_errors"]


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


def note_emulated_bf16(command: str, option: str, instead: str) -> None:
    """Say on stderr that ``option`` (a bf16 fast path) is emulated, and slower than ``instead``, on a CPU
    without bf16 instructions; say nothing where the CPU has them or does not tell."""
    from vidlearn.utils import cpu_has_bf16

    if cpu_has_bf16() is False:
        print(f"vidlearn {command}: {option} on a CPU without bf16 instructions emulates bf16, which is usually "
              f"slower than {instead}", file=sys.stderr)
