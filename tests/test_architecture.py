"""The house plan, checked on the code: which package may import which, and module sizes.

Arrows run one way (see DESIGN.md): ``cli -> wings -> (data, models, engine, video, utils)``. The
foundation imports no wing and no ``cli``; no wing imports ``cli``; nothing outside ``cli`` imports it;
no module takes a private name (``_name``) from a sibling module; no module is over about 500 lines
without the reason written at its top (a docstring paragraph starting "This module is long").
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "vidlearn"
WINGS = ("recognition", "tracking", "superres", "generation")
FOUNDATION = ("video", "engine", "data", "models", "utils")
MAX_LINES = 520


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> list[tuple[str, list[str], int]]:
    """``(module imported, names taken, line)`` for every import of ``vidlearn`` in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names if alias.name.startswith("vidlearn")]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, module] if module else base)
            if module.startswith("vidlearn"):
                found.append((module, [alias.name for alias in node.names], node.lineno))
    return found


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _violations(allowed: callable) -> list[str]:
    bad = []
    for name, path in MODULES.items():
        for imported, _names, line in _imports(name, path):
            if not allowed(_top(name), _top(imported)):
                bad.append(f"{path.relative_to(SRC.parent)}:{line} imports {imported}")
    return bad


def test_the_foundation_imports_no_wing_and_no_cli() -> None:
    assert _violations(lambda source, target: source not in FOUNDATION or target not in (*WINGS, "cli")) == []


def test_no_wing_imports_the_cli_and_only_the_cli_does() -> None:
    assert _violations(lambda source, target: target != "cli" or source == "cli") == []


def test_no_private_names_cross_modules() -> None:
    bad = []
    for name, path in MODULES.items():
        for imported, names, line in _imports(name, path):
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private and imported != name:
                bad.append(f"{path.relative_to(SRC.parent)}:{line} takes {private} from {imported}")
    assert bad == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_long_modules_say_why(name: str) -> None:
    path = MODULES[name]
    text = path.read_text(encoding="utf-8")
    lines = text.count("\n")
    if lines <= MAX_LINES:
        return
    docstring = ast.get_docstring(ast.parse(text)) or ""
    assert "This module is long" in docstring, f"{path.relative_to(SRC.parent)} has {lines} lines and no reason"


def test_the_checks_see_the_whole_tree() -> None:
    # A vacuous pass (no module found, or imports not parsed) would hide every violation.
    assert {"vidlearn.engine.trainer", "vidlearn.video.reader", "vidlearn.cli.main"} <= set(MODULES)
    imports = _imports("vidlearn.engine.trainer", MODULES["vidlearn.engine.trainer"])
    assert ("vidlearn.engine.step", ["StepContext", "TrainingParts"]) in [(m, n) for m, n, _ in imports]
