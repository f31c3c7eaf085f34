"""Serves a static news site (``local.demosite``'s output) on loopback, like a real web would.

The demo, the tests and ``make bench`` need a news web that behaves like the real one where it
matters to newsflow: conditional requests answered with 304, gzip, a robots.txt, feeds that fail
(``/error/*`` answers 500) or hang (``/slow/*``), and enough speed that fetching is not what a
benchmark measures. Files may contain ``{BASE}``; it is replaced by the server's own URL, so a
site built once works on whatever port the server gets. Every request is recorded (method,
path, status, conditional or not) so a test can count, say, the 304s of a second run.

In-process::

    with SiteServer("site/") as srv:
        fetch(srv.url + "/feeds/cpa.example.rss")
        assert srv.count(status=304) == 0

From the command line: ``newsflow demo serve DIR`` or ``python -m local.siteserver DIR``.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, Any
from urllib.parse import unquote, urlsplit

__all__ = ["RequestRecord", "SiteServer", "main"]

DEFAULT_ROBOTS = b"User-agent: *\nDisallow: /private/\n"
_CONTENT_TYPES = {
    ".rss": "application/rss+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".rdf": "application/rdf+xml; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
}
_EMPTY_RSS = (b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
              b"<title>Late</title><link>https://latenight.example/</link>"
              b"<description>Answered too late</description></channel></rss>\n")


@dataclass(frozen=True)
class RequestRecord:
    """One request the server answered."""

    method: str
    path: str  # as requested, query included
    status: int
    conditional: bool  # it carried If-None-Match or If-Modified-Since
    gzip: bool  # the body was sent gzip-encoded


@dataclass(frozen=True)
class _Resource:
    """A file as served: ``{BASE}`` replaced, validators computed, gzip made on first need."""

    body: bytes
    etag: str  # quoted
    mtime: int  # whole seconds, what Last-Modified can express
    last_modified: str
    content_type: str
    size_and_mtime: tuple[int, int]  # the file's stat when read; a change re-reads it


class SiteServer:
    """A threaded HTTP/1.1 server (keep-alive) for the site in ``root`` on ``host:port``.

    ``port=0`` picks a free port; ``url`` is known once started. ``slow_seconds`` is how long
    ``/slow/*`` stalls before answering. ``log_path`` also appends every request to a file as
    ``METHOD PATH STATUS cond|-`` (the format of ``../shared/tools/serve_site.py``).
    Files are cached in memory up to ``cache_bytes``. Paths added to ``down`` answer 503 with
    ``Retry-After: 1`` until removed (a page that is down for a while).
    """

    def __init__(
        self,
        root: str | Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        slow_seconds: float = 30.0,
        log_path: str | Path | None = None,
        cache_bytes: int = 64 * 2**20,
    ) -> None:
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise ValueError(f"site directory {root} does not exist")
        if slow_seconds < 0:
            raise ValueError(f"slow_seconds must be >= 0, got {slow_seconds}")
        self.host, self.port, self.slow_seconds = host, port, slow_seconds
        self.log_path = Path(log_path) if log_path else None
        self._records: list[RequestRecord] = []
        self._lock = threading.Lock()
        # Served files are kept in memory up to cache_bytes (then read again on each request),
        # so a large benchmark web does not inflate the memory of a process that serves it.
        self._cache: dict[Path, _Resource] = {}
        self._gzipped: dict[str, bytes] = {}  # etag -> gzip body
        self._cache_room = cache_bytes
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._log_file: IO[str] | None = None
        self.down: set[str] = set()

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash); what ``{BASE}`` becomes."""
        if self._httpd is None:
            raise RuntimeError("server not started")
        return f"http://{self.host}:{self._httpd.server_address[1]}"

    def bind(self) -> SiteServer:
        """Open the listening socket (so ``url`` is known) without serving yet."""
        if self._httpd is None:
            self._httpd = _HTTPServer((self.host, self.port), _Handler, self)
            if self.log_path:
                self._log_file = open(self.log_path, "a", buffering=1, encoding="utf-8")
        return self

    def start(self) -> SiteServer:
        """Serve in a background thread."""
        self.bind()
        assert self._httpd is not None
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="siteserver", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until ``stop`` (or Ctrl-C)."""
        self.bind()
        assert self._httpd is not None
        try:
            self._httpd.serve_forever()
        finally:
            self._close()

    def stop(self) -> None:
        self._stopping.set()  # wakes /slow/* requests
        if self._httpd is not None and self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._close()

    def _close(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.server_close()
            self._httpd = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> SiteServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- the request log ---------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request answered so far, oldest first (a copy)."""
        with self._lock:
            return list(self._records)

    def count(
        self,
        *,
        status: int | None = None,
        path_prefix: str | None = None,
        conditional: bool | None = None,
        method: str | None = None,
    ) -> int:
        """How many logged requests match every given criterion."""
        return sum(1 for r in self._matching(status, path_prefix, conditional, method))

    def _matching(
        self, status: int | None, prefix: str | None, conditional: bool | None,
        method: str | None,
    ) -> Iterator[RequestRecord]:
        for r in self.requests:
            if ((status is None or r.status == status)
                    and (prefix is None or r.path.startswith(prefix))
                    and (conditional is None or r.conditional == conditional)
                    and (method is None or r.method == method)):
                yield r

    def clear_log(self) -> None:
        with self._lock:
            self._records.clear()

    def _record(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)
            if self._log_file is not None:
                cond = "cond" if record.conditional else "-"
                self._log_file.write(f"{record.method} {record.path} {record.status} {cond}\n")

    # -- files -------------------------------------------------------------------------------

    def resource(self, path: str) -> _Resource | None:
        """The file behind a URL path, or None when there is none (or it is outside root)."""
        # normpath, not resolve(): ".." cannot climb out, and no stat per folder of the path
        # (a symbolic link inside the site is followed wherever it points).
        target = Path(os.path.normpath(self.root / unquote(path).lstrip("/")))
        if target.is_dir():
            target = target / "index.html"
        if not target.is_relative_to(self.root):
            return None
        try:
            st = target.stat()
        except OSError:
            return None
        key = (st.st_size, int(st.st_mtime))
        cached = self._cache.get(target)
        if cached is not None:
            if cached.size_and_mtime == key:
                return cached
            self._forget(target)
        body = target.read_bytes().replace(b"{BASE}", self.url.encode())
        mtime = int(st.st_mtime)
        res = _Resource(
            body=body,
            etag='"' + hashlib.sha1(body).hexdigest()[:20] + '"',
            mtime=mtime,
            last_modified=formatdate(mtime, usegmt=True),
            content_type=_CONTENT_TYPES.get(target.suffix, "application/octet-stream"),
            size_and_mtime=key,
        )
        with self._lock:
            if self._cache_room >= len(body):
                self._cache_room -= len(body)
                self._cache[target] = res
        return res

    def warm(self) -> int:
        """Read and gzip every file now, while the cache has room (as a static server with
        precompressed files would have them), so that no client pays for it; the number of
        files cached. Needs ``bind()`` first: files embed the server's URL."""
        warmed = 0
        for path in sorted(p for p in self.root.rglob("*") if p.is_file()):
            res = self.resource("/" + path.relative_to(self.root).as_posix())
            if res is None or self._cache.get(path) is not res:
                break  # the cache is full
            self.gzipped(res)
            warmed += 1
        return warmed

    def _forget(self, target: Path) -> None:
        with self._lock:
            old = self._cache.pop(target, None)
            if old is not None:
                self._cache_room += len(old.body)
                self._cache_room += len(self._gzipped.pop(old.etag, b""))

    def gzipped(self, res: _Resource) -> bytes:
        body = self._gzipped.get(res.etag)
        if body is None:
            body = gzip.compress(res.body, compresslevel=1, mtime=0)  # nginx's default level
            with self._lock:
                if self._cache_room >= len(body) and res.etag not in self._gzipped:
                    self._cache_room -= len(body)
                    self._gzipped[res.etag] = body
        return body


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 512

    def __init__(self, address: tuple[str, int], handler: type[_Handler], site: SiteServer):
        self.site = site
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            return  # a client that hung up: nothing to report
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    server_version = "newsflow-siteserver/1"
    disable_nagle_algorithm = True  # headers and body leave at once on a kept-alive socket
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the SiteServer keeps its own log

    def do_GET(self) -> None:
        site = self.server.site
        path = urlsplit(self.path).path
        if path.startswith("/error/"):
            self._answer(500, b"internal server error\n", "text/plain; charset=utf-8")
        elif path in site.down:
            self._answer(503, b"try again later\n", "text/plain; charset=utf-8",
                         {"Retry-After": "1"})
        elif path.startswith("/slow/"):
            site._stopping.wait(site.slow_seconds)
            self._answer(200, _EMPTY_RSS, _CONTENT_TYPES[".rss"])
        elif path == "/robots.txt" and site.resource(path) is None:
            self._answer(200, DEFAULT_ROBOTS, _CONTENT_TYPES[".txt"])
        else:
            res = site.resource(path)
            if res is None:
                self._answer(404, b"not found\n", "text/plain; charset=utf-8")
            else:
                self._file(res)

    do_HEAD = do_GET

    def _conditional(self) -> bool:
        return bool(self.headers.get("If-None-Match") or self.headers.get("If-Modified-Since"))

    def _file(self, res: _Resource) -> None:
        use_gzip = "gzip" in (self.headers.get("Accept-Encoding") or "").lower()
        etag = res.etag[:-1] + '-gz"' if use_gzip else res.etag
        headers = {"ETag": etag, "Last-Modified": res.last_modified, "Vary": "Accept-Encoding",
                   "Cache-Control": "max-age=0"}
        if self._not_modified(res):
            self._answer(304, b"", None, headers)
            return
        body = res.body
        if use_gzip:
            body = self.server.site.gzipped(res)
            headers["Content-Encoding"] = "gzip"
        self._answer(200, body, res.content_type, headers)

    def _not_modified(self, res: _Resource) -> bool:
        """RFC 9110: If-None-Match decides when present, else If-Modified-Since."""
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            bare = res.etag.strip('"')
            tags = [t.strip().removeprefix("W/").strip('"') for t in inm.split(",")]
            return "*" in tags or any(t in (bare, bare + "-gz") for t in tags)
        ims = self.headers.get("If-Modified-Since")
        if ims:
            try:
                return res.mtime <= int(parsedate_to_datetime(ims).timestamp())
            except (TypeError, ValueError, IndexError):
                return False
        return False

    def _answer(
        self, status: int, body: bytes, content_type: str | None,
        headers: dict[str, str] | None = None,
    ) -> None:
        # Logged before answering, so a client that has its response finds it in the log.
        self.server.site._record(RequestRecord(
            self.command, self.path, status, self._conditional(),
            "Content-Encoding" in (headers or {})))
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        if status != HTTPStatus.NOT_MODIFIED:
            self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD" and status != HTTPStatus.NOT_MODIFIED:
            self.wfile.write(body)


def _write_port_file(path: str | Path, port: int) -> None:
    """Atomically, so a reader never sees a half-written number."""
    tmp = Path(f"{path}.tmp{os.getpid()}")
    tmp.write_text(f"{port}\n", encoding="utf-8")
    tmp.replace(path)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def serve(
    root: str | Path, *, host: str = "127.0.0.1", port: int = 0,
    port_file: str | Path | None = None, log_path: str | Path | None = None,
    slow_seconds: float = 30.0, warm: bool = False,
) -> int:
    """Serve ``root`` until Ctrl-C or SIGTERM; print the URL first (and write the port to
    ``port_file``); with ``warm``, read and gzip every file before that (``SiteServer.warm``)."""
    server = SiteServer(root, host=host, port=port, slow_seconds=slow_seconds,
                        log_path=log_path).bind()
    if warm:
        server.warm()
    if port_file:
        _write_port_file(port_file, int(server.url.rsplit(":", 1)[1]))
    print(server.url, flush=True)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops it as cleanly as Ctrl-C
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.siteserver",
                                     description="Serve a newsflow demo site on loopback.")
    parser.add_argument("root", help="the site directory (feeds/, pages/, feeds.txt)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument("--port_file", help="write the port number to this file")
    parser.add_argument("--log", help="append 'METHOD PATH STATUS cond|-' lines to this file")
    parser.add_argument("--slow_seconds", type=float, default=30.0,
                        help="how long /slow/* stalls (default 30)")
    parser.add_argument("--warm", action="store_true",
                        help="read and gzip every file before serving (benchmarks: no client "
                        "pays for it)")
    args = parser.parse_args(argv)
    return serve(args.root, host=args.host, port=args.port, port_file=args.port_file,
                 log_path=args.log, slow_seconds=args.slow_seconds, warm=args.warm)


if __name__ == "__main__":
    sys.exit(main())
