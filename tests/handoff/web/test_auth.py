"""The failed-login limit, without a server."""

from __future__ import annotations

from handoff.web.auth import LoginThrottle


def test_an_address_is_blocked_after_the_limit_until_the_window_passes() -> None:
    now = [0.0]
    throttle = LoginThrottle(limit=3, window=60, clock=lambda: now[0])
    for _ in range(3):
        assert not throttle.blocked("10.0.0.1")
        throttle.failed("10.0.0.1")
    assert throttle.blocked("10.0.0.1")
    assert not throttle.blocked("10.0.0.2")
    now[0] = 61
    assert not throttle.blocked("10.0.0.1")


def test_a_success_clears_the_count_and_memory_is_bounded() -> None:
    throttle = LoginThrottle(limit=2, window=60, max_addresses=3, clock=lambda: 0.0)
    throttle.failed("a")
    throttle.succeeded("a")
    throttle.failed("a")
    assert not throttle.blocked("a")
    for address in "bcdef":
        throttle.failed(address)
        throttle.failed(address)
    assert throttle.blocked("f") and not throttle.blocked("b")  # "b" was forgotten
