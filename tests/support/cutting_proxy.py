"""A TCP proxy in front of a live server that drops one streamed response part-way.

Clients connect to the proxy as to the server. The first response to a request whose first line
starts with `cut_request` (on a new or a kept-alive connection) is passed on until `marker` has
gone by `count` times, then both of its connections are closed, as a proxy or a network that
fails mid-reply would. Everything else is passed through untouched; each request's head is kept
(`heads`) for the test to read.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Self


class CuttingProxy:
    def __init__(
        self, upstream_port: int, *, cut_request: bytes, marker: bytes, count: int
    ) -> None:
        self._upstream = ("127.0.0.1", upstream_port)
        self._cut_request, self._marker, self._count = cut_request, marker, count
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._lock = threading.Lock()
        self._armed = True  # the cut is still to happen
        self.cuts = 0
        self.heads: list[str] = []
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def __enter__(self) -> Self:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:  # closed: the test is over
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = socket.create_connection(self._upstream)
        for end in (client, upstream):
            end.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        cutting = threading.Event()  # the response now coming is the one to cut
        threading.Thread(
            target=self._requests, args=(client, upstream, cutting), daemon=True
        ).start()
        seen = 0
        try:
            while chunk := upstream.recv(65536):
                client.sendall(chunk)
                seen += chunk.count(self._marker) if cutting.is_set() else 0
                if seen >= self._count:
                    self.cuts += 1
                    break
        except OSError:
            pass
        finally:
            _close(client)
            _close(upstream)

    def _requests(
        self, client: socket.socket, upstream: socket.socket, cutting: threading.Event
    ) -> None:
        """Pass the client's requests on (one at a time: HTTP/1.1 without pipelining)."""
        try:
            while chunk := client.recv(65536):
                if chunk[:8].split(b" ", 1)[0] in _METHODS:  # a request's head starts here
                    self.heads.append(chunk.split(b"\r\n\r\n", 1)[0].decode("latin-1"))
                    with self._lock:
                        if self._armed and chunk.startswith(self._cut_request):
                            self._armed = False
                            cutting.set()
                upstream.sendall(chunk)
        except OSError:
            pass


_METHODS = {b"GET", b"POST", b"PUT", b"PATCH", b"DELETE", b"HEAD", b"OPTIONS"}


def _close(end: socket.socket) -> None:
    with contextlib.suppress(OSError):
        end.shutdown(socket.SHUT_RDWR)
    end.close()


def cut_stream_proxy(server_url: str, tokens: int = 3) -> CuttingProxy:
    """A proxy to `server_url` that drops the first `POST /stream` after `tokens` token events."""
    port = int(server_url.rsplit(":", 1)[1])
    return CuttingProxy(port, cut_request=b"POST /stream", marker=b"event: messages", count=tokens)
