"""The banner feed over real HTTP: /banner.json, /banner.js and the sample page; colour contrast."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict

from crisiscast.channels.banner.channel import write_state_atomically
from crisiscast.channels.banner.routes import add_banner_routes, feed_max_age_s
from crisiscast.channels.registry import spec_for
from crisiscast.config import Settings
from tests.channels.test_banner import banner_doc


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.model_validate({"base_dir": str(tmp_path)})


@pytest.fixture
async def base_url(settings: Settings) -> AsyncIterator[str]:
    app = web.Application()
    add_banner_routes(app, settings)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    yield str(server.make_url("")).rstrip("/")
    await server.close()


async def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, CIMultiDict[str], bytes]:
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as resp:
        return resp.status, CIMultiDict(resp.headers), await resp.read()


async def test_feed_without_a_banner_says_none(base_url: str) -> None:
    """No state file yet: {"status": "none"}, short cache, readable from any origin."""
    status, headers, body = await get(f"{base_url}/banner.json")
    assert status == 200
    assert body == b'{"status": "none"}'
    assert headers["Content-Type"].startswith("application/json")
    assert headers["Cache-Control"] == "public, max-age=10"
    assert headers["Access-Control-Allow-Origin"] == "*"


async def test_feed_serves_the_current_banner_with_etag(base_url: str, settings: Settings) -> None:
    """The feed serves the state file; a poll with the same ETag gets 304 with the same headers."""
    doc = banner_doc(headline="Fire in Building A")
    write_state_atomically(settings.resolve(spec_for("banner").config(settings).path), doc)
    status, headers, body = await get(f"{base_url}/banner.json")
    assert status == 200 and b"Fire in Building A" in body
    status, again, body = await get(f"{base_url}/banner.json", {"If-None-Match": headers["ETag"]})
    assert status == 304 and body == b""
    assert again["Access-Control-Allow-Origin"] == "*" and again["ETag"] == headers["ETag"]


async def test_an_expired_banner_is_served_as_cleared(base_url: str, settings: Settings) -> None:
    """A banner past its expires_at is served as cleared even though the file still says active."""
    past = datetime.now(UTC) - timedelta(hours=2)
    doc = banner_doc(issued_at=past, expires_at=past + timedelta(hours=1))
    write_state_atomically(settings.resolve(spec_for("banner").config(settings).path), doc)
    status, _, body = await get(f"{base_url}/banner.json")
    assert status == 200
    assert b'"status": "cleared"' in body and b'"reason": "expired"' in body
    assert b"Fire" not in body


def test_cache_lifetime_never_outlives_the_banner() -> None:
    """max-age is 10 s, shorter when the banner expires sooner, 0 once it has expired."""
    now = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)
    assert feed_max_age_s({"status": "none"}, now=now) == 10
    soon = banner_doc(expires_at=now + timedelta(seconds=4.5))
    assert feed_max_age_s(soon, now=now) == 4
    assert feed_max_age_s(soon, now=now + timedelta(seconds=5)) == 0


async def test_exercise_feed_is_separate(base_url: str, settings: Settings) -> None:
    """The exercise banner is served from /banner-exercise.json, never from /banner.json."""
    exercise_path = spec_for("banner").config(settings).exercise_path
    assert exercise_path is not None
    write_state_atomically(
        settings.resolve(exercise_path), banner_doc(headline="EXERCISE drill", exercise=True)
    )
    _, _, production = await get(f"{base_url}/banner.json")
    _, _, drill = await get(f"{base_url}/banner-exercise.json")
    assert production == b'{"status": "none"}'
    assert b"EXERCISE drill" in drill


async def test_script_and_sample_page(base_url: str) -> None:
    """/banner.js is served as JavaScript; the sample page embeds it with one tag and takes options."""
    status, headers, script = await get(f"{base_url}/banner.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")
    assert b'setAttribute("role", "alert")' in script
    _, headers, page = await get(f"{base_url}/banner/sample")
    assert headers["Content-Type"].startswith("text/html")
    assert page.count(b"<script") == 1 and b'<script src="/banner.js" async></script>' in page
    _, _, drill = await get(f"{base_url}/banner/sample?feed=exercise&poll_ms=200")
    assert (
        b'<script src="/banner.js" data-feed="/banner-exercise.json" data-poll-ms="200" async></script>'
        in drill
    )
    _, _, odd = await get(f"{base_url}/banner/sample?poll_ms=%22%3E%3Cscript%3E")
    assert b'<script src="/banner.js" async></script>' in odd  # anything but digits is ignored


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(fg: str, bg: str) -> float:
    """WCAG 2.x contrast ratio of two #RRGGBB colours."""
    light, dark = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_every_banner_colour_pair_meets_wcag_aa() -> None:
    """Each colour pair the script uses has contrast >= 4.5:1, and the documented ratios are right."""
    script = resources.files("crisiscast").joinpath("static", "banner.js").read_text(encoding="utf-8")
    pairs = re.findall(r'(\w+): \{ fg: "(#[0-9A-F]{6})", bg: "(#[0-9A-F]{6})" \}', script)
    assert {name for name, _, _ in pairs} == {
        "Extreme",
        "Severe",
        "Moderate",
        "Minor",
        "Unknown",
        "Exercise",
        "Label",
    }
    for name, fg, bg in pairs:
        ratio = contrast_ratio(fg, bg)
        assert ratio >= 4.5, f"{name}: {fg} on {bg} is only {ratio:.2f}:1"
        documented = re.search(rf"\*\s+{name}\s+{fg} on {bg}\s+(\d+\.\d\d):1", script)
        assert documented is not None, f"{name}'s colours are not documented in the header comment"
        assert float(documented.group(1)) == round(ratio, 2)
