"""The layout holds the architecture: channels are plugins, and the core never names one.

- No string constant in ``src/`` equals a channel's name outside that channel's package
  (``crisiscast/channels/<name>/``), the registry and the sandbox: everything else reads the
  specs, so adding a channel needs no edit there.
- ``crisiscast/channels/`` imports nothing from ``dispatch``, ``lifecycle``, ``server`` or
  ``cli``: a channel is a leaf that the rest of crisiscast uses, never the other way round.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from crisiscast.channels.registry import names

SRC = Path(__file__).resolve().parents[2] / "src" / "crisiscast"
# The contacts file's columns name the paths a person can be reached by (sms, voice, email).
ALLOWED_EVERYWHERE = (
    SRC / "channels" / "registry.py",
    SRC / "sandbox",
    SRC / "contacts.py",
    SRC / "contacts_check.py",
)
FORBIDDEN_FOR_CHANNELS = (
    "crisiscast.dispatch",
    "crisiscast.lifecycle",
    "crisiscast.server",
    "crisiscast.cli",
)


def _modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring constants (prose may name a channel)."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                out.add(id(body[0].value))
    return out


NOT_A_CHANNEL = "not-a-channel"  # a comment marking a string that only looks like a name (a URL scheme)


def _allowed(path: Path, channel: str) -> bool:
    if path.is_relative_to(SRC / "channels" / channel):
        return True
    return any(path == a or path.is_relative_to(a) for a in ALLOWED_EVERYWHERE)


def test_no_channel_name_is_spelt_outside_its_package() -> None:
    """Only a channel's own package (and the registry, the sandbox) may spell its name."""
    channel_names = set(names())
    found: list[str] = []
    for path in _modules():
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        docs = _docstrings(tree)
        marked = {i for i, line in enumerate(source.splitlines(), 1) if NOT_A_CHANNEL in line}
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and node.value in channel_names
                and id(node) not in docs
                and node.lineno not in marked
                and not _allowed(path, node.value)
            ):
                found.append(f"{path.relative_to(SRC)}:{node.lineno} {node.value!r}")
    assert found == [], "channel names spelt outside their package:\n" + "\n".join(found)


@pytest.mark.parametrize("path", sorted((SRC / "channels").rglob("*.py")), ids=lambda p: str(p.name))
def test_channels_import_nothing_from_the_layers_that_use_them(path: Path) -> None:
    """``channels/`` is a leaf: no import of dispatch, lifecycle, server or cli."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.append(node.module)
        elif isinstance(node, ast.Import):
            imported.extend(alias.name for alias in node.names)
    bad = [m for m in imported if m.startswith(FORBIDDEN_FOR_CHANNELS)]
    assert bad == [], f"{path.relative_to(SRC)} imports {bad}"
