"""Versioned schema migrations shipped as SQL files in ``crisiscast/audit/schema/<dialect>/``.

A migration is ``NNNN_name.sql``; its version is ``NNNN``. Files are applied in version order,
each at most once (PostgreSQL records them in ``schema_migrations``; SQLite in
``PRAGMA user_version``). A migration, once released, is never edited: changes go in a new file.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files

__all__ = ["Migration", "migrations"]


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations(dialect: str) -> list[Migration]:
    """The migrations for ``dialect`` (``"sqlite"`` or ``"postgres"``) in version order."""
    folder = files("crisiscast.audit").joinpath("schema", dialect)
    found: list[Migration] = []
    for entry in folder.iterdir():
        name = entry.name
        if not name.endswith(".sql"):
            continue
        version = int(name.split("_", 1)[0])
        found.append(Migration(version, name.removesuffix(".sql"), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    return found
