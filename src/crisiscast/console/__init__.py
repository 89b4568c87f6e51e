"""The web console at ``/console``: compose, preview, approve, send, watch and review.

``add_console(app)`` mounts it on the server's application (``crisiscast serve``); it uses
the server's context (store, runner, catalog, API tokens) and the same lifecycle services as
the HTTP API and the CLI. See ``routes`` (pages and actions), ``session`` (sign-in sessions),
``csrf``, ``i18n`` (English and Spanish) and ``views`` (rendering, the delivery board).
"""

from __future__ import annotations

from aiohttp import web

__all__ = ["add_console"]


def add_console(app: web.Application) -> None:
    """Mount the console's routes under ``/console``."""
    from crisiscast.console.routes import add_routes

    add_routes(app)
