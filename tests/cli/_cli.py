"""Running ``vidlearn`` in-process for the command tests: the exit code and what it printed."""

from __future__ import annotations

import pytest

from vidlearn.cli.main import main


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    """``vidlearn ARGV...`` -> ``(exit code, stdout, stderr)``."""
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def error_line(capsys: pytest.CaptureFixture[str], *argv: object) -> str:
    """The one line an expected failure prints (exit code 2, no traceback)."""
    code, _, err = run(capsys, *argv)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    return lines[0]
