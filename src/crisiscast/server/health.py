"""``GET /healthz``, ``GET /metrics`` and ``GET /openapi.json``.

``/healthz`` runs every probe (the audit store answers a query; the MQTT broker accepts a
connection, when the MQTT channel is enabled), each bounded by ``probe_timeout_s``: 200
``{"ok": true, "checks": {...}}`` when all pass, else 503 with the failing checks' reasons
(plain sentences, never a secret). ``/metrics`` is the Prometheus text exposition; with
``[server] metrics_require_token = true`` it needs any API token (``Authorization: Bearer``).
``/openapi.json`` is the OpenAPI 3.1 document shipped in this package.
"""

from __future__ import annotations

import asyncio
import json
from importlib import resources
from typing import Any

from aiohttp import web

from crisiscast.audit.base import AuditStore
from crisiscast.channels.spec import HealthProbe
from crisiscast.server.context import CONTEXT
from crisiscast.server.metrics import CONTENT_TYPE_LATEST

__all__ = ["PROBE_TIMEOUT_S", "add_health_routes", "load_openapi", "store_probe"]

PROBE_TIMEOUT_S = 3.0


def store_probe(store: AuditStore) -> HealthProbe:
    async def probe() -> str | None:
        await store.dispatches(limit=1)
        return None

    return probe


async def _run_probe(name: str, probe: HealthProbe) -> tuple[str, str | None]:
    try:
        return name, await asyncio.wait_for(probe(), PROBE_TIMEOUT_S)
    except TimeoutError:
        return name, f"the {name} check did not answer within {PROBE_TIMEOUT_S:g} s"
    except Exception as exc:  # a probe failing in any way is an unhealthy answer, not a 500
        return name, f"the {name} check failed ({type(exc).__name__})"


async def get_healthz(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    results = await asyncio.gather(*(_run_probe(n, p) for n, p in ctx.probes.items()))
    checks: dict[str, str] = {name: ("ok" if reason is None else reason) for name, reason in results}
    ok = all(reason is None for _, reason in results)
    body = {"ok": ok, "checks": checks, "accepting": ctx.runner.accepting}
    if ctx.catalog.skipped:  # intake stays up with the other templates; say which were left out
        body["templates_skipped"] = [{"file": s.source, "reason": s.reason} for s in ctx.catalog.skipped]
    return web.json_response(body, status=200 if ok else 503)


async def get_metrics(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    if ctx.settings.server.metrics_require_token:
        from crisiscast.server.auth import AuthRefused, authenticate

        try:
            authenticate(request)  # any configured API token, a person's or a machine's
        except AuthRefused as exc:
            return exc.response()
    response = web.Response(body=ctx.metrics.render())
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


def load_openapi() -> dict[str, Any]:
    """The shipped OpenAPI document."""
    text = resources.files("crisiscast.server").joinpath("openapi.json").read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


async def get_openapi(request: web.Request) -> web.Response:
    return web.json_response(load_openapi())


def add_health_routes(app: web.Application) -> None:
    """Register ``/healthz``, ``/metrics`` and ``/openapi.json``."""
    app.router.add_get("/healthz", get_healthz)
    app.router.add_get("/metrics", get_metrics)
    app.router.add_get("/openapi.json", get_openapi)
