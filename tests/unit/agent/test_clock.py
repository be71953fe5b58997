"""`current_time` in UTC and IANA time zones, from the clock in the tool context."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from graphchat.agent.tools import CURRENT_TIME, ToolContext, ToolError

NOW = datetime(2026, 7, 1, 12, 30, 5, tzinfo=UTC)
CONTEXT = ToolContext(now=lambda: NOW)


async def test_defaults_to_utc() -> None:
    result = await CURRENT_TIME.run({}, CONTEXT)

    assert result == {
        "timezone": "UTC",
        "datetime": "2026-07-01T12:30:05+00:00",
        "date": "2026-07-01",
        "time": "12:30:05",
        "weekday": "Wednesday",
        "utc_offset": "+0000",
        "unix_time": int(NOW.timestamp()),
    }


@pytest.mark.parametrize(
    ("zone", "local"),
    [
        ("Europe/Paris", "2026-07-01T14:30:05+02:00"),  # summer time
        ("America/New_York", "2026-07-01T08:30:05-04:00"),
        ("Asia/Kolkata", "2026-07-01T18:00:05+05:30"),
        ("Pacific/Kiritimati", "2026-07-02T02:30:05+14:00"),
    ],
)
async def test_converts_to_iana_time_zones(zone: str, local: str) -> None:
    result = await CURRENT_TIME.run({"timezone": zone}, CONTEXT)

    assert isinstance(result, dict)
    assert result["datetime"] == local
    assert result["timezone"] == zone


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../../etc/passwd", "UTC+99"])
async def test_refuses_unknown_time_zones(zone: str) -> None:
    with pytest.raises(ToolError, match="unknown time zone"):
        await CURRENT_TIME.run({"timezone": zone}, CONTEXT)


async def test_an_empty_time_zone_means_utc() -> None:
    result = await CURRENT_TIME.run({"timezone": " "}, CONTEXT)

    assert isinstance(result, dict)
    assert result["timezone"] == "UTC"


async def test_without_a_clock_it_reads_the_system_time() -> None:
    before = datetime.now(UTC).timestamp()
    result = await CURRENT_TIME.run({"timezone": "UTC"}, ToolContext())
    assert isinstance(result, dict)
    assert before - 1 <= result["unix_time"] <= datetime.now(UTC).timestamp() + 1
