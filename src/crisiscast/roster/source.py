"""Where the schedule comes from: ``roster.schedule`` (a file or a URL), cached.

A file is read again when it changes; a URL is fetched again after ``roster.refresh_s``. A
failed fetch keeps the last good copy (its problems say the fetch failed); with no copy, the
schedule is empty and its problem says why, so an on-call audience resolves to nobody and a
send to it is refused with that sentence.

``current_schedule`` is synchronous (rendering and previews are): a URL is fetched on a
short-lived event loop of its own (in a worker thread when called from a running loop).
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from crisiscast.roster.config import RosterConfig
from crisiscast.roster.fetch import ScheduleUnavailable, fetch_schedule_text, shown_url
from crisiscast.roster.schedule import Schedule, parse_csv_schedule, parse_ical_schedule

__all__ = ["clear_cache", "current_schedule", "parse_schedule"]


@dataclass(slots=True)
class _Cached:
    stamp: float | tuple[int, int]  # file: (mtime ns, size); URL: time.monotonic() of the fetch
    schedule: Schedule


_CACHE: dict[str, _Cached] = {}
_LOCK = threading.Lock()


def clear_cache() -> None:
    with _LOCK:
        _CACHE.clear()


def _is_url(source: str) -> bool:
    return source.startswith(("https://", "http://"))


def parse_schedule(text: str, config: RosterConfig, source: str) -> Schedule:
    """``text`` as iCal when it starts like a calendar, else as CSV."""
    if text.lstrip().upper().startswith("BEGIN:VCALENDAR"):
        return parse_ical_schedule(text, zone=config.zone, source=source)
    return parse_csv_schedule(text.splitlines(), zone=config.zone, source=source)


def _fetch(url: str, timeout_s: float) -> str:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(fetch_schedule_text(url, timeout_s=timeout_s))
    box: dict[str, str | BaseException] = {}

    def run() -> None:
        try:
            box["text"] = asyncio.run(fetch_schedule_text(url, timeout_s=timeout_s))
        except BaseException as exc:
            box["error"] = exc

    worker = threading.Thread(target=run, name="roster-fetch", daemon=True)
    worker.start()
    worker.join()
    error = box.get("error")
    if isinstance(error, BaseException):
        raise error
    text = box["text"]
    assert isinstance(text, str)
    return text


def _from_url(url: str, config: RosterConfig) -> Schedule:
    cached = _CACHE.get(url)
    fetched_at = cached.stamp if cached is not None else None
    recent = isinstance(fetched_at, float) and time.monotonic() - fetched_at < config.refresh_s
    if cached is not None and recent:
        return cached.schedule
    try:
        schedule = parse_schedule(_fetch(url, config.fetch_timeout_s), config, shown_url(url))
    except ScheduleUnavailable as exc:
        if cached is not None:
            stale = Schedule(cached.schedule.source, list(cached.schedule.periods),
                             [*cached.schedule.problems, f"{exc} The last copy fetched is used."],
                             cached.schedule.calendar, cached.schedule.zone)
            return stale
        return Schedule(shown_url(url), problems=[str(exc)])
    _CACHE[url] = _Cached(time.monotonic(), schedule)
    return schedule


def _from_file(file: Path, config: RosterConfig) -> Schedule:
    try:
        stat = file.stat()
        mtime = (stat.st_mtime_ns, stat.st_size)
        cached = _CACHE.get(str(file))
        if cached is not None and cached.stamp == mtime:
            return cached.schedule
        text = file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        problem = f"The on-call schedule {file} does not exist; fix roster.schedule."
        return Schedule(str(file), problems=[problem])
    except UnicodeDecodeError:
        return Schedule(str(file), problems=[f"The on-call schedule {file} is not UTF-8 text."])
    except OSError as exc:
        problem = f"Cannot read the on-call schedule {file}: {exc.strerror or exc}."
        return Schedule(str(file), problems=[problem])
    schedule = parse_schedule(text, config, str(file))
    _CACHE[str(file)] = _Cached(mtime, schedule)
    return schedule


def current_schedule(config: RosterConfig, base_dir: str = ".") -> Schedule | None:
    """The schedule ``roster.schedule`` names (None when it names none); see the module docstring."""
    source = config.schedule.strip()
    if not source:
        return None
    with _LOCK:
        if _is_url(source):
            return _from_url(source, config)
        path = Path(source)
        return _from_file(path if path.is_absolute() else Path(base_dir) / path, config)
