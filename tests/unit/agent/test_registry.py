"""The registry: built-ins, defaults, in-process registration and entry-point plugins."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from graphchat.agent.tools import BUILTIN_TOOLS, CALCULATOR, ToolRegistry, build_registry
from graphchat.agent.tools.base import Tool

PLUGIN_MODULE = """
from graphchat.agent.tools import Tool

async def _shout(arguments, context):
    return arguments["text"].upper()

SHOUT = Tool(
    name="shout",
    description="Upper-case a text.",
    parameters={"type": "object", "properties": {"text": {"type": "string"}}},
    run=_shout,
)

def more_tools():
    return [Tool(name="whisper", description="w", parameters={}, run=_shout)]

def broken():
    raise RuntimeError("plugin bug")

NOT_A_TOOL = 42
"""


def test_builtins_are_registered_and_enabled_by_name() -> None:
    registry = build_registry(["calculator", "current_time"], plugins=False)

    assert registry.names() == ["calculator", "current_time", "search_messages"]
    assert registry.defaults == ("calculator", "current_time")
    assert [spec.name for spec in registry.specs(registry.defaults)] == [
        "calculator",
        "current_time",
    ]


def test_enabling_an_unknown_tool_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown tool\\(s\\): shell"):
        build_registry(["calculator", "shell"], plugins=False)


def test_a_taken_name_cannot_be_registered_again() -> None:
    registry = ToolRegistry(BUILTIN_TOOLS)

    with pytest.raises(ValueError, match="already registered"):
        registry.register(CALCULATOR)


def test_tool_names_follow_the_api_rule() -> None:
    with pytest.raises(ValueError, match="invalid tool name"):
        Tool(name="rm -rf", description="", parameters={}, run=CALCULATOR.run)


def test_specs_skip_unknown_names_and_duplicates() -> None:
    registry = ToolRegistry(BUILTIN_TOOLS)

    specs = registry.specs(["calculator", "gone", "calculator"])

    assert [spec.name for spec in specs] == ["calculator"]
    assert registry.unknown(["calculator", "gone"]) == ["gone"]


def _install_plugin(root: Path, group: str) -> None:
    (root / "demo_tools.py").write_text(PLUGIN_MODULE)
    dist = root / "demo_tools-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: demo-tools\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        textwrap.dedent(f"""
        [{group}]
        shout = demo_tools:SHOUT
        more = demo_tools:more_tools
        broken = demo_tools:broken
        junk = demo_tools:NOT_A_TOOL
        missing = demo_tools_absent:TOOL
    """)
    )


async def test_plugins_are_loaded_from_the_entry_point_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    group = "graphchat.tools.test"  # a group of our own: the real one may have plugins
    _install_plugin(tmp_path, group)
    monkeypatch.syspath_prepend(str(tmp_path))

    registry = build_registry(["calculator", "shout"], group=group)

    assert registry.names() == ["calculator", "current_time", "search_messages", "shout", "whisper"]
    assert registry.defaults == ("calculator", "shout")
    shout = registry.get("shout")
    assert shout is not None
    assert await shout.run({"text": "hi"}, None) == "HI"  # type: ignore[arg-type]
