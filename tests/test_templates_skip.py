"""One bad file in the templates directory is skipped and reported; the others stay usable."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from crisiscast.message import Status
from crisiscast.templates import TemplateError, load_templates

SHIPPED = Path(__file__).resolve().parents[1] / "config" / "templates"


def _copy_shipped(tmp_path: Path) -> Path:
    folder = tmp_path / "templates"
    shutil.copytree(SHIPPED, folder)
    return folder


def test_a_broken_file_is_skipped_and_the_others_load(tmp_path: Path) -> None:
    """Invalid YAML, an invalid field and YAML that nests too deep are each skipped with a reason;
    every shipped template still renders."""
    folder = _copy_shipped(tmp_path)
    shipped = load_templates(folder).ids()
    (folder / "broken.yaml").write_text("id: broken\nversion: [1\n", encoding="utf-8")
    (folder / "no-text.yaml").write_text("id: no-text\nversion: 1\n", encoding="utf-8")
    (folder / "deep.yaml").write_text("id: deep\nx: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    catalog = load_templates(folder)
    assert catalog.ids() == shipped
    assert sorted(Path(s.source).name for s in catalog.skipped) == [
        "broken.yaml",
        "deep.yaml",
        "no-text.yaml",
    ]
    assert all(s.reason.startswith("The template file ") for s in catalog.skipped)
    message = catalog.get("facility-fire").render({"location": "Building A"}, status=Status.EXERCISE)
    assert "Building A" in message.headline
    with pytest.raises(TemplateError, match=r"'broken' is not available: The template file .*not valid YAML"):
        catalog.get("broken")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need a POSIX system")
def test_a_named_pipe_among_templates_is_skipped_without_blocking(tmp_path: Path) -> None:
    """A FIFO named like a template is skipped (never opened), so loading cannot hang."""
    folder = _copy_shipped(tmp_path)
    os.mkfifo(folder / "pipe.yaml")
    catalog = load_templates(folder)
    assert [Path(s.source).name for s in catalog.skipped] == ["pipe.yaml"]
    assert "not a regular file" in catalog.skipped[0].reason
    assert "facility-fire" in catalog
