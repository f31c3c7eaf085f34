"""`newsflow feeds show`: what newsflow sees in a feed, one JSON line per entry.

It runs the same fetch (:mod:`newsflow.http`) and parse (:mod:`newsflow.feeds`) code as the
pipeline, without Beam or Elasticsearch, so a user can check a feed before adding it: entries
on stdout, one readable line per failed feed on stderr, exit status 0 when at least one feed
was read.
"""

from __future__ import annotations

import argparse
import os
import sys


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("feeds", help="inspect feeds: what newsflow sees in them")
    actions = p.add_subparsers(dest="feeds_command", metavar="ACTION")
    show = actions.add_parser(
        "show", help="fetch and parse feeds; print each entry as a JSON line",
        description="Fetch and parse feeds and print every entry as one JSON line "
        "(feed, url, title, published_at, summary, authors, guid). Failed feeds are "
        "reported on stderr; the exit status is 0 when at least one feed was read.",
    )
    show.add_argument("urls", nargs="*", metavar="URL", help="feed URLs")
    show.add_argument("--file", "-f", action="append", default=[], metavar="FILE",
                      help="a feed list: one URL a line (# comments) or OPML; repeatable")
    show.add_argument("--timeout", type=float, default=15.0,
                      help="read timeout in seconds (default 15)")
    show.add_argument("--retries", type=int, default=1, help="retries on transient errors")
    show.add_argument("--ignore_robots", action="store_true", help="do not read robots.txt")
    show.add_argument("--http_allow_hosts", metavar="CIDR[,CIDR...]",
                      help="non-public networks that may be fetched from (default "
                      "$NEWSFLOW_HTTP_ALLOW_HOSTS; others are refused)")
    show.add_argument("--content", action="store_true",
                      help="also print each entry's content (HTML) and tags")
    show.set_defaults(func=run)
    p.set_defaults(func=lambda _args: _usage(p))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    import logging

    import orjson

    from newsflow.feedlist import FeedListError, load_feed_list
    from newsflow.feeds import FeedParseError, parse_feed
    from newsflow.http import FetchConfig, Fetcher, FetchError
    from newsflow.netguard import ALLOW_HOSTS_ENV, parse_allowlist
    from schemas.records import iso

    try:
        sources = load_feed_list(args.urls, args.file)
        allow = args.http_allow_hosts
        config = FetchConfig(read_timeout=args.timeout, retries=args.retries,
                             respect_robots=not args.ignore_robots,
                             allow_networks=parse_allowlist(
                                 os.environ.get(ALLOW_HOSTS_ENV) if allow is None else allow))
    except (FeedListError, ValueError, OSError) as exc:
        print(f"newsflow feeds show: {exc}", file=sys.stderr)
        return 2
    if not sources:
        print("newsflow feeds show: no feeds given (URLs or --file)", file=sys.stderr)
        return 2
    logging.getLogger("newsflow.feeds").setLevel(logging.ERROR)  # bozo is reported below
    read = 0
    out = sys.stdout.buffer
    with Fetcher(config) as fetcher:
        for url, outcome in fetcher.fetch_many([s.url for s in sources]):
            assert isinstance(url, str)
            if isinstance(outcome, FetchError):
                print(f"{url}: {_describe(outcome)}", file=sys.stderr)
                continue
            try:
                feed = parse_feed(outcome.body, outcome.headers, url, outcome.final_url)
            except FeedParseError as exc:
                print(f"{url}: {exc.message}", file=sys.stderr)
                continue
            read += 1
            if feed.bozo:
                print(f"{url}: warning: not well-formed ({feed.bozo_reason}); "
                      f"{len(feed.entries)} entries read anyway", file=sys.stderr)
            for entry in feed.entries:
                line = {
                    "feed": url, "url": entry.url, "title": entry.title,
                    "published_at": iso(entry.published_at), "summary": entry.summary,
                    "authors": entry.authors, "guid": entry.guid,
                }
                if entry.published_at is None:
                    line["published_at_note"] = entry.published_at_note
                if args.content:
                    line["content"] = entry.content
                    line["tags"] = entry.tags
                out.write(orjson.dumps(line) + b"\n")
            out.flush()
    return 0 if read else 1


def _describe(error: object) -> str:
    from newsflow.http import FetchError

    assert isinstance(error, FetchError)
    if error.kind == "http_status":
        return f"the server answered {error.message}"
    if error.kind == "dns":
        return f"DNS lookup failed: {error.message}"
    if error.kind == "timeout":
        return f"timed out ({error.message}) after {error.attempts} attempt(s)"
    return f"{error.kind.replace('_', ' ')}: {error.message}"
