"""`newsflow search`: full-text and date-range search over the story index."""

from __future__ import annotations

import argparse
import sys
from datetime import date


def add_es_arguments(parser: argparse.ArgumentParser) -> None:
    """The Elasticsearch flags every command that reads the index shares."""
    parser.add_argument("--es_url", help="cluster URL (default $ES_URL, else the local node)")
    parser.add_argument("--es_index", help="index alias (default $ES_INDEX, else news)")
    parser.add_argument("--es_api_key_file", help="file holding an API key (else $ES_API_KEY)")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("search", help="search the archive: full text, dates, source")
    p.add_argument("query", nargs="?", default="", help="words or a phrase; empty lists the newest")
    p.add_argument(
        "--from", dest="date_from", help="published on or after (YYYY-MM-DD or ISO time)"
    )
    p.add_argument(
        "--to", dest="date_to", help="published on or before (a bare date includes that day)"
    )
    p.add_argument("--source", help="only stories from (or copied by) this domain")
    p.add_argument("--size", type=int, default=10, help="how many results (default 10)")
    p.add_argument("--json", action="store_true", help="one JSON object per result")
    add_es_arguments(p)
    p.set_defaults(func=run)


def _check_date(value: str | None, flag: str) -> None:
    if value and len(value) == 10:
        try:
            date.fromisoformat(value)
        except ValueError:
            raise SystemExit(
                f"newsflow search: {flag} {value!r} is not a date (YYYY-MM-DD)"
            ) from None


def run(args: argparse.Namespace) -> int:
    import orjson

    from newsflow import es

    _check_date(args.date_from, "--from")
    _check_date(args.date_to, "--to")
    config = es.EsConfig.from_env(args.es_url, args.es_index, api_key_file=args.es_api_key_file)
    try:
        result = es.search(
            config,
            args.query or None,
            date_from=args.date_from,
            date_to=args.date_to,
            source=args.source,
            size=args.size,
        )
    except (es.EsUnavailable, es.IndexMissing) as exc:
        print(f"newsflow search: {exc}", file=sys.stderr)
        return 1
    if args.json:
        for hit in result["hits"]:
            sys.stdout.buffer.write(orjson.dumps(hit) + b"\n")
        return 0
    print(f"{result['total']} stories")
    for hit in result["hits"]:
        copies = hit.get("copy_count") or len(hit.get("copies") or [])
        when = (hit.get("published_at") or "undated")[:16].replace("T", " ")
        print(f"\n{hit['title']}")
        print(f"  {hit.get('source', '')} · {when} · {copies} place(s)")
        print(f"  {hit['url']}")
        if hit.get("snippet"):
            print(f"  {' '.join(hit['snippet'].split())}")
    return 0
