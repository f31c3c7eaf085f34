"""The HTTP layer against a real loopback server: limits, politeness, retries, errors."""

from __future__ import annotations

import pickle
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from newsflow.http import FetchConfig, Fetcher, FetchError, FetchRequest, FetchResult
from tests.loopback import LoopbackServer, Request, Response, allowing_loopback

FAST = allowing_loopback(connect_timeout=5, read_timeout=5, retries=0, per_host_min_delay=0,
                   per_host_concurrency=4, backoff_base=0, backoff_max=2)


def fetch(url: str, config: FetchConfig = FAST, **kwargs: str) -> FetchResult | FetchError:
    with Fetcher(config) as fetcher:
        return fetcher.fetch(url, **kwargs)


def ok(outcome: FetchResult | FetchError) -> FetchResult:
    assert isinstance(outcome, FetchResult), outcome
    return outcome


def failed(outcome: FetchResult | FetchError) -> FetchError:
    assert isinstance(outcome, FetchError), outcome
    return outcome


@pytest.mark.parametrize(
    ("field", "value"),
    [("connect_timeout", 0), ("read_timeout", -1), ("max_bytes", 0), ("max_redirects", -1),
     ("retries", -2), ("per_host_concurrency", 0), ("per_host_min_delay", -0.1),
     ("max_workers", 0), ("user_agent", ""), ("backoff_max", 0.1), ("max_bytes", 1.5)],
)
def test_config_rejects_bad_values_naming_them(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        allowing_loopback(**{field: value, "backoff_base": 0.5})  # type: ignore[arg-type]


def test_config_and_errors_pickle() -> None:
    config = allowing_loopback(max_bytes=123)
    assert pickle.loads(pickle.dumps(config)) == config
    error = FetchError("timeout", "read timed out", "http://x/", None, True)
    error.attempts = 3
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.kind, copy.message, copy.url, copy.transient, copy.attempts) == (
        "timeout", "read timed out", "http://x/", True, 3)
    assert copy == error


def test_200_sends_user_agent_and_returns_body(loopback: LoopbackServer) -> None:
    loopback.add("/feed.xml", b"<rss/>", content_type="application/rss+xml", etag='"v1"')
    result = ok(fetch(loopback.url("/feed.xml")))
    assert (result.status, result.body, result.etag) == (200, b"<rss/>", '"v1"')
    assert result.content_type == "application/rss+xml"
    sent = loopback.requests_for("/feed.xml")[0].headers
    assert sent["user-agent"].startswith("newsflow/")
    assert "gzip" in sent["accept-encoding"]


def test_304_by_etag(loopback: LoopbackServer) -> None:
    loopback.add("/f", b"<rss/>", etag='"v1"')
    result = ok(fetch(loopback.url("/f"), etag='"v1"'))
    assert (result.status, result.not_modified, result.body) == (304, True, b"")
    assert loopback.requests_for("/f")[0].headers["if-none-match"] == '"v1"'


def test_304_by_last_modified(loopback: LoopbackServer) -> None:
    stamp = "Mon, 01 Jan 2024 10:00:00 GMT"
    loopback.add("/f", b"<rss/>", last_modified=stamp)
    assert ok(fetch(loopback.url("/f"), last_modified=stamp)).status == 304
    assert ok(fetch(loopback.url("/f"),
                    last_modified="Sun, 31 Dec 2023 10:00:00 GMT")).status == 200


def test_gzip_body_is_decompressed(loopback: LoopbackServer) -> None:
    loopback.add("/z", b"<rss>" + b"a" * 5000 + b"</rss>", gzip=True)
    loopback.add("/d", b"deflated", deflate=True)
    assert ok(fetch(loopback.url("/z"))).body == b"<rss>" + b"a" * 5000 + b"</rss>"
    assert ok(fetch(loopback.url("/d"))).body == b"deflated"


def test_redirect_chain_is_followed(loopback: LoopbackServer) -> None:
    loopback.redirect("/a", "/b", 301)
    loopback.redirect("/b", loopback.url("/c"), 302)
    loopback.redirect("/c", "d", 307)
    loopback.add("/d", b"end")
    result = ok(fetch(loopback.url("/a")))
    assert result.body == b"end"
    assert result.final_url == loopback.url("/d")
    assert result.url == loopback.url("/a")
    assert result.redirects == [loopback.url(p) for p in ("/a", "/b", "/c")]


def test_redirect_loop_is_an_error(loopback: LoopbackServer) -> None:
    loopback.redirect("/a", "/b")
    loopback.redirect("/b", "/a")
    error = failed(fetch(loopback.url("/a")))
    assert error.kind == "redirect_loop"
    assert loopback.hits("/a") == 1


def test_too_many_redirects(loopback: LoopbackServer) -> None:
    for i in range(10):
        loopback.redirect(f"/r{i}", f"/r{i + 1}")
    error = failed(fetch(loopback.url("/r0"), allowing_loopback(max_redirects=3, retries=0,
                                                          per_host_min_delay=0)))
    assert error.kind == "too_many_redirects"
    assert loopback.hits("/r4") == 0


def test_404_is_permanent_and_not_retried(loopback: LoopbackServer) -> None:
    config = allowing_loopback(retries=3, backoff_base=0, per_host_min_delay=0)
    error = failed(fetch(loopback.url("/missing"), config))
    assert (error.kind, error.status, error.transient) == ("http_status", 404, False)
    assert loopback.hits("/missing") == 1


def test_500_then_success_on_retry(loopback: LoopbackServer) -> None:
    loopback.sequence("/flaky", [Response(500), Response(502), Response(200, b"fine")])
    config = allowing_loopback(retries=2, backoff_base=0, per_host_min_delay=0)
    result = ok(fetch(loopback.url("/flaky"), config))
    assert (result.body, result.attempts) == (b"fine", 3)


def test_500_gives_up_after_retries(loopback: LoopbackServer) -> None:
    loopback.add("/down", status=503)
    config = allowing_loopback(retries=2, backoff_base=0, per_host_min_delay=0)
    error = failed(fetch(loopback.url("/down"), config))
    assert (error.kind, error.status, error.transient, error.attempts) == (
        "http_status", 503, True, 3)
    assert loopback.hits("/down") == 3


def test_429_retry_after_is_honoured(loopback: LoopbackServer) -> None:
    loopback.sequence("/busy", [Response(429, headers={"Retry-After": "1"}),
                                Response(200, b"now")])
    config = allowing_loopback(retries=1, backoff_base=0, backoff_max=5, per_host_min_delay=0)
    assert ok(fetch(loopback.url("/busy"), config)).body == b"now"
    first, second = loopback.requests_for("/busy")
    assert second.at - first.at >= 0.9  # waited as told (a lower bound, not a speed check)


def test_declared_body_over_the_limit(loopback: LoopbackServer) -> None:
    loopback.add("/big", size=5_000_000)
    error = failed(fetch(loopback.url("/big"), allowing_loopback(max_bytes=100_000, retries=0)))
    assert error.kind == "too_large"


def test_streamed_body_over_the_limit(loopback: LoopbackServer) -> None:
    def chunked(_req: Request) -> Response:
        return Response(200, size=3_000_000, headers={"X-Test": "1"})

    loopback.route("/big", chunked)
    error = failed(fetch(loopback.url("/big"), allowing_loopback(max_bytes=1_000_000, retries=0)))
    assert error.kind == "too_large"


def test_gzip_bomb_is_stopped_after_decompression(loopback: LoopbackServer) -> None:
    loopback.add("/bomb", b"<" * 30_000_000, gzip=True)
    config = allowing_loopback(max_bytes=1_000_000, retries=0)
    error = failed(fetch(loopback.url("/bomb"), config))
    assert error.kind == "too_large"
    assert "decompressed" in error.message


def test_server_that_never_answers_times_out(loopback: LoopbackServer) -> None:
    loopback.hang("/never")
    config = allowing_loopback(read_timeout=0.5, retries=1, backoff_base=0, per_host_min_delay=0)
    error = failed(fetch(loopback.url("/never"), config))
    assert (error.kind, error.transient, error.attempts) == ("timeout", True, 2)


def test_connection_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    error = failed(fetch(f"http://127.0.0.1:{port}/feed"))
    assert error.kind == "connect"


def test_dns_failure() -> None:
    error = failed(fetch("http://no-such-host.invalid/feed"))
    assert error.kind == "dns"
    assert "no-such-host.invalid" in error.message


@pytest.mark.parametrize("url", ["ftp://example.org/feed", "not a url", "http:///nohost"])
def test_bad_urls(url: str) -> None:
    assert failed(fetch(url)).kind == "bad_url"


def test_robots_txt_is_honoured_and_cached(loopback: LoopbackServer) -> None:
    loopback.add("/robots.txt", "User-agent: *\nDisallow: /private/\n",
                 content_type="text/plain")
    loopback.add("/private/feed", b"secret")
    loopback.add("/public/feed", b"open")
    config = allowing_loopback(retries=0, per_host_min_delay=0)
    with Fetcher(config) as fetcher:
        assert failed(fetcher.fetch(loopback.url("/private/feed"))).kind == "robots_disallowed"
        assert ok(fetcher.fetch(loopback.url("/public/feed"))).body == b"open"
    assert loopback.hits("/private/feed") == 0
    assert loopback.hits("/robots.txt") == 1
    ignoring = allowing_loopback(retries=0, per_host_min_delay=0, respect_robots=False)
    assert ok(fetch(loopback.url("/private/feed"), ignoring)).body == b"secret"


def test_robots_txt_5xx_disallows(loopback: LoopbackServer) -> None:
    loopback.add("/robots.txt", status=500)
    loopback.add("/feed", b"x")
    error = failed(fetch(loopback.url("/feed"), allowing_loopback(retries=0)))
    assert (error.kind, error.transient) == ("robots_disallowed", True)


def _concurrency_probe(loopback: LoopbackServer, path: str, gather: int,
                       deadline: float = 10.0) -> list[int]:
    """Route ``path`` to a handler that holds each request until ``gather`` are in flight at
    once (or ``deadline`` seconds have passed), then 0.3 s more, in which one beyond them would
    arrive and be counted; returns the number in flight as each request arrived."""
    state = {"now": 0}
    peaks: list[int] = []
    cond = threading.Condition()

    def handler(_req: Request) -> Response:
        with cond:
            state["now"] += 1
            peaks.append(state["now"])
            cond.notify_all()
            cond.wait_for(lambda: state["now"] >= gather, deadline)
            cond.wait(0.3)
            state["now"] -= 1
        return Response(200, b"ok")

    loopback.route(path, handler)
    return peaks


def test_fetch_many_keeps_per_host_limit(loopback: LoopbackServer) -> None:
    # Each request is held 0.3 s (or until a second is in flight): one the limit let through
    # meanwhile would be counted.
    peaks = _concurrency_probe(loopback, "/slow", gather=2, deadline=0.3)
    config = allowing_loopback(per_host_concurrency=1, per_host_min_delay=0, max_workers=8)
    urls = [loopback.url(f"/slow?i={i}") for i in range(4)]
    with Fetcher(config) as fetcher:
        outcomes = list(fetcher.fetch_many(urls))
    assert sorted(str(item) for item, _ in outcomes) == sorted(urls)
    assert all(isinstance(o, FetchResult) for _, o in outcomes)
    assert max(peaks) == 1


def test_fetch_many_runs_requests_concurrently(loopback: LoopbackServer) -> None:
    peaks = _concurrency_probe(loopback, "/slow", gather=3)
    config = allowing_loopback(per_host_concurrency=3, per_host_min_delay=0, max_workers=8)
    urls = [loopback.url(f"/slow?i={i}") for i in range(6)]
    with Fetcher(config) as fetcher:
        assert len(list(fetcher.fetch_many(urls))) == 6
    assert max(peaks) == 3


def test_per_host_min_delay(loopback: LoopbackServer) -> None:
    loopback.add("/p", b"ok")
    config = allowing_loopback(per_host_concurrency=4, per_host_min_delay=0.5, max_workers=4)
    starts: list[float] = []
    with Fetcher(config) as fetcher:
        send = fetcher._pool.request

        def timed(*args: Any, **kwargs: Any) -> Any:  # as each request (robots.txt too) leaves
            starts.append(time.monotonic())
            return send(*args, **kwargs)

        fetcher._pool.request = timed  # type: ignore[method-assign]
        list(fetcher.fetch_many([loopback.url(f"/p?i={i}") for i in range(3)]))
    assert loopback.hits("/p") == 3 and len(starts) == 4
    starts.sort()
    # Recorded a moment after the host's gate let each go: a gap may look shorter by the time
    # a thread takes from the gate to here (GIL hand-overs under load), never by much.
    assert all(b - a >= 0.4 for a, b in zip(starts, starts[1:], strict=False))


def test_fetch_many_mixes_outcomes_and_keeps_requests(loopback: LoopbackServer) -> None:
    loopback.add("/good", b"g", etag='"e"')
    requests: list[FetchRequest | str] = [
        FetchRequest(loopback.url("/good"), etag='"e"'), loopback.url("/good"),
        loopback.url("/gone"), "http://no-such-host.invalid/x",
    ]
    with Fetcher(FAST) as fetcher:
        outcomes = dict(fetcher.fetch_many(requests))
    assert len(outcomes) == 4
    assert ok(outcomes[requests[0]]).status == 304
    assert ok(outcomes[requests[1]]).body == b"g"
    assert failed(outcomes[requests[2]]).status == 404
    assert failed(outcomes[requests[3]]).kind == "dns"


# -- many hosts side by side ------------------------------------------------------------------


class _HostProbe:
    """Per-host records of a loopback server: arrival times and the most requests in flight at
    once (a request counts from its arrival until its answer is written)."""

    def __init__(self, server: LoopbackServer, hold: float) -> None:
        self.arrivals: list[float] = []
        self.in_flight = 0
        self.most = 0
        lock = threading.Lock()

        def handler(req: Request) -> Response:
            with lock:
                self.arrivals.append(req.at)
                self.in_flight += 1
                self.most = max(self.most, self.in_flight)
            time.sleep(hold)  # the answer takes this long (not a wait for a condition)
            with lock:
                self.in_flight -= 1
            return Response(200, b"page", content_type="text/html")

        server.route("/page", handler)


@pytest.fixture
def hosts() -> Iterator[list[LoopbackServer]]:
    """Four loopback servers, each on an address of its own (127.0.1.1-4): four hosts."""
    servers = [LoopbackServer(host=f"127.0.1.{n}").start() for n in range(1, 5)]
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()


def test_many_hosts_are_fetched_side_by_side_each_within_its_limits(
        hosts: list[LoopbackServer]) -> None:
    # The answer takes longer than the delay, so the concurrency limit binds too.
    probes = [_HostProbe(server, hold=0.5) for server in hosts]
    config = allowing_loopback(per_host_concurrency=2, per_host_min_delay=0.3, max_workers=16,
                         retries=0)
    urls = [server.url(f"/page?n={n}") for n in range(8) for server in hosts]
    with Fetcher(config) as fetcher:
        outcomes = list(fetcher.fetch_many(urls))
    assert sorted(str(item) for item, _ in outcomes) == sorted(urls)
    assert all(isinstance(outcome, FetchResult) for _, outcome in outcomes)
    for probe in probes:
        assert len(probe.arrivals) == 8
        assert probe.most <= 2  # what the server saw in flight never exceeds what was sent
        gaps = [b - a for a, b in zip(probe.arrivals, probe.arrivals[1:], strict=False)]
        # Arrival times can be bunched by the network path a little, never by a whole delay.
        assert min(gaps) >= 0.3 - 0.1
    # Side by side: each host is served while every other one is (a host-after-host schedule
    # would give disjoint spans).
    spans = [(min(p.arrivals), max(p.arrivals)) for p in probes]
    for first, last in spans:
        assert all(other_first < last and first < other_last
                   for other_first, other_last in spans)


def test_a_crawl_delay_in_robots_txt_spaces_that_host_only(
        hosts: list[LoopbackServer]) -> None:
    strict, other = hosts[0], hosts[1]
    strict.add("/robots.txt", "User-agent: *\nCrawl-delay: 1\n", content_type="text/plain")
    strict_probe, other_probe = _HostProbe(strict, hold=0), _HostProbe(other, hold=0)
    config = allowing_loopback(per_host_concurrency=2, per_host_min_delay=0.1, retries=0)
    with Fetcher(config) as fetcher:
        list(fetcher.fetch_many([s.url(f"/page?n={n}") for n in range(3)
                                 for s in (strict, other)]))
        assert fetcher.frontier is not None
        assert fetcher.frontier.host_delay(strict.base_url) == 1.0
        assert fetcher.frontier.host_delay(other.base_url) == 0.1
    strict_gaps = [b - a for a, b in zip(strict_probe.arrivals, strict_probe.arrivals[1:],
                                         strict=False)]
    assert len(strict_gaps) == 2 and min(strict_gaps) >= 1.0 - 0.1
    assert max(other_probe.arrivals) < max(strict_probe.arrivals)  # not held to the strict pace


def test_fetchers_of_one_process_share_each_host_s_limits(loopback: LoopbackServer) -> None:
    probe = _HostProbe(loopback, hold=0.3)
    config = allowing_loopback(per_host_concurrency=1, per_host_min_delay=0, retries=0)
    with Fetcher(config) as one, Fetcher(config) as two:
        futures = [f.submit(loopback.url(f"/page?n={n}")) for n in range(3)
                   for f in (one, two)]
        assert all(isinstance(future.result(timeout=60), FetchResult) for future in futures)
    assert probe.most == 1  # two fetchers, one slot at the host between them
    assert loopback.hits("/robots.txt") == 1  # and one reading of its robots.txt


def test_closing_a_fetcher_ends_what_it_still_had_queued(loopback: LoopbackServer) -> None:
    loopback.add("/p", b"ok")
    config = allowing_loopback(per_host_concurrency=1, per_host_min_delay=5, retries=0,
                         respect_robots=False)
    fetcher = Fetcher(config)
    first = fetcher.submit(loopback.url("/p?n=1"))
    second = fetcher.submit(loopback.url("/p?n=2"))  # 5 s behind the first
    assert isinstance(first.result(timeout=60), FetchResult)
    fetcher.close()
    outcome = second.result(timeout=60)
    assert isinstance(outcome, FetchError) and outcome.kind == "cancelled" and outcome.transient
    assert loopback.hits("/p") == 1


def test_every_page_of_a_host_that_is_down_fails_after_its_retries(
        hosts: list[LoopbackServer]) -> None:
    down = hosts[0]
    address = down.base_url
    down.stop()  # nothing listens there any more: connections are refused
    config = allowing_loopback(retries=1, backoff_base=0, per_host_min_delay=0)
    with Fetcher(config) as fetcher:
        outcomes = [outcome for _, outcome in fetcher.fetch_many(
            [f"{address}/page?n={n}" for n in range(5)])]
    assert all(isinstance(o, FetchError) and o.kind == "connect" and o.attempts == 2
               for o in outcomes)
