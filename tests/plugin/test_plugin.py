"""A channel is one spec: registered, it is previewed, named in the confirmation question,
guarded, isolated, followed up, and run by the sandbox and the demo — with no other edit.

These tests are the net under "channels as plugins": each safety rule is checked through
the public behaviour (the preview, the CLI's question, the configuration, the plan, the demo),
so they fail whatever part of crisiscast forgets to read the registry.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crisiscast.adapt.preview import preview_message
from crisiscast.audit.base import DeliveryRecord, DispatchRecord
from crisiscast.channels.base import RenderContext
from crisiscast.channels.registry import build_channels, names
from crisiscast.channels.spec import ChannelSpec
from crisiscast.config import Settings, load_settings, secrets_from
from crisiscast.delivery import Delivery, DeliveryState
from crisiscast.dispatch.plan import render_all
from crisiscast.errors import ConfigError
from crisiscast.lifecycle.followup import Reach, follow_up_notes, follow_up_target
from crisiscast.message import CrisisMessage, Status
from crisiscast.sandbox.runner import start_sandbox
from tests.plugin.pager import TOKEN, FakePager, PagerConfig

MESSAGE_YAML = """\
status: Exercise
headline: Evacuation drill in Building A at 10:00
instruction: Drill team to assembly point 2.
audiences: [exercise]
"""


def _exercise(headline: str = "Evacuation drill in Building A", **kw: object) -> CrisisMessage:
    return CrisisMessage(status=Status.EXERCISE, headline=headline, audiences=("exercise",), **kw)


def test_the_registry_lists_it(pager: ChannelSpec[PagerConfig]) -> None:
    """One line in SPECS: the channel's name is known to message files and the configuration."""
    assert "pager" in names()
    settings = Settings.model_validate({"channels": {"pager": {"group": "all-hands"}}})
    assert pager.config(settings).group == "all-hands"


def test_preview_shows_it_and_the_question_names_it(pager: ChannelSpec[PagerConfig], tmp_path: Path) -> None:
    """`crisiscast send` previews the pager's text and asks about every channel, the pager included."""
    message = tmp_path / "drill.yaml"
    message.write_text(MESSAGE_YAML)
    config = tmp_path / "crisiscast.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{tmp_path}/audit.db"\n[channels.mqtt]\nenabled = false\n')
    env = {"CRISISCAST_PAGER_TOKEN": TOKEN}
    from crisiscast.cli import app
    from crisiscast.cli.common import Options, set_options

    try:
        args = ["--config", str(config), "send", str(message)]
        result = CliRunner().invoke(app, args, input="n\n", env=env)
    finally:
        set_options(Options())  # the in-process run's --config must not outlive it (later CLI tests)
    out = result.output
    assert "Pager · en" in out  # its preview panel
    assert "EXERCISE EXERCISE EXERCISE Evacuation drill" in out
    question = next(line for line in out.splitlines() if line.startswith("Send this"))
    assert "pager" in question.split(" to ", 1)[1], question
    assert result.exit_code == 2  # not confirmed: nothing sent


def test_public_channel_is_held_to_the_phi_guard(pager: ChannelSpec[PagerConfig]) -> None:
    """Public: PHI is refused in the preview and when the dispatch is planned, unless overridden."""
    settings = Settings()
    message = _exercise("Patient MRN 99887766 moved to Building A")
    preview = preview_message(message, settings)
    assert "Pager is public" in preview.refused["pager"]
    secrets = secrets_from({"CRISISCAST_PAGER_TOKEN": TOKEN})
    channels, _ = build_channels(settings, secrets, message, only=["pager"])
    _, deliveries, failed = render_all(message, channels, RenderContext(dispatch_id="d1"))
    assert deliveries["pager"] == [] and failed[0].channel == "pager" and failed[0].code == "policy"
    _, deliveries, failed = render_all(message, channels, RenderContext(dispatch_id="d1", phi_override="ok"))
    assert len(deliveries["pager"]) == 1 and not failed


def test_an_exercise_target_equal_to_production_is_refused_at_load(
    pager: ChannelSpec[PagerConfig], tmp_path: Path
) -> None:
    """The configuration that points the pager's drills at its production group does not load."""
    config = tmp_path / "crisiscast.toml"
    config.write_text('[channels.pager]\ngroup = "All-Staff"\nexercise_group = " all-staff"\n')
    with pytest.raises(ConfigError, match=r"\[channels\.pager\] exercise_group"):
        load_settings(config)


def test_an_exercise_built_on_the_production_account_is_skipped(pager: ChannelSpec[PagerConfig]) -> None:
    """At build time too: the same provider account for drill and production is never used."""
    settings = Settings.model_validate({"channels": {"pager": {"group": "a", "exercise_group": "b"}}})
    forced = settings.model_copy(
        update={
            "channels": settings.channels.model_copy(
                update={"pager": pager.config(settings).model_copy(update={"exercise_group": "a"})}
            )
        }
    )  # past validation, as a file changed under a running server would be
    secrets = secrets_from({"CRISISCAST_PAGER_TOKEN": TOKEN})
    channels, skipped = build_channels(forced, secrets, _exercise(), only=["pager"])
    assert channels == []
    assert "the exercise pager target is the production one" in dict(skipped)["pager"]


def test_an_update_gets_its_follow_up(pager: ChannelSpec[PagerConfig]) -> None:
    """An Update of an alert that reached the pager replies to its page, and says so."""
    original = _exercise()
    now = datetime.now(UTC)
    root = DispatchRecord("d1", now, "finished", original.model_dump(mode="json"), {})
    page = Delivery("d1", "pager", "hospital-drill", 0, "text", "en")
    reach = Reach(root=root, message=original)
    reach.delivered["pager"] = [DeliveryRecord(page, DeliveryState.DELIVERED, 1, "page-7", None, None, now)]
    target = follow_up_target(reach, "update", "d1")
    assert target.reply_to["pager"] == "page-7"
    assert follow_up_notes(reach, ["pager"]) == ["Pager: a follow-up page to page page-7"]


async def test_the_sandbox_runs_its_fake(pager: ChannelSpec[PagerConfig]) -> None:
    """`crisiscast sandbox` starts the pager's fake and points the configuration at it."""
    sandbox = await start_sandbox(Settings(), roles=["pager"])
    try:
        assert isinstance(sandbox.fakes["pager"], FakePager)
        assert sandbox.env == {"CRISISCAST_PAGER_TOKEN": TOKEN}
        assert pager.config(sandbox.settings_for(Settings())).api_base_url == sandbox.urls["pager"]
    finally:
        await sandbox.stop()


async def test_the_demo_sends_to_it(
    pager: ChannelSpec[PagerConfig], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`crisiscast demo` includes the pager: its fake receives the drill page."""
    from crisiscast.cli import demo_run
    from crisiscast.sandbox import runner

    started: list[FakePager] = []
    real_start = runner.start_sandbox

    async def keep(*args: object, **kw: object) -> runner.Sandbox:
        sandbox = await real_start(*args, **kw)  # type: ignore[arg-type]
        started.extend(f for f in sandbox.fakes.values() if isinstance(f, FakePager))
        return sandbox

    monkeypatch.setattr(runner, "start_sandbox", keep)
    monkeypatch.chdir(tmp_path)
    assert await demo_run.run_demo(tmp_path / "demo", serve=False)
    [fake] = started
    assert [p["group"] for p in fake.pages] == ["hospital-drill"]
    assert fake.pages[0]["text"].startswith("EXERCISE EXERCISE EXERCISE")
