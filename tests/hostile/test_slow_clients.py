"""Slow and idle clients cannot hold ``crisiscast serve``'s connections.

Real sockets against a real ``serve_until`` (real store, real aiohttp site) with tiny
deadlines. Each test waits for an event — the server closing the socket, or answering — and
only a generous guard bounds the wait; nothing asserts how long anything took.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

from crisiscast.cli import serve_cmd
from crisiscast.config import load_settings
from tests.server.helpers import TEMPLATES_DIR, make_secrets, signed_headers

_GUARD_S = 30.0  # a hang guard: the deadlines under test are a fraction of a second

Connect = Callable[[], "asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]]"]


@asynccontextmanager
async def serving(
    tmp_path: Path, *, header_timeout_s: float, body_timeout_s: float, max_connections: int = 512
) -> AsyncIterator[tuple[str, int]]:
    config = tmp_path / "crisiscast.toml"
    config.write_text(
        f"""
templates_dir = "{TEMPLATES_DIR}"
base_dir = "{tmp_path}"
[store]
url = "sqlite:///{tmp_path / "audit.db"}"
[channels.mqtt]
enabled = false
[server]
host = "127.0.0.1"
port = 0
header_timeout_s = {header_timeout_s}
body_timeout_s = {body_timeout_s}
max_connections = {max_connections}
""",
        encoding="utf-8",
    )
    stop = asyncio.Event()
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    server = asyncio.create_task(
        serve_cmd.serve_until(load_settings(config), make_secrets(), stop=stop, ready=ready, grace_s=1.0)
    )
    try:
        url = await asyncio.wait_for(ready, _GUARD_S)
        parts = urlsplit(url)
        assert parts.hostname is not None and parts.port is not None
        yield parts.hostname, parts.port
    finally:
        stop.set()
        await asyncio.wait_for(server, _GUARD_S)


async def _until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection."""
    async with asyncio.timeout(_GUARD_S):
        return await reader.read()


async def _get_healthz(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: crisiscast\r\n\r\n")
    async with asyncio.timeout(_GUARD_S):
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
                     .split(b":")[1])
        await reader.readexactly(length)
    return head


async def test_a_request_head_sent_slowly_is_cut_off(tmp_path: Path) -> None:
    """A client that sends part of a request head and then nothing more is disconnected."""
    async with serving(tmp_path, header_timeout_s=0.2, body_timeout_s=5) as (host, port):
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"POST /v1/alerts HTTP/1.1\r\nHost: crisiscast\r\nX-Slow: ")
        await writer.drain()
        assert await _until_closed(reader) == b""
        writer.close()


async def test_a_connection_that_never_speaks_is_closed(tmp_path: Path) -> None:
    """A connection that sends nothing at all is closed after the header deadline."""
    async with serving(tmp_path, header_timeout_s=0.2, body_timeout_s=5) as (host, port):
        reader, writer = await asyncio.open_connection(host, port)
        assert await _until_closed(reader) == b""
        writer.close()


async def test_an_idle_keep_alive_connection_is_closed_after_its_response(tmp_path: Path) -> None:
    """After a complete request and its answer, a keep-alive connection left idle is closed."""
    async with serving(tmp_path, header_timeout_s=0.3, body_timeout_s=5) as (host, port):
        reader, writer = await asyncio.open_connection(host, port)
        head = await _get_healthz(reader, writer)
        assert head.startswith(b"HTTP/1.1 200")
        assert await _until_closed(reader) == b""
        writer.close()


async def test_a_body_sent_slowly_gets_408_and_the_connection_closes(tmp_path: Path) -> None:
    """A request whose body stops arriving is answered 408 and its connection closed."""
    async with serving(tmp_path, header_timeout_s=5, body_timeout_s=0.2) as (host, port):
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(
            b"POST /v1/alerts HTTP/1.1\r\nHost: crisiscast\r\nContent-Type: application/json\r\n"
            b"Content-Length: 400\r\n\r\n{\"message\": "
        )
        await writer.drain()
        answer = await _until_closed(reader)
        assert answer.startswith(b"HTTP/1.1 408")
        assert b"did not arrive in time" in answer
        writer.close()


async def test_a_whole_body_still_reaches_the_handler(tmp_path: Path) -> None:
    """The body deadline does not disturb a normal signed webhook: it is accepted (202)."""
    async with serving(tmp_path, header_timeout_s=5, body_timeout_s=5) as (host, port):
        body = json.dumps({"message": {"status": "Exercise", "headline": "Drill: evacuate wing C"}})
        headers = signed_headers(body, "slow-clients-1")
        request = "POST /v1/alerts HTTP/1.1\r\nHost: crisiscast\r\nConnection: close\r\n"
        request += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        request += f"Content-Length: {len(body.encode())}\r\n\r\n{body}"
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(request.encode())
        answer = await _until_closed(reader)
        assert answer.startswith(b"HTTP/1.1 202"), answer[:200]
        writer.close()


async def test_connections_beyond_the_cap_are_answered_503(tmp_path: Path) -> None:
    """With max_connections = 2, a third connection open at once is answered 503 and closed,
    while the first two keep working."""
    async with serving(tmp_path, header_timeout_s=60, body_timeout_s=60, max_connections=2) as (host, port):
        held = [await asyncio.open_connection(host, port) for _ in range(2)]
        for reader, writer in held:  # both accepted and served: the server holds them now
            assert (await _get_healthz(reader, writer)).startswith(b"HTTP/1.1 200")
        reader, writer = await asyncio.open_connection(host, port)
        answer = await _until_closed(reader)
        assert answer.startswith(b"HTTP/1.1 503")
        writer.close()
        assert (await _get_healthz(*held[0])).startswith(b"HTTP/1.1 200")
        for _, w in held:
            w.close()
