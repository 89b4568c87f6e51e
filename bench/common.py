"""What every benchmark shares: fakes in a child process, the configuration, statistics.

- ``Fakes``: starts ``bench/_fakes.py`` (the sandbox X, Graph API and Twilio fakes) in a
  SEPARATE process, waits until they listen, and drives their control API: latency,
  scripted faults, reset between runs, the request log with arrival times (``at_s`` is
  ``time.monotonic()`` in the fakes' process; on Linux that clock is shared by every
  process, so it can be compared with the benchmark's own ``time.monotonic()``).
- ``bench_settings``: a crisiscast configuration pointing every channel at the fakes, the
  banner at a temporary file, MQTT at the local Mosquitto under a throw-away topic prefix.
- ``write_contacts``: a contacts CSV of N valid, distinct, fictional US numbers.
- ``Stats``: median, min and max of several runs, formatted the same way everywhere.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
MQTT_URL = os.environ.get("CRISISCAST_BENCH_MQTT_URL", "mqtt://127.0.0.1:1883")

# An Actual alert (the long one: an X thread, every channel). Benchmarks never reach a real
# provider: every URL points at the fakes on 127.0.0.1.
MESSAGE_YAML = """\
status: Actual
msg_type: Alert
sender: incident-command@st-example-hospital.org
event: Fire
severity: Severe
urgency: Immediate
certainty: Observed
language: en
headline: "Fire in Building B, level 3: evacuate the east wing now"
instruction: >-
  Staff on level 3 east: move patients to the west wing through the fire doors.
  Do not use the lifts. Visitors leave by the main entrance.
description: >-
  A fire was reported in the level 3 east wing of Building B at 14:05.
  The fire service is on site. Building A and the emergency department are not affected.
web: https://www.st-example-hospital.org/alerts
audiences: [all-staff]
"""

APPROVAL = {"approvers": ["bench-commander", "bench-officer"], "confirmed_with": "bench"}


# -- statistics --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Stats:
    """Median, min and max of several runs."""

    median: float
    min: float
    max: float
    n: int

    @classmethod
    def of(cls, values: Iterable[float]) -> Stats:
        vs = list(values)
        return cls(statistics.median(vs), min(vs), max(vs), len(vs))

    def fmt(self, unit: str = "s", digits: int = 3) -> str:
        return (
            f"{self.median:.{digits}f} {unit} (median of {self.n}; "
            f"min {self.min:.{digits}f}, max {self.max:.{digits}f})"
        )


def quiet_logs() -> None:
    """crisiscast's own logging set-up, warnings and errors only, to stderr."""
    from crisiscast.logs import configure_logging

    configure_logging(level="warning", stream=sys.stderr)


def verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def header(title: str) -> None:
    print(f"\n== {title} ==", flush=True)


def machine() -> str:
    """``nproc``, CPU model and Python version, for the figures' context."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs, {model}, Python {sys.version.split()[0]}"


# -- the fakes in a child process -----------------------------------------------------------------
class Fakes:
    """The sandbox fakes in a child process (see the module docstring). Use as a context manager."""

    def __init__(self, latency_ms: float = 0.0, roles: Sequence[str] = ("x", "graph", "twilio")) -> None:
        self.latency_ms = latency_ms
        self.roles = list(roles)
        self.proc: subprocess.Popen[str] | None = None
        self.urls: dict[str, str] = {}
        self.env: dict[str, str] = {}
        self.pid = 0

    def __enter__(self) -> Fakes:
        self.proc = subprocess.Popen(
            [sys.executable, str(BENCH_DIR / "_fakes.py"), str(self.latency_ms), *self.roles],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # blocks until the fakes listen (or the child died)
        if not line:
            raise RuntimeError("the sandbox fakes did not start (see the error above)")
        ready = json.loads(line)
        self.urls, self.env, self.pid = ready["urls"], ready["env"], ready["pid"]
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.proc is None:
            return
        assert self.proc.stdin is not None
        self.proc.stdin.close()  # EOF: the child stops its fakes and exits
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    # -- control API ---------------------------------------------------------------------------
    def _call(self, role: str, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(  # noqa: S310 - a fixed http://127.0.0.1 URL of our own fake
            self.urls[role] + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"} if data else {},
        )
        with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310
            return json.loads(resp.read())

    def reset(self, latency_ms: float | None = None) -> None:
        """Forget requests, faults and provider state; then set the latency again."""
        if latency_ms is not None:
            self.latency_ms = latency_ms
        for role in self.urls:
            self._call(role, "POST", "/_sandbox/reset", {})
            self._call(role, "POST", "/_sandbox/faults", {"latency_s": self.latency_ms / 1000.0})

    def fault(self, role: str, **plan: Any) -> None:
        """``POST /_sandbox/faults`` (e.g. ``scripted=[{"status": 429, ...}]``)."""
        self._call(role, "POST", "/_sandbox/faults", plan)

    def requests(self, role: str) -> list[dict[str, Any]]:
        """The request log of one fake (arrival ``at_s`` on the shared monotonic clock)."""
        return list(self._call(role, "GET", "/_sandbox/requests"))


# -- configuration --------------------------------------------------------------------------------
def write_contacts(path: Path, n: int, *, spanish_every: int = 10) -> Path:
    """N distinct valid fictional US numbers in group ``staff`` (every 10th in Spanish)."""
    with path.open("w", encoding="utf-8") as f:  # line by line: the benchmark's memory stays its own
        f.write("name,phone,groups,language\n")
        for i in range(n):
            exchange = 200 + (i // 10_000)
            language = "es" if spanish_every and i % spanish_every == spanish_every - 1 else "en"
            f.write(f"Staff {i},+1617{exchange:03d}{i % 10_000:04d},staff,{language}\n")
    return path


def bench_settings(
    urls: Mapping[str, str],
    directory: Path,
    *,
    recipients: int,
    sms_concurrency: int = 100,
    sms_max_requests_per_s: float | None = None,
    sms_burst: int = 10,
    store_url: str | None = None,
    mqtt: bool = True,
    extra: Mapping[str, Any] | None = None,
) -> Any:
    """Settings with every provider at the fakes; ``Settings`` (imported late: startup cost)."""
    from crisiscast.config import Settings

    contacts = write_contacts(directory / "contacts.csv", recipients)
    prefix = f"bench/crisiscast-{uuid.uuid4().hex[:8]}"
    raw: dict[str, Any] = {
        "base_dir": str(directory),
        "templates_dir": str(REPO / "config" / "templates"),
        "store": {"url": store_url or f"sqlite:///{directory / 'audit.db'}"},
        "channels": {
            "twitter": {"api_base_url": urls.get("x", "http://127.0.0.1:1"), "max_requests_per_s": 50.0},
            "facebook": {
                "graph_base_url": urls.get("graph", "http://127.0.0.1:1"),
                "page_id": "100000000000001",
                "exercise_page_id": "100000000000999",
            },
            "sms": {
                "api_base_url": urls["twilio"],
                "account_sid": "AC00000000000000000000000000000000",
                "messaging_service_sid": "MG00000000000000000000000000000000",
                "contacts": str(contacts),
                "max_concurrency": sms_concurrency,
                "max_requests_per_s": sms_max_requests_per_s,
                "burst": sms_burst,
            },
            "banner": {
                "path": str(directory / "banner.json"),
                "exercise_path": str(directory / "banner-exercise.json"),
            },
            "mqtt": {
                "enabled": mqtt,
                "url": MQTT_URL,
                "topic_prefix": prefix,
                "exercise_topic_prefix": prefix + "-exercise",
            },
        },
    }
    for section, values in (extra or {}).items():
        raw.setdefault(section, {}).update(values)
    return Settings.model_validate(raw)


def message(channels: Sequence[str] | None = None) -> Any:
    """The bench ``CrisisMessage``: an Actual fire alert to all staff, every channel or ``channels``."""
    from crisiscast.loader import parse_message

    text = MESSAGE_YAML + (f"channels: [{', '.join(channels)}]\n" if channels else "")
    return parse_message(text, fmt="yaml", origin="<bench message>")


async def clear_mqtt(settings: Any) -> None:
    """Remove the retained message the benchmark left on the broker (zero-byte retained)."""
    import aiomqtt

    from crisiscast.channels.mqtt.channel import alert_topic

    cfg = settings.channels.mqtt
    if not cfg.enabled:
        return
    host, _, port = cfg.url.removeprefix("mqtt://").partition(":")
    async with aiomqtt.Client(host, int(port or 1883)) as client:
        for prefix in (cfg.topic_prefix, cfg.exercise_topic_prefix):
            if prefix:
                await client.publish(alert_topic(prefix), b"", qos=1, retain=True)


async def dispatch_once(settings: Any, secrets: Any, msg: Any, *, store_url: str | None = None) -> Any:
    """Build the channels, open the store, run ONE dispatch; returns (report, t0, t_end, channels).

    ``t0`` is taken just before ``Dispatcher.dispatch`` (plan + persist + fan-out + finish);
    building the channels (reading the contacts file) is outside the timed span.
    """
    from crisiscast.audit.open import open_store
    from crisiscast.channels.registry import build_channels
    from crisiscast.dispatch import Dispatcher
    from crisiscast.dispatch.limiter import LimiterRegistry

    channels, skipped = build_channels(settings, secrets, msg)
    store = open_store(store_url or settings.store.url)
    await store.open()
    try:
        # as crisiscast's commands run it: the plan's chunks of [store] (the first one small)
        dispatcher = Dispatcher.configured(store, settings, limiters=LimiterRegistry())
        t0 = time.monotonic()
        report = await dispatcher.dispatch(msg, channels, approval=APPROVAL, skipped=skipped)
        t_end = time.monotonic()
    finally:
        await store.close()
    return report, t0, t_end, channels


def report_problems(report: Any) -> list[str]:
    """Channels that did not deliver everything (a benchmark must not time a failing run)."""
    problems = []
    for name, r in report.channels.items():
        if r.planned != r.delivered or r.failed:
            first = r.failed[0].reason if r.failed else r.note
            problems.append(f"{name}: {r.delivered}/{r.planned} delivered ({first})")
    return problems


def run_child(args: Sequence[str], *, env: Mapping[str, str] | None = None, timeout_s: float = 900) -> Any:
    """Run ``python args…`` and return the JSON object on its last stdout line."""
    out = subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        timeout=timeout_s,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Any, timeout_s: float, what: str, *, poll_s: float = 0.01) -> Any:
    """Poll ``predicate`` until it returns something truthy (a benchmark may poll; bounded)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll_s)
    raise SystemExit(f"timed out waiting for {what}")


def _healthy(base: str, server: subprocess.Popen[str]) -> bool:
    if server.poll() is not None:
        raise SystemExit(f"crisiscast serve exited: {server.stderr.read() if server.stderr else ''}")
    try:
        with urllib.request.urlopen(base + "/healthz", timeout=2) as resp:  # noqa: S310
            return bool(resp.status == 200)
    except OSError:
        return False


@contextlib.contextmanager
def serve_process(config: Path, port: int, env: Mapping[str, str]) -> Iterator[str]:
    """``crisiscast --config CONFIG serve`` as its own process (listening on ``port``), healthy
    before it is used, stopped afterwards. Yields its base URL."""
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("crisiscast")), "--config", str(config), "serve"],
        env=dict(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _healthy(base, server), 30, "crisiscast serve to answer /healthz")
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
