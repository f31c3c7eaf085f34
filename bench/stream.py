"""Streaming benchmark: freshness, sustained throughput and memory of the live job on Prism.

A loopback site whose feeds grow while the job runs (:class:`GrowingSite`: RSS files rewritten
on disk with a new entry and its page, which ``SiteServer`` serves with fresh ETags) is polled
by the streaming job. A writer thread adds entries (some of them copies of earlier stories on
other outlets) at a steady rate; a watcher thread asks Elasticsearch when each added URL becomes
searchable. Printed: freshness from the moment an entry was written into its feed to searchable
(p50/p95; this includes waiting for the next poll), the job's own ``freshness_ms`` (first fetch
to indexed), articles/s sustained while the feeds grow, and RSS of this process (which runs the
SDK harness: LOOPBACK) sampled over time.

    .venv/bin/python -m bench.stream --feeds 20 --seconds 60 --poll 5
    .venv/bin/python -m bench.stream --feeds 1000 --seconds 120 --rate 40

It asserts nothing; it prints figures and one JSON line.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import random
import resource
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from local.demosite import synthetic_story

__all__ = ["GrowingSite", "main"]


@dataclass
class _Entry:
    guid: str
    title: str
    paragraphs: list[str]
    published_at: datetime
    path: str


@dataclass
class GrowingSite:
    """A news site on disk whose feeds gain entries while a ``SiteServer`` serves it.

    ``feeds`` outlets ``f0 … f{n-1}``, each ``/feeds/<outlet>.xml`` (RSS 2.0, newest first, at
    most ``keep`` entries, full text in ``content:encoded``, links as ``{BASE}/...`` which the
    server fills in) and a page per entry at ``/<outlet>/<guid>.html``. Files are replaced
    atomically, and each rewrite changes the size, so the server's cache and ETag follow.
    ``feed_list(base)`` writes ``feeds.txt``.
    """

    root: Path
    feeds: int = 3
    keep: int = 50
    seed: int = 1
    entries: dict[str, list[_Entry]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        (self.root / "feeds").mkdir(parents=True, exist_ok=True)
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()
        for n in range(self.feeds):
            self.entries[self.outlet(n)] = []
            self._write_feed(self.outlet(n))

    @staticmethod
    def outlet(n: int) -> str:
        return f"f{n}"

    def feed_path(self, outlet: str) -> str:
        return f"/feeds/{outlet}.xml"

    def feed_list(self, base: str, path: Path | None = None) -> Path:
        target = path or self.root / "feeds.txt"
        lines = [f"{base}{self.feed_path(o)}" for o in self.entries]
        target.write_text("\n".join(lines) + "\n")
        return target

    def new_story(self) -> tuple[str, list[str]]:
        """A fresh synthetic story: (title, paragraphs)."""
        story = synthetic_story(self._rng, uuid.uuid4().hex[:8])
        return story.title, list(story.paragraphs)

    def add(
        self,
        outlet: str,
        title: str,
        paragraphs: list[str],
        published_at: datetime | None = None,
    ) -> str:
        """Add an entry to ``outlet``'s feed (and its page); returns the entry's path."""
        guid = uuid.uuid4().hex[:12]
        path = f"/{outlet}/{guid}.html"
        entry = _Entry(guid, title, paragraphs, published_at or datetime.now(UTC), path)
        with self._lock:
            page = self.root / path.lstrip("/")
            page.parent.mkdir(parents=True, exist_ok=True)
            _atomic_write(page, _page_html(entry))
            self.entries[outlet].insert(0, entry)
            del self.entries[outlet][self.keep:]
            self._write_feed(outlet)
        return path

    def _write_feed(self, outlet: str) -> None:
        items = []
        for e in self.entries[outlet]:
            body = "".join(f"<p>{html.escape(p)}</p>" for p in e.paragraphs)
            items.append(
                "<item>"
                f"<title>{html.escape(e.title)}</title>"
                f"<link>{{BASE}}{e.path}</link>"
                f'<guid isPermaLink="false">{e.guid}</guid>'
                f"<pubDate>{format_datetime(e.published_at, usegmt=True)}</pubDate>"
                f"<description>{html.escape(e.paragraphs[0])}</description>"
                f"<content:encoded><![CDATA[{body}]]></content:encoded>"
                "</item>"
            )
        xml = (
            '<?xml version="1.0" encoding="utf-8"?>\n'
            '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
            f"<channel><title>Outlet {outlet}</title><link>{{BASE}}/{outlet}/</link>"
            f"<description>news from {outlet}</description><!-- {len(items)} -->"
            + "".join(items)
            + "</channel></rss>"
        )
        _atomic_write(self.root / self.feed_path(outlet).lstrip("/"), xml)


def _page_html(e: _Entry) -> str:
    paras = "".join(f"<p>{html.escape(p)}</p>" for p in e.paragraphs)
    stamp = e.published_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(e.title)}</title>"
        f"<meta property='article:published_time' content='{stamp}'></head>"
        f"<body><article><h1>{html.escape(e.title)}</h1>{paras}</article></body></html>"
    )


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _pct(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0, help="how long feeds grow")
    parser.add_argument("--poll", type=float, default=5.0, help="poll interval (s)")
    parser.add_argument("--rate", type=float, default=4.0, help="entries added per second")
    parser.add_argument("--preload", type=int, default=0, help="entries per feed at start")
    parser.add_argument("--copy_rate", type=float, default=0.3)
    parser.add_argument("--fetch_articles", default="false", choices=("true", "false"))
    parser.add_argument("--es_url", default=None)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args(argv)

    from elasticsearch import Elasticsearch

    from local import esnode
    from local.siteserver import SiteServer
    from newsflow import es
    from pipelines import launcher, runners

    runners.quiet_runner_logs()
    es_url = args.es_url or os.environ.get("ES_URL") or esnode.start().url
    index = f"bench-stream-{uuid.uuid4().hex[:8]}"
    config = es.EsConfig(url=es_url, index=index)
    work = Path(args.workdir or f"/tmp/newsflow-bench-stream-{uuid.uuid4().hex[:6]}")
    site = GrowingSite(work / "site", feeds=args.feeds)
    rng = random.Random(5)
    written: dict[str, float] = {}  # url -> wall time written into the feed
    seen: dict[str, float] = {}  # url -> wall time first found in the index
    rss: list[tuple[float, float]] = []
    stop = threading.Event()
    t0 = time.time()
    with SiteServer(site.root) as server:
        for outlet in list(site.entries):
            for _ in range(args.preload):
                title, paras = site.new_story()
                site.add(outlet, title, paras, datetime.now(UTC) - timedelta(hours=1))
        feeds_txt = site.feed_list(server.url)
        stories: list[tuple[str, list[str]]] = []

        def writer() -> None:
            period = 1 / args.rate
            next_at = time.time() + 2 * args.poll  # let the job start first
            while not stop.is_set() and time.time() < t0 + args.seconds:
                if time.time() < next_at:
                    time.sleep(min(0.05, next_at - time.time()))
                    continue
                next_at += period
                outlet = site.outlet(rng.randrange(args.feeds))
                if stories and rng.random() < args.copy_rate:
                    title, paras = rng.choice(stories)
                else:
                    title, paras = site.new_story()
                    stories.append((title, paras))
                path = site.add(outlet, title, paras)
                written[f"{server.url}{path}"] = time.time()

        def watcher() -> None:
            client = Elasticsearch(es_url)
            while not stop.is_set():
                time.sleep(0.5)
                rss.append((time.time() - t0, _rss_mb()))
                pending = [u for u in list(written) if u not in seen]
                for i in range(0, len(pending), 500):
                    chunk = pending[i:i + 500]
                    try:
                        resp = client.search(
                            index=index, size=1000,
                            source_includes=["copies.url", "copies.fetched_url"],
                            query={"bool": {"should": [
                                {"terms": {"copies.url": chunk}},
                                {"terms": {"copies.fetched_url": chunk}},
                            ]}},
                        )
                    except Exception:  # noqa: BLE001 - index not created yet
                        continue
                    now = time.time()
                    wanted = set(chunk)
                    for hit in resp["hits"]["hits"]:
                        for c in hit["_source"].get("copies", []):
                            for u in (c.get("url"), c.get("fetched_url")):
                                if u in wanted and u not in seen:
                                    seen[u] = now
            client.close()

        threads = [threading.Thread(target=writer, daemon=True),
                   threading.Thread(target=watcher, daemon=True)]
        for t in threads:
            t.start()
        # A feed unchanged for a while is polled only every max_poll seconds: run that long
        # after the last entry is written, so every entry is fetched before the drain.
        max_poll = max(args.poll * 6, 30)
        argv_job = [
            "--streaming", f"--feeds={feeds_txt}", f"--es_url={es_url}", f"--es_index={index}",
            f"--poll_interval={args.poll}", f"--min_poll_interval={args.poll}",
            f"--max_poll_interval={max_poll}",
            f"--duration={args.seconds + max_poll + 2 * args.poll}",
            f"--fetch_articles={args.fetch_articles}", "--ignore_robots",
            "--per_host_delay=0", "--per_host_concurrency=16", "--http_allow_hosts=127.0.0.1/32",
            f"--dead_letters={work / 'dead.jsonl'}",
        ]
        started = time.time()
        summary = launcher.run(argv_job, quiet=False)
        job_seconds = time.time() - started
        time.sleep(2)  # last refresh
        stop.set()
        for t in threads:
            t.join(5)
        requests = list(server.requests)
    if summary is None:
        print("the job did not start", file=sys.stderr)
        return 1
    count, mean_ms, _, max_ms = summary.freshness
    lags = [seen[u] - written[u] for u in written if u in seen]
    feed_requests = [r for r in requests if r.path.startswith("/feeds/")]
    not_modified = sum(1 for r in feed_requests if r.status == 304)
    figures: dict[str, Any] = {
        "feeds": args.feeds,
        "poll_s": args.poll,
        "entries_written": len(written),
        "entries_searchable": len(lags),
        "freshness_written_to_searchable_p50_s": round(_pct(lags, 0.5), 2),
        "freshness_written_to_searchable_p95_s": round(_pct(lags, 0.95), 2),
        "job_freshness_ms_mean": round(mean_ms),
        "job_freshness_ms_max": max_ms,
        "job_freshness_measured": count,
        "articles": summary.articles,
        "articles_per_s": round(summary.articles / job_seconds, 2),
        "feed_requests": len(feed_requests),
        "feed_304": not_modified,
        "articles_deduped": summary.counters.get("articles_seen", 0),
        "docs_indexed": summary.counters.get("docs_indexed", 0),
        "copies_merged": summary.counters.get("copies_merged", 0),
        "rss_mb_start": round(rss[0][1], 1) if rss else None,
        "rss_mb_mid": round(rss[len(rss) // 2][1], 1) if rss else None,
        "rss_mb_end": round(rss[-1][1], 1) if rss else None,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "job_seconds": round(job_seconds, 1),
    }
    for name, value in figures.items():
        print(f"{name:<42}{value}")
    print(json.dumps(figures))
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from eval.report import invocation, table, write_section

    write_section(doc="performance", title="Streaming", command=invocation(), markdown=(
        f"The streaming job on Prism polling {args.feeds} loopback feeds every {args.poll:g} s "
        f"while {args.rate:g} new entries a second are written for {args.seconds:g} s.\n\n"
        + table(["what", "figure"], [
            ("entries searchable / written",
             f"{figures['entries_searchable']} / {figures['entries_written']}"),
            ("written to searchable, p50 / p95",
             f"{figures['freshness_written_to_searchable_p50_s']} s / "
             f"{figures['freshness_written_to_searchable_p95_s']} s"),
            ("memory (RSS) at start / mid-run / end",
             f"{figures['rss_mb_start']} / {figures['rss_mb_mid']} / {figures['rss_mb_end']} MB"),
            ("feed requests answered 304", f"{figures['feed_304']} of "
             f"{figures['feed_requests']}"),
        ])))
    try:
        es.delete_index(config)
    except Exception:  # noqa: BLE001
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
