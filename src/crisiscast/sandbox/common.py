"""What every fake provider shares: a request log, scripted faults and a control API.

Each fake is an aiohttp application. ``FakeProvider`` records every request (arrival time,
method, path, headers, body, the status it answered) and consults a ``FaultPlan`` before
answering: fixed latency, a random share of 5xx, and scripted faults (a status and body,
provider headers, a delay, or a dropped connection to simulate a timeout after send).

Control API on every fake (for tests and benchmarks in another process):

- ``GET  /_sandbox/requests``  the request log as JSON
- ``POST /_sandbox/faults``    ``{"latency_s", "error_rate", "error_status", "scripted": [...]}``
- ``POST /_sandbox/reset``     clear the log, the faults and the provider's state
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from crisiscast.jsontypes import JsonObject

__all__ = ["FakeProvider", "Fault", "FaultPlan", "RecordedRequest"]


@dataclass(slots=True)
class RecordedRequest:
    """One request a fake received."""

    at_s: float  # time.monotonic() at arrival
    wall_s: float  # time.time() at arrival
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: str
    status: int = 0  # what the fake answered (0: dropped, no answer)
    peer: str = ""  # the client's "address:port": which connection carried it

    def to_json(self) -> JsonObject:
        return {
            "at_s": self.at_s,
            "wall_s": self.wall_s,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body": self.body,
            "status": self.status,
            "peer": self.peer,
        }


def _peer(request: web.Request) -> str:
    transport = request.transport
    peername = transport.get_extra_info("peername") if transport is not None else None
    if isinstance(peername, tuple) and len(peername) >= 2:
        return f"{peername[0]}:{peername[1]}"
    return ""


@dataclass(slots=True)
class Fault:
    """One scripted answer instead of the normal one.

    ``status`` 0 with ``drop`` True closes the connection without answering. ``after_accept``
    True performs the normal action first (the provider accepted it) and then fails: this is
    the "timeout after send" that makes a delivery ambiguous.
    """

    status: int = 503
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    drop: bool = False
    after_accept: bool = False
    path_contains: str | None = None
    times: int = 1

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Fault:
        return cls(
            status=int(data.get("status", 503)),
            body=data.get("body"),
            headers=dict(data.get("headers") or {}),
            delay_s=float(data.get("delay_s", 0.0)),
            drop=bool(data.get("drop", False)),
            after_accept=bool(data.get("after_accept", False)),
            path_contains=data.get("path_contains"),
            times=int(data.get("times", 1)),
        )


@dataclass(slots=True)
class FaultPlan:
    """Latency, a random error share and a queue of scripted faults (consumed in order)."""

    latency_s: float = 0.0
    error_rate: float = 0.0
    error_status: int = 503
    error_headers: dict[str, str] = field(default_factory=dict)
    scripted: deque[Fault] = field(default_factory=deque)
    seed: int | None = None
    _rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        if self.seed is not None:
            self._rng.seed(self.seed)

    def next_fault(self, path: str) -> Fault | None:
        for fault in self.scripted:
            if fault.path_contains is None or fault.path_contains in path:
                fault.times -= 1
                if fault.times <= 0:
                    self.scripted.remove(fault)
                return fault
        if self.error_rate and self._rng.random() < self.error_rate:
            return Fault(status=self.error_status, headers=dict(self.error_headers))
        return None

    def configure(self, data: Mapping[str, Any]) -> None:
        self.latency_s = float(data.get("latency_s", self.latency_s))
        self.error_rate = float(data.get("error_rate", self.error_rate))
        self.error_status = int(data.get("error_status", self.error_status))
        self.error_headers = dict(data.get("error_headers") or self.error_headers)
        if "seed" in data:
            self._rng.seed(data["seed"])
        for item in data.get("scripted") or ():
            self.scripted.append(Fault.from_json(item))


Handler = Callable[[web.Request, RecordedRequest], Awaitable[web.StreamResponse]]
ErrorBody = Callable[[int], Any]


class FakeProvider:
    """Base of every fake: subclasses add routes with ``self.route(method, path, handler)``.

    ``error_body(status)`` gives the provider's own error shape for a random/scripted fault
    that has no body of its own.
    """

    name = "fake"

    def __init__(self, faults: FaultPlan | None = None) -> None:
        self.faults = faults or FaultPlan()
        self.requests: list[RecordedRequest] = []
        self.app = web.Application(client_max_size=2 * 1024 * 1024)
        self.app.router.add_get("/_sandbox/requests", self._get_requests)
        self.app.router.add_post("/_sandbox/faults", self._post_faults)
        self.app.router.add_post("/_sandbox/reset", self._post_reset)
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # -- for subclasses -------------------------------------------------------------------
    def route(self, method: str, path: str, handler: Handler) -> None:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            return await self._serve(request, handler)

        self.app.router.add_route(method, path, wrapped)

    def error_body(self, status: int) -> Any:
        return {"error": f"HTTP {status}"}

    def reset_state(self) -> None:
        """Forget provider state (posts, messages); subclasses extend."""

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host:port`` (0: a free port); returns the base URL."""
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        bound_port = sockets[0].getsockname()[1] if sockets else port
        self.base_url = f"http://{host}:{bound_port}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- internals ------------------------------------------------------------------------
    async def _serve(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        body = await request.text()
        rec = RecordedRequest(
            at_s=time.monotonic(),
            wall_s=time.time(),
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers=dict(request.headers),
            body=body,
            peer=_peer(request),
        )
        self.requests.append(rec)
        fault = self.faults.next_fault(request.path)
        delay_s = self.faults.latency_s + (fault.delay_s if fault else 0.0)
        if delay_s:
            await asyncio.sleep(delay_s)
        if fault is None:
            response = await handler(request, rec)
            rec.status = response.status
            return response
        if fault.after_accept:
            await handler(request, rec)
        if fault.drop:
            rec.status = 0
            transport = request.transport
            if transport is not None:
                transport.close()
            raise asyncio.CancelledError
        rec.status = fault.status
        payload = fault.body if fault.body is not None else self.error_body(fault.status)
        if isinstance(payload, str):
            return web.Response(status=fault.status, text=payload, headers=fault.headers)
        return web.json_response(payload, status=fault.status, headers=fault.headers)

    async def _get_requests(self, request: web.Request) -> web.Response:
        return web.json_response([r.to_json() for r in self.requests])

    async def _post_faults(self, request: web.Request) -> web.Response:
        self.faults.configure(await request.json())
        return web.json_response({"ok": True})

    async def _post_reset(self, request: web.Request) -> web.Response:
        self.requests.clear()
        self.faults = FaultPlan()
        self.reset_state()
        return web.json_response({"ok": True})
