"""`current_time`: the date and time now, in UTC or any IANA time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from graphchat.agent.tools.base import Tool, ToolContext, ToolError, string_argument


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ToolError(
            f"unknown time zone '{name}'; use an IANA name such as Europe/Paris or UTC"
        ) from exc


def time_in(zone_name: str, now: datetime) -> dict[str, Any]:
    """`now` (aware) described in `zone_name`."""
    local = now.astimezone(_zone(zone_name))
    offset = local.utcoffset()
    return {
        "timezone": zone_name,
        "datetime": local.isoformat(timespec="seconds"),
        "date": local.date().isoformat(),
        "time": local.strftime("%H:%M:%S"),
        "weekday": local.strftime("%A"),
        "utc_offset": local.strftime("%z") if offset is not None else "+0000",
        "unix_time": int(now.timestamp()),
    }


async def _run(arguments: dict[str, Any], context: ToolContext) -> dict[str, Any]:
    zone_name = string_argument(arguments, "timezone", default="UTC").strip() or "UTC"
    now = context.now() if context.now is not None else datetime.now(UTC)
    return time_in(zone_name, now)


CURRENT_TIME = Tool(
    name="current_time",
    description="The current date, time and weekday, in UTC or in the given IANA time zone.",
    parameters={
        "type": "object",
        "properties": {
            "timezone": {
                "type": "string",
                "description": "IANA time zone such as Europe/Paris or America/New_York; "
                "default UTC.",
            }
        },
    },
    run=_run,
)
