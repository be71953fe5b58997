"""`graphchat export` and `graphchat import` run as real processes against a live server."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from cli.runner import Cli

FIXTURES = Path(__file__).parents[1] / "api" / "fixtures"


def test_export_to_a_file_then_import_it_back(cli: Cli, api: httpx.Client, tmp_path: Path) -> None:
    for index in range(3):
        assert api.post("/chat", json={"message": f"note {index}", "thread_id": f"n{index}"})
    archive = tmp_path / "all.json"

    exported = cli("export", "-o", str(archive))
    for index in range(3):
        assert api.delete(f"/threads/n{index}").status_code == 204
    imported = cli("import", str(archive), "--batch-bytes", "1500")

    assert exported.returncode == 0, exported.stderr
    assert imported.returncode == 0, imported.stderr
    assert "imported 3, failed 0" in imported.stderr
    before = json.loads(archive.read_text())["threads"]
    after = json.loads(cli("export").stdout)["threads"]
    assert sorted(after, key=lambda t: t["thread_id"]) == sorted(
        before, key=lambda t: t["thread_id"]
    )


def test_one_thread_as_markdown_on_stdout(cli: Cli, api: httpx.Client) -> None:
    assert api.post("/chat", json={"message": "hello there", "thread_id": "md"}).is_success

    result = cli("export", "--thread", "md", "--format", "markdown")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("# hello there\n")
    assert "## Assistant" in result.stdout


def test_import_of_a_chatgpt_export_and_of_a_broken_file(cli: Cli, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    conversation = json.loads((FIXTURES / "chatgpt_conversations.json").read_text())[0]
    broken.write_text(json.dumps([conversation | {"id": "whole"}]).rstrip("]") + ', {"mapping": ')

    good = cli("import", str(FIXTURES / "chatgpt_conversations.json"))
    bad = cli("import", str(broken))

    assert good.returncode == 0 and "imported 1, failed 0" in good.stderr
    assert bad.returncode == 1
    assert "failed #1 : conversation 1: invalid JSON" in bad.stderr
    assert "imported 1, failed 1" in bad.stderr  # the whole conversation before the break
