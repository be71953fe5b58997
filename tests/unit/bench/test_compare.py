"""bench/compare.py: the start order's bias cancels over the two passes, trees export, and a
tree may run with an API key (bench/credentials.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench import credentials
from bench.compare import _auth_of, _sources, difference

from graphchat.security.keys import hash_key
from graphchat.settings import Settings
from graphchat.store import Store
from support.process import ServerProcess


def test_the_start_orders_bias_cancels_over_the_two_passes() -> None:
    # The server started second gains 0.35 ms; "after" is truly 0.15 ms faster than "before".
    first_pass = {"before": [(4.0, 9.0), (4.2, 9.2)], "after": [(3.6, 9.1), (3.6, 9.3)]}
    second_pass = {"after": [(4.0, 9.5), (4.0, 9.5)], "before": [(3.8, 9.0), (3.8, 9.0)]}

    found = difference([first_pass, second_pass], "before", "after")

    assert found.per_pass == pytest.approx([-0.5, 0.2])
    assert found.mean == pytest.approx(-0.15)
    assert found.start_order == pytest.approx(0.35)
    assert found.cpu == pytest.approx(0.3)


def test_a_tree_is_a_directory_or_an_exported_revision(tmp_path: Path) -> None:
    with _sources("HEAD", tmp_path) as exported:
        assert (exported / "graphchat" / "app.py").is_file()
    with _sources(str(exported.parent), tmp_path) as given:
        assert given == exported


def test_auth_names_a_tree_and_a_kind_of_key() -> None:
    assert _auth_of(["keyed=key", "fixed=static"], ["off", "keyed", "fixed"]) == {
        "keyed": "key",
        "fixed": "static",
    }
    for wrong in (["elsewhere=key"], ["keyed=password"], ["keyed"]):
        with pytest.raises(SystemExit):
            _auth_of(wrong, ["off", "keyed"])


async def test_a_generated_key_is_made_for_the_server_s_database_and_works(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    server = ServerProcess({"GRAPHCHAT_DATABASE_URL": url}, tmp_path / "server.log")
    store = await Store.open(Settings(database_url=url).database)  # migrated, as a server's is
    try:
        sent = credentials.headers("key", server)
        scheme, secret = sent["Authorization"].split(" ")
        found = await store.api_keys.find_by_hash(hash_key(secret))
    finally:
        await store.close()

    assert scheme == "Bearer" and found is not None and found.active
    assert credentials.headers("off", server) == {}
    assert credentials.server_env("static")["GRAPHCHAT_AUTH"] == "on"
    static = credentials.headers("static", server)["Authorization"].removeprefix("Bearer ")
    assert credentials.server_env("static")["GRAPHCHAT_API_KEYS"].endswith(f":{static}")
