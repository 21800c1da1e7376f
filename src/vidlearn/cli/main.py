"""Entry point of the ``vidlearn`` command.

Each command group lives in its own module of :mod:`vidlearn.cli` exposing
``register(subparsers)``; it adds its parser(s) and sets ``func`` to a handler
``handler(args) -> int``. Expected failures (bad input, a missing file, a wrong checkpoint) print one
line ``vidlearn: error: ...`` and exit with code 2; ``--debug`` shows the traceback instead.

A command that takes recipe overrides (a positional ``overrides``) accepts ``key=value`` anywhere on
its line, before or after its options: ``vidlearn train RECIPE --work-dir X data.root=...``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from vidlearn import __version__
from vidlearn.cli.errors import CLIError

__all__ = ["CLIError", "build_parser", "main"]

COMMAND_MODULES = ("demo", "train", "evaluate", "predict", "models", "data", "flow", "bench", "mot", "track", "sot",
                   "superres", "upscale", "generate")


class OneLineParser(argparse.ArgumentParser):
    """``argparse`` parser whose usage errors are one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    """The full ``vidlearn`` parser with every available command group registered."""
    parser = OneLineParser(
        prog="vidlearn",
        description="Deep learning for videos: train, evaluate and run video models.",
    )
    parser.add_argument("--version", action="version", version=f"vidlearn {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    for name in COMMAND_MODULES:
        module_name = f"vidlearn.cli.{name}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name == module_name:
                continue
            raise
        module.register(subparsers)
    return parser


def _expected_errors() -> tuple[type[BaseException], ...]:
    from vidlearn.models.weights import CheckpointLoadError
    from vidlearn.video.errors import VideoDecodeError

    errors: list[type[BaseException]] = [CLIError, CheckpointLoadError, VideoDecodeError, FileNotFoundError]
    try:
        from vidlearn.engine.config import ConfigError

        errors.append(ConfigError)
    except ImportError:
        pass
    return tuple(errors)


def _is_override(text: str) -> bool:
    key, equals, _ = text.partition("=")
    return bool(equals) and not text.startswith("-") and bool(key.strip())


def parse_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """``parser.parse_args`` that also takes ``key=value`` overrides after a command's options.

    ``argparse`` fills a positional list once, at its first position; an override written after an
    option is left over. Left-over ``key=value`` words join the command's ``overrides`` in command-line
    order; anything else left over is the usual one-line usage error.
    """
    args, extra = parser.parse_known_args(argv)
    overrides = [word for word in extra if _is_override(word)]
    unknown = [word for word in extra if not _is_override(word)]
    if overrides and not hasattr(args, "overrides"):
        unknown = extra  # this command takes no overrides: report them as argparse would
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if overrides:
        args.overrides = [*args.overrides, *overrides]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = build_parser()
    args = parse_args(parser, argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        sys.stderr.write("vidlearn: interrupted\n")
        return 130
    except _expected_errors() as error:
        if args.debug:
            raise
        message = str(error).strip().replace("\n", " | ") or type(error).__name__
        if isinstance(error, KeyError):
            message = message.strip("'\"")
        sys.stderr.write(f"vidlearn: error: {message}\n")
        return 2


if __name__ == "__main__":
    # Run the imported module's main so that its classes are the ones the command modules import.
    from vidlearn.cli.main import main as _main

    raise SystemExit(_main())
