"""The loopback site server, exercised with real HTTP requests (http.client, no mocks)."""

from __future__ import annotations

import gzip
import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from local.siteserver import DEFAULT_ROBOTS, SiteServer

FEED = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
        b"<item><link>{BASE}/pages/a.html</link></item></channel></rss>")
PAGE = b"<html><body><a href='{BASE}/pages/b.html'>next</a> " + b"words " * 500 + b"</body></html>"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "feeds").mkdir()
    (tmp_path / "pages").mkdir()
    (tmp_path / "feeds" / "one.rss").write_bytes(FEED)
    (tmp_path / "pages" / "a.html").write_bytes(PAGE)
    (tmp_path / "outside.txt").write_text("top level file")
    return tmp_path


@pytest.fixture
def server(site: Path) -> Iterator[SiteServer]:
    with SiteServer(site, slow_seconds=60) as srv:
        yield srv


def request(
    srv: SiteServer, path: str, headers: dict[str, str] | None = None, method: str = "GET",
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", int(srv.url.rsplit(":", 1)[1]), timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def test_base_is_replaced_by_the_servers_own_url(server: SiteServer) -> None:
    status, headers, body = request(server, "/feeds/one.rss")
    assert status == 200
    assert headers["content-type"].startswith("application/rss+xml")
    assert body == FEED.replace(b"{BASE}", server.url.encode())
    assert server.url.startswith("http://127.0.0.1:")
    assert b"{BASE}" not in request(server, "/pages/a.html")[2]


def test_etag_gives_304_and_the_log_says_conditional(server: SiteServer) -> None:
    _, headers, _ = request(server, "/feeds/one.rss")
    status, again, body = request(server, "/feeds/one.rss", {"If-None-Match": headers["etag"]})
    assert (status, body) == (304, b"")
    assert again["etag"] == headers["etag"]
    assert request(server, "/feeds/one.rss", {"If-None-Match": '"other"'})[0] == 200
    assert server.count(status=304, conditional=True) == 1
    assert server.count(status=200, conditional=False) == 1
    assert server.count(status=200, conditional=True) == 1


def test_last_modified_gives_304_until_the_file_changes(server: SiteServer, site: Path) -> None:
    _, headers, _ = request(server, "/pages/a.html")
    lm = headers["last-modified"]
    assert request(server, "/pages/a.html", {"If-Modified-Since": lm})[0] == 304
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert request(server, "/pages/a.html", {"If-Modified-Since": old})[0] == 200

    target = site / "pages" / "a.html"
    target.write_bytes(PAGE + b"<!-- edited -->")
    later = time.time() + 120
    os.utime(target, (later, later))
    status, changed, body = request(server, "/pages/a.html", {"If-None-Match": headers["etag"]})
    assert status == 200 and body.endswith(b"<!-- edited -->")
    assert changed["etag"] != headers["etag"]
    assert request(server, "/pages/a.html", {"If-Modified-Since": lm})[0] == 200


def test_without_a_cache_files_are_read_on_every_request(site: Path) -> None:
    with SiteServer(site, cache_bytes=0) as srv:
        first = request(srv, "/pages/a.html", {"Accept-Encoding": "gzip"})
        second = request(srv, "/pages/a.html", {"Accept-Encoding": "gzip"})
        assert first[0] == second[0] == 200 and first[2] == second[2]
        assert request(srv, "/pages/a.html", {"If-None-Match": first[1]["etag"]})[0] == 304
        (site / "pages" / "a.html").write_bytes(b"<html>new</html>")
        assert request(srv, "/pages/a.html")[2] == b"<html>new</html>"


def test_gzip_only_when_asked(server: SiteServer) -> None:
    _, plain_headers, plain = request(server, "/pages/a.html")
    assert "content-encoding" not in plain_headers
    status, headers, body = request(server, "/pages/a.html", {"Accept-Encoding": "gzip, deflate"})
    assert status == 200 and headers["content-encoding"] == "gzip"
    assert int(headers["content-length"]) == len(body) < len(plain)
    assert gzip.decompress(body) == plain
    # the gzip variant's ETag revalidates too
    status, _, _ = request(server, "/pages/a.html",
                           {"Accept-Encoding": "gzip", "If-None-Match": headers["etag"]})
    assert status == 304
    assert [r.gzip for r in server.requests] == [False, True, False]


def test_error_paths_answer_500_and_unknown_paths_404(server: SiteServer) -> None:
    assert request(server, "/error/broken.rss")[0] == 500
    assert request(server, "/feeds/missing.rss")[0] == 404
    assert request(server, "/pages/../../../../etc/passwd")[0] == 404
    assert request(server, "/outside.txt")[0] == 200
    assert server.count(status=500, path_prefix="/error/") == 1
    assert server.count(status=404) == 2


def test_robots_txt_default(server: SiteServer) -> None:
    status, headers, body = request(server, "/robots.txt")
    assert (status, body) == (200, DEFAULT_ROBOTS)
    assert headers["content-type"].startswith("text/plain")


def test_head_sends_headers_only(server: SiteServer) -> None:
    status, headers, body = request(server, "/pages/a.html", method="HEAD")
    assert (status, body) == (200, b"")
    assert int(headers["content-length"]) == len(PAGE.replace(b"{BASE}", server.url.encode()))
    assert server.count(method="HEAD") == 1


def test_query_strings_are_ignored_for_lookup_but_logged(server: SiteServer) -> None:
    assert request(server, "/pages/a.html?utm_source=rss&utm_medium=feed")[0] == 200
    assert server.requests[0].path == "/pages/a.html?utm_source=rss&utm_medium=feed"


def test_keep_alive_serves_many_requests_on_one_connection(server: SiteServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", int(server.url.rsplit(":", 1)[1]), timeout=10)
    try:
        statuses = []
        conn.request("GET", "/feeds/one.rss")
        resp = conn.getresponse()
        statuses.append(resp.status)
        resp.read()
        sock = conn.sock
        for _ in range(20):
            conn.request("GET", "/pages/a.html")
            resp = conn.getresponse()
            statuses.append(resp.status)
            resp.read()
            assert conn.sock is sock  # the same TCP connection, never reopened
    finally:
        conn.close()
    assert statuses == [200] * 21


def test_concurrent_clients_are_all_answered_and_logged(server: SiteServer) -> None:
    def fetch_many(_: int) -> list[int]:
        return [request(server, "/pages/a.html")[0] for _ in range(25)]

    with ThreadPoolExecutor(8) as pool:
        results = [s for batch in pool.map(fetch_many, range(8)) for s in batch]
    assert results == [200] * 200
    assert server.count(path_prefix="/pages/") == 200
    server.clear_log()
    assert server.requests == []


def test_slow_paths_stall_past_a_client_timeout(site: Path) -> None:
    with SiteServer(site, slow_seconds=60) as srv:
        conn = http.client.HTTPConnection("127.0.0.1", int(srv.url.rsplit(":", 1)[1]),
                                          timeout=0.3)
        conn.request("GET", "/slow/feed.rss")
        with pytest.raises(socket.timeout):
            conn.getresponse()
        conn.close()
    # stop() returned although a /slow/ request was still waiting


def test_slow_paths_answer_when_the_stall_is_over(site: Path) -> None:
    with SiteServer(site, slow_seconds=0) as srv:
        status, _, body = request(srv, "/slow/feed.rss")
    assert status == 200 and b"<rss" in body


def test_log_file_lines(site: Path, tmp_path: Path) -> None:
    log = tmp_path / "requests.log"
    with SiteServer(site, log_path=log) as srv:
        _, headers, _ = request(srv, "/feeds/one.rss")
        request(srv, "/feeds/one.rss", {"If-None-Match": headers["etag"]})
        request(srv, "/error/x")
    assert log.read_text().splitlines() == [
        "GET /feeds/one.rss 200 -", "GET /feeds/one.rss 304 cond", "GET /error/x 500 -"]


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        SiteServer(tmp_path / "nope")
    with pytest.raises(ValueError, match="slow_seconds"):
        SiteServer(tmp_path, slow_seconds=-1)
    with pytest.raises(RuntimeError):
        _ = SiteServer(tmp_path).url


def test_command_line_writes_the_port_file_and_serves(site: Path, tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    proc = subprocess.Popen(
        [sys.executable, "-m", "local.siteserver", str(site), "--port_file", str(port_file)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()  # printed once the socket is bound
        port = int(port_file.read_text())
        assert url == f"http://127.0.0.1:{port}"
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/feeds/one.rss")
        resp = conn.getresponse()
        assert resp.status == 200
        assert resp.read() == FEED.replace(b"{BASE}", url.encode())
        conn.close()
    finally:
        proc.terminate()
    assert proc.wait(timeout=10) == 0  # SIGTERM stops it cleanly


def test_warm_reads_and_gzips_every_file_before_serving_as_the_cache_allows(site: Path) -> None:
    files = sorted(p for p in site.rglob("*") if p.is_file())
    with SiteServer(site) as srv:
        assert srv.warm() == len(files)
        assert len(srv._gzipped) == len(files)
        status, headers, body = request(srv, "/pages/a.html", {"Accept-Encoding": "gzip"})
        assert status == 200 and headers["content-encoding"] == "gzip"
        assert srv.url.encode() in gzip.decompress(body)  # {BASE} replaced, as when served
    room = len(files[0].read_bytes()) + 1  # one file fits, and not its gzip
    with SiteServer(site, cache_bytes=room) as srv:
        assert srv.warm() <= 1
        assert request(srv, "/pages/a.html")[0] == 200
