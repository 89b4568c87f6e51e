"""The warm-session pool ``crisiscast serve`` installs: shared per channel and timeouts, left open
by a channel's close, closed by the last uninstall; without a pool every holder owns its session."""

from __future__ import annotations

from crisiscast.channels import session_pool
from crisiscast.channels.http import SessionHolder


async def test_without_a_pool_each_holder_owns_and_closes_its_session() -> None:
    a, b = SessionHolder(timeout_s=5.0, pool_key="sms"), SessionHolder(timeout_s=5.0, pool_key="sms")
    first, second = a.get(), b.get()
    assert first is not second
    await a.aclose()
    await b.aclose()
    assert first.closed and second.closed


async def test_with_a_pool_holders_of_one_channel_share_a_session_that_outlives_them() -> None:
    session_pool.install()
    try:
        a, b = SessionHolder(timeout_s=5.0, pool_key="sms"), SessionHolder(timeout_s=5.0, pool_key="sms")
        other = SessionHolder(timeout_s=5.0, pool_key="twitter")
        slower = SessionHolder(timeout_s=30.0, pool_key="sms")
        unpooled = SessionHolder(timeout_s=5.0)
        shared, twitter, slow = a.get(), other.get(), slower.get()
        assert b.get() is shared
        assert twitter is not shared and slow is not shared and unpooled.get() is not shared
        await a.aclose()
        await b.aclose()
        await unpooled.aclose()
        assert not shared.closed  # the next dispatch's channel gets it, connections and all
        assert SessionHolder(timeout_s=5.0, pool_key="sms").get() is shared
        session_pool.install()  # a second app on the same loop
        await session_pool.uninstall()
        assert not shared.closed
    finally:
        await session_pool.uninstall()
    assert shared.closed and twitter.closed and slow.closed
    assert session_pool.pool_for_running_loop() is None
