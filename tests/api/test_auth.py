"""Authentication: the matrix over every route, keys from the CLI and settings, owner isolation."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import httpx
import pytest

from api.keys_cli import create_key, graphchat
from support.db import query
from support.server import LiveServer

ALICE_SECRET = "alice-static-secret-0123456789"
BOB_SECRET = "bob-static-secret-0123456789"
PUBLIC = {("GET", "/health"), ("GET", "/ready"), ("GET", "/"), ("GET", "/ui/{path}")}
_PARAM = re.compile(r"\{([^}]+)\}")


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def _routes(server: LiveServer) -> list[tuple[str, str]]:
    """(method, path template) of every documented route, plus the UI's page and assets."""
    paths = server.app.openapi()["paths"]
    found = [(method.upper(), path) for path, item in paths.items() for method in item]
    return [*found, ("GET", "/"), ("GET", "/ui/{path}")]


def _fill(path: str, values: dict[str, str] | None = None) -> str:
    return _PARAM.sub(lambda m: (values or {}).get(m.group(1), "missing-id"), path)


@pytest.fixture
def secured(start_server: Callable[..., LiveServer]) -> LiveServer:
    return start_server(auth="on", api_keys=f"alice:{ALICE_SECRET},bob:{BOB_SECRET}", rate_limit="")


@pytest.fixture
def anonymous(secured: LiveServer) -> Iterator[httpx.Client]:
    with secured.client() as client:
        yield client


def _assert_unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401, (response.request.url, response.text)
    assert response.headers["WWW-Authenticate"] == "Bearer"
    error = response.json()["error"]
    assert error["code"] in {"unauthorized", "invalid_api_key"}
    if response.request.url.path.startswith("/v1/"):  # the OpenAI API has OpenAI's shape
        assert error["type"] == "authentication_error"
    else:
        assert error["request_id"] == response.headers["X-Request-ID"]


def test_every_route_but_the_public_ones_refuses_missing_bad_and_revoked_keys(
    secured: LiveServer, anonymous: httpx.Client, database_url: str
) -> None:
    revoked = create_key(database_url, "alice")
    assert graphchat(database_url, "keys", "revoke", revoked.split("_")[1]).returncode == 0
    credentials: list[dict[str, str]] = [
        {},
        _bearer("not-a-key-at-all-000000"),
        {"X-API-Key": "gc_00000000_" + "A" * 43},
        _bearer(revoked),
        {"Authorization": f"Basic {ALICE_SECRET}"},
    ]
    routes = _routes(secured)
    assert ("POST", "/chat") in routes and ("GET", "/threads/{thread_id}/messages") in routes

    for method, template in routes:
        response_for = [
            anonymous.request(method, _fill(template), headers=headers, json={})
            for headers in credentials
        ]
        if (method, template) in PUBLIC:
            assert all(r.status_code != 401 for r in response_for), template
        else:
            for response in response_for:
                _assert_unauthorized(response)


def test_every_route_accepts_a_good_key_in_either_header(
    secured: LiveServer, anonymous: httpx.Client, database_url: str
) -> None:
    generated = create_key(database_url, "carol")
    for method, template in _routes(secured):
        for headers in (_bearer(generated), {"X-API-Key": ALICE_SECRET}):
            response = anonymous.request(method, _fill(template), headers=headers, json={})
            assert response.status_code != 401, (method, template, response.text)


def test_keys_cli_creates_lists_and_revokes(
    secured: LiveServer, anonymous: httpx.Client, database_url: str
) -> None:
    secret = create_key(database_url, "dave", name="laptop")
    prefix = secret.split("_")[1]
    assert anonymous.get("/threads", headers=_bearer(secret)).status_code == 200

    listed = graphchat(database_url, "keys", "ls").stdout
    stored = query(database_url, "SELECT key_hash, last_used_at FROM api_keys")
    revoked = graphchat(database_url, "keys", "revoke", prefix)

    assert prefix in listed and "dave" in listed and "laptop" in listed
    assert secret not in listed and all(secret not in row["key_hash"] for row in stored)
    assert stored[0]["last_used_at"] is not None
    assert revoked.returncode == 0
    _assert_unauthorized(anonymous.get("/threads", headers=_bearer(secret)))
    assert graphchat(database_url, "keys", "revoke", "nope").returncode == 1


def test_the_owner_of_a_key_owns_what_it_creates(anonymous: httpx.Client) -> None:
    created = anonymous.post("/threads", json={}, headers=_bearer(ALICE_SECRET)).json()

    mine = anonymous.get("/threads", headers=_bearer(ALICE_SECRET)).json()["threads"]
    theirs = anonymous.get("/threads", headers=_bearer(BOB_SECRET)).json()["threads"]

    assert [t["thread_id"] for t in mine] == [created["thread_id"]]
    assert theirs == []


def _alice_thread(client: httpx.Client) -> tuple[str, str]:
    reply = client.post("/chat", json={"message": "secret plans"}, headers=_bearer(ALICE_SECRET))
    assert reply.status_code == 200, reply.text
    return reply.json()["thread_id"], reply.json()["run_id"]


_BODIES: dict[str, dict[str, object]] = {
    "POST": {"message": "let me in", "input": {"messages": [{"role": "user", "content": "x"}]}},
    "PATCH": {"title": "stolen"},
    "PUT": {"title": "stolen"},
}


def test_another_owner_gets_404_on_every_thread_route_exactly_as_for_a_missing_thread(
    secured: LiveServer, anonymous: httpx.Client, database_url: str
) -> None:
    thread_id, run_id = _alice_thread(anonymous)
    ids = {"thread_id": thread_id, "run_id": run_id}
    before = query(database_url, "SELECT count(*) AS n FROM messages")[0]["n"]
    thread_routes = [(m, t) for m, t in _routes(secured) if "{thread_id}" in t]
    assert len(thread_routes) >= 4

    for method, template in thread_routes:
        body = _BODIES.get(method)
        stolen = anonymous.request(
            method, _fill(template, ids), json=body, headers=_bearer(BOB_SECRET)
        )
        missing = anonymous.request(
            method,
            _fill(template, {**ids, "thread_id": "no-such-thread"}),
            json=body,
            headers=_bearer(BOB_SECRET),
        )
        assert stolen.status_code == 404, (method, template, stolen.text)
        same = stolen.json()["error"]["message"].replace(thread_id, "?")
        assert same == missing.json()["error"]["message"].replace("no-such-thread", "?")
        assert stolen.json()["error"]["code"] == missing.json()["error"]["code"]

    messages = [{"role": "user", "content": "let me in"}]
    in_input = {"input": {"messages": messages, "thread_id": thread_id}}
    in_config = {
        "input": {"messages": messages},
        "config": {"configurable": {"thread_id": thread_id}},
    }
    for route, body in (
        ("/chat", {"message": "let me in", "thread_id": thread_id}),
        ("/invoke", in_input),
        ("/invoke", in_config),
        ("/stream", in_input),
        ("/stream", in_config),
    ):
        stolen = anonymous.post(route, json=body, headers=_bearer(BOB_SECRET))
        assert stolen.status_code == 404, (route, stolen.text)
        assert stolen.json()["error"]["code"] == "thread_not_found"

    after = query(database_url, "SELECT count(*) AS n FROM messages")[0]["n"]
    thread = anonymous.get(f"/threads/{thread_id}", headers=_bearer(ALICE_SECRET)).json()
    assert after == before
    assert thread["title"] != "stolen"
