"""The rate limiter and the operation names the retry layer keys on."""

from __future__ import annotations

import pytest

from ipi.sources.pacing import PUBLISHED_RATES, RateLimiter, operation_of


class FakeClock:
    """Time that moves only when the limiter sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.now += s


@pytest.mark.parametrize("method, path, op", [
    ("POST", "/reports/2021-06-30/reports", "createReport"),
    ("GET", "/reports/2021-06-30/reports", "getReports"),
    ("GET", "/reports/2021-06-30/reports/123", "getReport"),
    ("DELETE", "/reports/2021-06-30/reports/123", "cancelReport"),
    ("GET", "/reports/2021-06-30/documents/amzn1.doc.1", "getReportDocument"),
    ("POST", "/auth/o2/token", "token"),
    ("GET", "/download/abc", "other"),
])
def test_operation_names(method: str, path: str, op: str) -> None:
    """Requests map to Amazon's operation names, whose rates apply."""
    assert operation_of(method, path) == op


def test_burst_then_published_rate() -> None:
    """createReport: 15 at once, then one a minute (0.0167/s)."""
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    for _ in range(15):
        assert limiter.acquire("createReport") == 0
    waited = limiter.acquire("createReport")
    assert waited == pytest.approx(1 / PUBLISHED_RATES["createReport"][0], rel=1e-3)


def test_rate_header_is_adopted() -> None:
    """The x-amzn-RateLimit-Limit header replaces the published rate for that operation."""
    clock = FakeClock()
    limiter = RateLimiter({"getReport": (2.0, 1)}, clock=clock, sleep=clock.sleep)
    limiter.acquire("getReport")
    limiter.observe("getReport", "0.5")
    assert limiter.rate("getReport") == 0.5
    assert limiter.acquire("getReport") == pytest.approx(2.0)
    limiter.observe("getReport", "not a number")
    assert limiter.rate("getReport") == 0.5


def test_unknown_operations_are_not_paced() -> None:
    """Downloads and token calls have no bucket: they never wait."""
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    assert [limiter.acquire("other") for _ in range(100)] == [0] * 100
