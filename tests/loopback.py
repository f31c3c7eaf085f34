"""A real, scriptable HTTP server on 127.0.0.1 for tests (and benchmarks) of anything that fetches.

Mocks hide the bugs that matter at the network edge (timeouts, partial reads, gzip, redirects),
so newsflow's HTTP tests talk to a real server in a background thread instead.

Usage::

    from tests.loopback import LoopbackServer, Response, loopback   # loopback is the fixture

    def test_it(loopback: LoopbackServer) -> None:
        loopback.add("/feed.xml", b"<rss .../>", content_type="application/rss+xml",
                     etag='"v1"', last_modified="Mon, 01 Jan 2024 00:00:00 GMT")
        loopback.redirect("/old", "/feed.xml", status=301)
        loopback.sequence("/flaky", [Response(500), Response(200, b"ok")])  # then repeats last
        loopback.add("/slow", b"late", delay=30)      # answers after 30 s
        loopback.hang("/never")                       # never answers (until the server stops)
        loopback.add("/big", size=20_000_000)         # streams 20 MB of b"x" without storing it
        loopback.add("/bomb.xml", b"x" * 50_000_000, gzip=True)  # small on the wire, huge inflated
        loopback.file("/f.xml", "tests/fixtures/feeds/rss2.xml")  # a fixture file
        loopback.route("/echo", lambda req: Response(200, req.headers.get("user-agent", "")))
        url = loopback.url("/feed.xml")               # http://127.0.0.1:PORT/feed.xml
        loopback.hits("/feed.xml")                    # how many requests that path received
        loopback.requests                             # every Request(method, path, headers)
        loopback.route("/api", lambda req: Response(200, req.body))  # POST bodies are in .body

A ``Response`` has ``status``, ``body`` (bytes or str), ``headers``, ``content_type``,
``delay`` (seconds before answering), ``gzip``/``deflate`` (compress the body and set
``Content-Encoding``), ``size`` (stream that many filler bytes instead of ``body``), ``etag``
and ``last_modified`` (the server then answers ``If-None-Match``/``If-Modified-Since`` with a
304 by itself). Paths match without their query string. Unknown paths get 404, and
``/robots.txt`` is 404 (everything allowed) unless you add one. ``LoopbackServer(fixtures=DIR)``
also serves every file under ``DIR`` at ``/fixtures/<relative path>`` with a content type from
its extension. The server speaks HTTP/1.1 with keep-alive, one thread per connection.
"""

from __future__ import annotations

import gzip as gzip_module
import http.server
import mimetypes
import socket
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest

from newsflow.http import FetchConfig

__all__ = ["LOOPBACK_NETWORKS", "LoopbackServer", "Request", "Response", "allowing_loopback",
           "loopback"]


@dataclass
class Request:
    """What the server received: method, path (with query), lower-cased header names,
    ``at``, the ``time.monotonic()`` of its arrival, and a POST's ``body``."""

    method: str
    path: str
    headers: dict[str, str]
    at: float = 0.0
    body: bytes = b""


@dataclass
class Response:
    """A scripted answer (see the module docstring)."""

    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None
    delay: float = 0.0
    gzip: bool = False
    deflate: bool = False
    size: int | None = None
    etag: str | None = None
    last_modified: str | None = None


Handler = Callable[[Request], Response]

# What a FetchConfig must allow to reach these servers (newsflow refuses non-public addresses).
LOOPBACK_NETWORKS = ("127.0.0.0/8", "::1/128")


def allowing_loopback(**options: Any) -> FetchConfig:
    """A ``FetchConfig`` of ``options`` that may connect to the loopback servers."""
    return FetchConfig(allow_networks=LOOPBACK_NETWORKS, **options)


class LoopbackServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 (or another loopback ``host``, such as 127.0.1.2:
    a host of its own for politeness), a free port, with programmable routes."""

    def __init__(self, fixtures: str | Path | None = None, port: int = 0,
                 host: str = "127.0.0.1") -> None:
        self._routes: dict[str, Handler] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._hits: dict[str, int] = {}
        self.requests: list[Request] = []
        self.fixtures = Path(fixtures) if fixtures else None
        self.host = host
        server = _Server6 if ":" in host else _Server
        self._httpd = server((host, port), _make_handler(self))
        self.port: int = self._httpd.server_address[1]
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> LoopbackServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
            name=f"loopback-{self.port}",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scripting ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def route(self, path: str, handler: Handler) -> None:
        """Answer requests for ``path`` with ``handler(request)``."""
        with self._lock:
            self._routes[path] = handler

    def add(self, path: str, body: bytes | str = b"", status: int = 200,
            **options: object) -> None:
        """Always answer ``path`` with the same :class:`Response` (keyword options as there)."""
        response = Response(status=status, body=body, **options)  # type: ignore[arg-type]
        self.route(path, lambda _req: response)

    def sequence(self, path: str, responses: Sequence[Response]) -> None:
        """Answer successive requests with successive responses, then repeat the last one."""
        remaining = list(responses)
        lock = threading.Lock()

        def handler(_req: Request) -> Response:
            with lock:
                return remaining.pop(0) if len(remaining) > 1 else remaining[0]

        self.route(path, handler)

    def redirect(self, path: str, to: str, status: int = 302) -> None:
        """Redirect ``path`` to ``to`` (a path on this server or an absolute URL)."""
        self.add(path, status=status, headers={"Location": to})

    def hang(self, path: str) -> None:
        """Accept the request and never answer it (until the server stops)."""
        self.add(path, delay=float("inf"))

    def file(self, path: str, filename: str | Path, content_type: str | None = None,
             **options: object) -> None:
        """Serve a file's bytes at ``path`` (content type guessed from its name)."""
        data = Path(filename).read_bytes()
        ctype = content_type or _guess_type(str(filename))
        self.add(path, data, content_type=ctype, **options)  # type: ignore[arg-type]

    def hits(self, path: str) -> int:
        with self._lock:
            return self._hits.get(path, 0)

    def requests_for(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path.split("?", 1)[0] == path]

    # -- serving -----------------------------------------------------------------------------

    def _answer(self, request: Request) -> Response:
        path = request.path.split("?", 1)[0]
        with self._lock:
            self.requests.append(request)
            self._hits[path] = self._hits.get(path, 0) + 1
            handler = self._routes.get(path)
        if handler is not None:
            return handler(request)
        if self.fixtures is not None and path.startswith("/fixtures/"):
            target = (self.fixtures / path[len("/fixtures/"):]).resolve()
            if target.is_file() and self.fixtures.resolve() in target.parents:
                return Response(200, target.read_bytes(), content_type=_guess_type(str(target)))
        return Response(404, b"not found", content_type="text/plain")

    def _wait(self, seconds: float) -> bool:
        """Sleep (interruptibly); False when the server is stopping."""
        return not self._stopping.wait(None if seconds == float("inf") else seconds)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Print the traceback of a failed request, unless the client hung up: tests of body
        limits and timeouts hang up on purpose, and the client resets a kept-alive connection
        the server is still reading (socketserver prints those to stderr mid-run)."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Server6(_Server):
    address_family = socket.AF_INET6


def _guess_type(name: str) -> str:
    if name.endswith((".rss", ".xml")):
        return "application/rss+xml" if name.endswith(".rss") else "application/xml"
    if name.endswith(".atom"):
        return "application/atom+xml"
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _not_modified(request: Request, response: Response) -> bool:
    if response.status != 200:
        return False
    inm = request.headers.get("if-none-match")
    if response.etag and inm:
        return response.etag in [tag.strip() for tag in inm.split(",")] or inm.strip() == "*"
    ims = request.headers.get("if-modified-since")
    if response.last_modified and ims:
        try:
            return parsedate_to_datetime(ims) >= parsedate_to_datetime(response.last_modified)
        except (TypeError, ValueError):
            return False
    return False


def _make_handler(server: LoopbackServer) -> type[http.server.BaseHTTPRequestHandler]:
    class _Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "newsflow-loopback/1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # quiet tests

        def do_HEAD(self) -> None:  # noqa: N802
            self._serve(head=True)

        def do_GET(self) -> None:  # noqa: N802
            self._serve(head=False)

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            self._serve(head=False, body=self.rfile.read(length))

        def _serve(self, head: bool, body: bytes = b"") -> None:
            request = Request(self.command, self.path,
                              {k.lower(): v for k, v in self.headers.items()}, time.monotonic(),
                              body)
            response = server._answer(request)
            if response.delay and not server._wait(response.delay):
                self.close_connection = True
                return
            try:
                self._write(request, response, head)
            except (TimeoutError, BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def _write(self, request: Request, response: Response, head: bool) -> None:
            status = response.status
            headers = dict(response.headers)
            if response.content_type:
                headers["Content-Type"] = response.content_type
            if response.etag:
                headers["ETag"] = response.etag
            if response.last_modified:
                headers["Last-Modified"] = response.last_modified
            if _not_modified(request, response):
                self.send_response(304)
                for name in ("ETag", "Last-Modified"):
                    if name in headers:
                        self.send_header(name, headers[name])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = response.body.encode() if isinstance(response.body, str) else response.body
            chunks: Iterator[bytes]
            if response.size is not None:
                length = response.size
                chunks = _filler(response.size)
            else:
                if response.gzip:
                    body = gzip_module.compress(body, compresslevel=6)
                    headers["Content-Encoding"] = "gzip"
                elif response.deflate:
                    body = zlib.compress(body)
                    headers["Content-Encoding"] = "deflate"
                length = len(body)
                chunks = iter([body])
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if status != 204 and status >= 200:
                self.send_header("Content-Length", str(length))
            self.end_headers()
            if head:
                return
            for chunk in chunks:
                if server._stopping.is_set():
                    break
                self.wfile.write(chunk)

    return _Handler


def _filler(size: int) -> Iterator[bytes]:
    block = b"x" * 65536
    while size > 0:
        piece = block[: min(size, len(block))]
        size -= len(piece)
        yield piece


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    """A started :class:`LoopbackServer` serving ``tests/fixtures`` at ``/fixtures/``."""
    server = LoopbackServer(fixtures=Path(__file__).parent / "fixtures").start()
    try:
        yield server
    finally:
        server.stop()


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll ``predicate`` until true or ``timeout`` (for setup, never for timed assertions)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()
