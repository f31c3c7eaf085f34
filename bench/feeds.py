"""Benchmark: fetch and parse many small feeds from a loopback server, then re-run with 304s.

A loopback server in a separate process serves ``--feeds`` small RSS feeds (each with an ETag).
The first pass fetches them all concurrently with :class:`newsflow.http.Fetcher` and parses
each with :func:`newsflow.feeds.parse_feed` (what ``FetchFeeds`` + ``ParseFeeds`` do per
batch; parsing runs in ``--parse_workers`` processes, as Beam runs one SDK worker per core);
the second pass sends the ETags back and gets 304s. With ``--beam`` the same feeds go
through the real ``FetchFeeds | ParseFeeds`` transforms on the DirectRunner as a third figure.
Prints one JSON line of figures; asserts nothing (``make bench`` runs it).

    python bench/feeds.py [--feeds 2000] [--items 5] [--concurrency 32] [--parse_workers 2]
                          [--beam]
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eval.report import invocation, table, write_section  # noqa: E402
from newsflow.feeds import parse_feed  # noqa: E402
from newsflow.http import FetchConfig, Fetcher, FetchRequest, FetchResult  # noqa: E402


def feed_body(n: int, items: int) -> bytes:
    entries = "".join(
        f"<item><title>Story {n}-{i}: council votes on plan {i}</title>"
        f"<link>/news/{n}/{i}</link><guid>urn:bench:{n}:{i}</guid>"
        f"<pubDate>Wed, 06 Mar 2024 {i % 24:02d}:00:00 +0100</pubDate>"
        f"<author>desk{n}@example.com (Desk {n})</author><category>News</category>"
        f"<description>&lt;p&gt;Paragraph {i} of feed {n}, about the plan.&lt;/p&gt;"
        f"</description></item>"
        for i in range(items)
    )
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Feed {n}</title><link>http://bench.example/{n}</link>{entries}"
            f"</channel></rss>").encode()


def _serve(count: int, items: int, port_queue: Any, stop: Any) -> None:
    from tests.loopback import LoopbackServer

    server = LoopbackServer()
    for n in range(count):
        server.add(f"/feed/{n}.xml", feed_body(n, items), content_type="application/rss+xml",
                   etag=f'"v{n}"')
    server.start()
    port_queue.put(server.port)
    stop.wait()
    server.stop()


def _parse(body: bytes, headers: dict[str, str], url: str, final_url: str) -> tuple[int, float]:
    started = time.perf_counter()
    feed = parse_feed(body, headers, url, final_url)
    return len(feed.entries), time.perf_counter() - started


def _pass(fetcher: Fetcher, requests: list[FetchRequest],
          pool: ProcessPoolExecutor | None) -> dict[str, Any]:
    started = time.perf_counter()
    ok = not_modified = failed = entries = 0
    parse_seconds = 0.0
    etags: dict[str, str] = {}
    pending: list[Future[tuple[int, float]]] = []
    for request, outcome in fetcher.fetch_many(requests):
        assert isinstance(request, FetchRequest)
        if not isinstance(outcome, FetchResult):
            failed += 1
            continue
        if outcome.not_modified:
            not_modified += 1
            continue
        ok += 1
        if outcome.etag:
            etags[request.url] = outcome.etag
        args = (outcome.body, outcome.headers, request.url, outcome.final_url)
        if pool is None:
            count, seconds = _parse(*args)
            entries += count
            parse_seconds += seconds
        else:
            pending.append(pool.submit(_parse, *args))
    for future in pending:
        count, seconds = future.result()
        entries += count
        parse_seconds += seconds
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 3), "feeds_per_s": round(len(requests) / seconds, 1),
            "fetched": ok, "not_modified": not_modified, "failed": failed,
            "entries": entries, "parse_cpu_seconds": round(parse_seconds, 3), "etags": etags}


def _beam_pass(urls: list[str], config: FetchConfig) -> dict[str, Any]:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from transforms.fetch import FetchFeeds
    from transforms.parse import ParseFeeds

    started = time.perf_counter()
    options = PipelineOptions(["--direct_num_workers=1"])
    with beam.Pipeline(options=options) as p:
        fetched = p | beam.Create(urls) | FetchFeeds(config)
        parsed = fetched.responses | ParseFeeds()
        _ = parsed.entries | beam.combiners.Count.Globally()
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 3), "feeds_per_s": round(len(urls) / seconds, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=2000)
    parser.add_argument("--items", type=int, default=5, help="entries per feed")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    parser.add_argument("--parse_workers", type=int, default=2,
                        help="processes that parse (0: parse in the fetching process)")
    parser.add_argument("--beam", action="store_true", help="also time FetchFeeds|ParseFeeds")
    args = parser.parse_args(argv)

    ctx = multiprocessing.get_context("spawn")
    port_queue, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=_serve, args=(args.feeds, args.items, port_queue, stop),
                         daemon=True)
    server.start()
    try:
        port = port_queue.get(timeout=60)
        base = f"http://127.0.0.1:{port}"
        urls = [f"{base}/feed/{n}.xml" for n in range(args.feeds)]
        # One host serves every feed here, so the per-host limits are set to the
        # concurrency under test; against the real web the defaults (2, 0.25 s) apply.
        config = FetchConfig(max_workers=args.concurrency, allow_networks=("127.0.0.1/32",),
                             per_host_concurrency=args.concurrency, per_host_min_delay=0)
        pool = (ProcessPoolExecutor(args.parse_workers, mp_context=ctx)
                if args.parse_workers else None)
        if pool is not None:  # start the workers (imports) before the clock runs
            list(pool.map(_parse, [feed_body(0, 1)] * args.parse_workers,
                          [{}] * args.parse_workers, ["http://x/"] * args.parse_workers,
                          ["http://x/"] * args.parse_workers))
        with Fetcher(config) as fetcher:
            first = _pass(fetcher, [FetchRequest(u) for u in urls], pool)
            etags = first.pop("etags")
            second = _pass(fetcher, [FetchRequest(u, etag=etags.get(u)) for u in urls], pool)
            second.pop("etags")
        if pool is not None:
            pool.shutdown()
        figures: dict[str, Any] = {
            "bench": "feeds", "feeds": args.feeds, "items_per_feed": args.items,
            "concurrency": args.concurrency, "parse_workers": args.parse_workers,
            "first_run": first, "rerun_304": second,
        }
        if args.beam:
            figures["beam_first_run"] = _beam_pass(urls, config)
    finally:
        stop.set()
        server.join(timeout=10)
    print(orjson.dumps(figures).decode())
    rows = [
        ("first run: fetched and parsed", f"{first['seconds']} s ({first['feeds_per_s']} feeds/s)"),
        ("re-run: every feed answers 304", f"{second['seconds']} s ({second['feeds_per_s']} "
         "feeds/s)"),
    ]
    if "beam_first_run" in figures:
        beam = figures["beam_first_run"]
        rows.append(("first run through FetchFeeds | ParseFeeds",
                     f"{beam['seconds']} s ({beam['feeds_per_s']} feeds/s)"))
    write_section(doc="performance", title="Feeds", command=invocation(), markdown=(
        f"{args.feeds} small feeds ({args.items} entries each) from a loopback server, "
        f"{args.concurrency} requests in flight, parsed in {args.parse_workers} processes.\n\n"
        + table(["what", "figure"], rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
