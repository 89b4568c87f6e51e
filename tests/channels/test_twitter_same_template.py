"""Two alerts from one template in a day both reach X, whose fake refuses duplicates as X does."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from crisiscast.channels.base import RenderContext
from crisiscast.channels.registry import build_channels
from crisiscast.cli.demo_run import demo_settings
from crisiscast.config import Settings
from crisiscast.delivery import Receipt
from crisiscast.message import CrisisMessage, Status
from crisiscast.sandbox.runner import start_sandbox
from crisiscast.templates import load_templates

ROOT = Path(__file__).resolve().parents[2]


async def _post_all(message: CrisisMessage, settings: Settings, secrets: object, dispatch_id: str) -> None:
    [channel], _ = build_channels(settings, secrets, message, only=["twitter"])  # type: ignore[arg-type]
    await channel.start()
    try:
        receipts: dict[str, Receipt] = {}
        for d in channel.render(message, RenderContext(dispatch_id=dispatch_id)):
            receipts[d.key] = await channel.send(d, receipts.get(d.after) if d.after else None)
    finally:
        await channel.aclose()


async def test_the_same_template_twice_posts_every_part(tmp_path: Path) -> None:
    """facility-fire for Building B, then for Building C: no post of the second thread is refused
    as a duplicate of the first's (the instruction posts carry each alert's time)."""
    catalog = load_templates(ROOT / "config" / "templates")
    template = catalog.get("facility-fire")
    first = template.render({"location": "Building B, floor 3"}, status=Status.EXERCISE)
    second = template.render({"location": "Building C, floor 1"}, status=Status.EXERCISE)
    second = second.model_copy(update={"sent": first.sent + timedelta(minutes=40)})
    sandbox = await start_sandbox(Settings(), roles=["x_exercise"])
    try:
        settings, _ = demo_settings(tmp_path, sandbox)
        await _post_all(first, settings, sandbox.secrets(), "d-first")
        await _post_all(second, settings, sandbox.secrets(), "d-second")
        posted = [r for r in sandbox.fakes["x_exercise"].requests if r.method == "POST"]
        assert len(posted) >= 4 and all(r.status == 201 for r in posted)
    finally:
        await sandbox.stop()
