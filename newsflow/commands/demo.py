"""``newsflow demo``: build the invented demo news site and serve it on loopback.

``make run`` uses these two steps to give newsflow a news web to ingest without the internet:
``newsflow demo build DIR`` writes the site (see ``local.demosite``) and ``newsflow demo serve
DIR`` serves it (see ``local.siteserver``) until Ctrl-C, printing its URL first.
"""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("demo", help="build or serve the demo news site")
    sub = p.add_subparsers(dest="demo_command", metavar="ACTION", required=True)

    build = sub.add_parser("build", help="write the demo site to DIR")
    build.add_argument("dir", help="output directory (created if missing)")
    build.add_argument("--feeds", type=int, default=10,
                       help="lines in feeds.txt, the broken feed included (default 10)")
    build.add_argument("--articles", type=int, default=100, help="article pages (default 100)")
    build.add_argument("--copy_rate", type=float, default=0.5,
                       help="share of articles that are copies of another (default 0.5)")
    build.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    build.add_argument("--no_broken_feed", dest="broken_feed", action="store_false",
                       help="leave out the feed that answers 500")
    build.add_argument("--slow_feed", action="store_true",
                       help="add a feed that stalls (tests fetch timeouts; makes runs slow)")
    build.set_defaults(func=_run_build)

    serve = sub.add_parser("serve", help="serve DIR on 127.0.0.1 until Ctrl-C")
    serve.add_argument("dir", help="a site directory built by 'newsflow demo build'")
    serve.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    serve.add_argument("--port_file", help="write the chosen port to this file")
    serve.add_argument("--log", help="append one line per request to this file")
    serve.add_argument("--slow_seconds", type=float, default=30.0,
                       help="how long /slow/* requests stall (default 30)")
    serve.set_defaults(func=_run_serve)


def _run_build(args: argparse.Namespace) -> int:
    from local.demosite import build_site

    try:
        manifest = build_site(args.dir, feeds=args.feeds, articles=args.articles,
                              copy_rate=args.copy_rate, seed=args.seed,
                              broken_feed=args.broken_feed, slow_feed=args.slow_feed)
    except ValueError as exc:
        print(f"newsflow demo build: {exc}")
        return 2
    print(f"wrote {len(manifest.articles)} articles ({manifest.copy_count} copies) in "
          f"{len(manifest.stories)} stories and {len(manifest.feeds)} feeds to {args.dir}")
    return 0


def _run_serve(args: argparse.Namespace) -> int:
    from local.siteserver import serve

    try:
        return serve(args.dir, port=args.port, port_file=args.port_file, log_path=args.log,
                     slow_seconds=args.slow_seconds)
    except ValueError as exc:
        print(f"newsflow demo serve: {exc}")
        return 2
