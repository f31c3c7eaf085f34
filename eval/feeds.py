"""Check newsflow's feed parser against every captured feed in the evaluation data.

For each file under ``$NEWSFLOW_EVAL_DATA/feeds`` (default ``../shared/data``) this runs
feedparser itself and :func:`newsflow.feeds.parse_feed`, and checks that every entry feedparser
finds comes out, with an absolute http(s) URL and a UTC time or ``None`` (with a note). Prints
one JSON line of figures (and, with ``--verbose``, one line per problem). Asserts nothing:
``make eval`` runs it.

    python eval/feeds.py [--data DIR] [--verbose]
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eval.report import invocation, table, write_section  # noqa: E402
from newsflow.feeds import FeedParseError, parse_feed  # noqa: E402

FEED_SUFFIXES = (".xml", ".atom", ".rss", ".rdf", ".html", ".opml")


def _absolute(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def evaluate(root: Path, verbose: bool = False) -> dict[str, object]:
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in FEED_SUFFIXES)
    figures: dict[str, int | float] = {
        "feeds": len(files), "feeds_parsed": 0, "feeds_rejected": 0,
        "feeds_rejected_with_entries": 0, "feeds_bozo": 0, "entries_feedparser": 0,
        "entries_out": 0, "entries_missing": 0, "urls_not_absolute": 0, "times_not_utc": 0,
        "entries_dated": 0, "entries_undated_without_note": 0, "entries_fallback_url": 0,
    }
    now = datetime.now(UTC)
    started = time.perf_counter()
    for path in files:
        body = path.read_bytes()
        feed_url = f"https://feeds.example/{path.relative_to(root).as_posix()}"
        headers = {"content-type": "application/xml"}
        reference = feedparser.parse(io.BytesIO(body),
                                     response_headers={**headers, "content-location": feed_url})
        expected = len(reference.entries)
        figures["entries_feedparser"] += expected
        try:
            parsed = parse_feed(body, headers, feed_url, now=now)
        except FeedParseError as exc:
            figures["feeds_rejected"] += 1
            if expected:
                figures["feeds_rejected_with_entries"] += 1
                figures["entries_missing"] += expected
            if verbose:
                print(f"rejected {path.relative_to(root)} ({expected} entries): {exc}",
                      file=sys.stderr)
            continue
        figures["feeds_parsed"] += 1
        figures["feeds_bozo"] += int(parsed.bozo)
        figures["entries_out"] += len(parsed.entries)
        figures["entries_missing"] += max(0, expected - len(parsed.entries))
        for entry in parsed.entries:
            if not _absolute(entry.url):
                figures["urls_not_absolute"] += 1
                if verbose:
                    print(f"relative URL in {path.name}: {entry.url!r}", file=sys.stderr)
            if entry.url.startswith(feed_url + "#entry-"):
                figures["entries_fallback_url"] += 1
            if entry.published_at is None:
                if not entry.published_at_note:
                    figures["entries_undated_without_note"] += 1
            elif entry.published_at.utcoffset() != UTC.utcoffset(None):
                figures["times_not_utc"] += 1
            else:
                figures["entries_dated"] += 1
    elapsed = time.perf_counter() - started
    out: dict[str, object] = dict(figures)
    total = figures["entries_feedparser"] or 1
    out["entries_kept_ratio"] = round(figures["entries_out"] / total, 4)
    out["seconds"] = round(elapsed, 3)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = Path(os.environ.get("NEWSFLOW_EVAL_DATA", "../shared/data")) / "feeds"
    parser.add_argument("--data", type=Path, default=default, help="folder of feed files")
    parser.add_argument("--verbose", action="store_true", help="print each problem on stderr")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    if not args.data.is_dir():
        print(f"no feed data at {args.data} (set NEWSFLOW_EVAL_DATA)", file=sys.stderr)
        return 2
    figures = evaluate(args.data, args.verbose)
    print(orjson.dumps(figures).decode())
    rows = [(label, figures[key]) for key, label in FIGURES]
    write_section(doc="quality", title="Feeds", command=invocation(), markdown=(
        f"Every captured feed under `{args.data.name}/` of the evaluation data, parsed by "
        "feedparser alone and by newsflow.\n\n" + table(["what", "figure"], rows)))
    return 0


FIGURES = (
    ("feeds", "feed files"),
    ("feeds_parsed", "parsed"),
    ("feeds_rejected", "rejected (not a feed)"),
    ("feeds_rejected_with_entries", "rejected although feedparser found entries"),
    ("feeds_bozo", "not well-formed, kept"),
    ("entries_feedparser", "entries feedparser finds"),
    ("entries_out", "entries newsflow emits"),
    ("entries_missing", "entries missing (target: 0)"),
    ("urls_not_absolute", "entry URLs not absolute"),
    ("times_not_utc", "times not in UTC"),
    ("entries_undated_without_note", "undated entries without a note"),
)


if __name__ == "__main__":
    sys.exit(main())
