"""``newsflow extract``: pages in, normalised articles out, no network.

Reads JSON lines ``{"id", "url", "html"}`` (optionally ``"fetched_at"``, ``"headers"``) on stdin
and writes one JSON line per input line, in input order: ``id`` plus the article's normalised
fields (``title``, ``body``, ``authors``, ``published_at``, ``published_at_source``,
``language``, ``canonical_url``, ``truncated``, ...). A line that cannot be read or extracted
yields ``{"id": ..., "error": ...}`` and the run goes on; the exit status is 1 if any did.
This is what ``make eval`` scores and what a user runs to see why a page came out as it did.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import IO, Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "extract",
        help="extract articles from JSON lines {id, url, html} (stdin): one JSON line each",
    )
    p.add_argument("--input", default="-", help="JSON lines file (default: stdin)")
    p.add_argument("--output", default="-", help="where to write (default: stdout)")
    p.add_argument(
        "--fetched_at",
        default=None,
        help="ISO-8601 time relative dates are resolved against (default: each line's "
        "fetched_at, else now)",
    )
    p.set_defaults(func=run)


def extract_lines(lines: IO[bytes], out: IO[bytes], fetched_at: datetime | None = None) -> int:
    """Extract every JSON line of ``lines`` into ``out``; returns the number of failed lines."""
    import orjson

    from newsflow.extract import extract_article
    from schemas.records import utc

    failed = 0
    for n, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        ident: Any = f"line-{n}"
        try:
            doc = orjson.loads(raw)
            if not isinstance(doc, dict):
                raise ValueError("not a JSON object")
            ident = doc.get("id", ident)
            html, url = doc.get("html"), doc.get("url")
            if not isinstance(html, str) or not isinstance(url, str) or not url:
                raise ValueError("needs string fields 'url' and 'html'")
            when = fetched_at or utc(doc.get("fetched_at")) or datetime.now(UTC)
            headers = doc.get("headers") if isinstance(doc.get("headers"), dict) else None
            article = extract_article(html, url, fetched_at=when, headers=headers)
            record = {"id": ident, "canonical_url": article.url, **article.to_dict()}
        except Exception as exc:  # noqa: BLE001 - one bad page must not stop the run
            failed += 1
            record = {"id": ident, "error": f"{type(exc).__name__}: {exc}"}
        out.write(orjson.dumps(record) + b"\n")
    return failed


def run(args: argparse.Namespace) -> int:
    from schemas.records import utc

    fetched_at = utc(args.fetched_at) if args.fetched_at else None
    source = sys.stdin.buffer if args.input == "-" else open(args.input, "rb")
    target = sys.stdout.buffer if args.output == "-" else open(args.output, "wb")
    try:
        failed = extract_lines(source, target, fetched_at)
    finally:
        if source is not sys.stdin.buffer:
            source.close()
        if target is not sys.stdout.buffer:
            target.close()
        else:
            target.flush()
    if failed:
        print(f"{failed} line(s) failed", file=sys.stderr)
    return 1 if failed else 0
