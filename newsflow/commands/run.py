"""`newsflow run`: what `make run` does — one command from nothing to search results.

It makes sure there is an Elasticsearch to write to (the local node unless ``ES_URL`` is set),
then either builds and serves the demo news site on loopback (``--demo``) or reads a feed list
(``--feeds FILE``), runs the ingest job, prints its summary and three example searches.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DEMO_PORT = 8765


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "run", help="set up and run the job on the demo site or a feed list (make run)"
    )
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--demo", action="store_true", help="the project's demo news site on loopback"
    )
    which.add_argument("--feeds", help="a feed list file (text or OPML) of real feeds")
    p.add_argument("--demo_dir", default="var/demo-site", help="where the demo site is built")
    p.add_argument(
        "--demo_port",
        type=int,
        default=int(os.environ.get("NEWSFLOW_DEMO_PORT", DEMO_PORT)),
        help="fixed port, so re-runs see the same URLs (default %(default)s)",
    )
    p.set_defaults(func=run, pass_through=True)


def run(args: argparse.Namespace) -> int:
    from local import esnode
    from pipelines.options import unknown_flags

    unknown = unknown_flags(args.rest)
    if unknown:  # before starting anything
        print("\n  ".join(["newsflow run: bad arguments:", *unknown]), file=sys.stderr)
        return 1
    es_url = os.environ.get("ES_URL")
    if not es_url and not esnode.health(esnode.LocalNode().url):
        print(
            "starting the local Elasticsearch node (first time: fetches it from Maven Central)...",
            file=sys.stderr,
        )
        try:
            esnode.start()
        except esnode.NodeError as exc:
            print(f"newsflow run: {exc}", file=sys.stderr)
            return 1
    es_url = es_url or esnode.LocalNode().url
    if args.feeds:
        return _ingest_and_show(["--feeds", args.feeds, "--es_url", es_url, *args.rest])
    return _run_demo(args, es_url)


def _run_demo(args: argparse.Namespace, es_url: str) -> int:
    from local.demosite import build_site
    from local.siteserver import SiteServer

    site = build_site(args.demo_dir)
    with SiteServer(site.root, port=args.demo_port) as server:
        feeds = Path(args.demo_dir) / "feeds.local.txt"
        feeds.write_text("\n".join(site.feed_urls(server.url)) + "\n")
        print(
            f"serving the demo site ({len(site.articles)} articles, {len(site.feeds)} feeds) at "
            f"{server.url}",
            file=sys.stderr,
        )
        # Our own server on loopback: allowed, and no need to be gentle with it.
        flags = ["--per_host_concurrency", "16", "--per_host_delay", "0", "--http_timeout", "5",
                 "--http_allow_hosts", f"{urlsplit(server.url).hostname}/32"]
        return _ingest_and_show(["--feeds", str(feeds), "--es_url", es_url, *flags, *args.rest])


def _ingest_and_show(argv: list[str]) -> int:
    from apache_beam.options.pipeline_options import PipelineOptions

    from newsflow import es
    from pipelines import launcher
    from pipelines.options import EsOptions

    summary = launcher.run(argv)
    if summary is None:
        return 1
    print("\n".join(summary.lines()))
    config = PipelineOptions(argv).view_as(EsOptions).es_config()
    es.refresh(config)  # what was just indexed is searchable now, not in a second
    for title, kwargs in _example_searches(config):
        result = es.search(config, size=3, **kwargs)
        total = result["total"]
        print(f"\n$ newsflow search {title}   → {total} {'story' if total == 1 else 'stories'}")
        for hit in result["hits"]:
            when = (hit.get("published_at") or "undated")[:10]
            places = hit.get("copy_count", 1)
            where = "1 place" if places == 1 else f"{places} places"
            print(f"  {when}  {hit.get('source', ''):<22} {hit['title'][:70]}  ({where})")
    return 0 if summary.ok() else 1


def _example_searches(config: Any) -> list[tuple[str, dict[str, Any]]]:
    """A phrase, a one-day date range and a source, from the story that appeared most often."""
    client = config.client()
    try:
        hits = client.search(index=config.index, size=1, sort=[{"copy_count": "desc"}],
                             source_includes=["title", "published_at", "source"])["hits"]["hits"]
    finally:
        client.close()
    if not hits:
        return []
    top = hits[0]["_source"]
    phrase = " ".join(top["title"].split()[:4])
    day = str(top.get("published_at") or datetime.now().isoformat())[:10]
    return [
        (f'"{phrase}"', {"query": f'"{phrase}"'}),
        (f"--from {day} --to {day}", {"date_from": day, "date_to": day}),
        (f"--source {top.get('source')}", {"source": top.get("source")}),
    ]
