"""``newsflow dedupe``: group article JSON lines into stories, no Elasticsearch needed.

Reads ``{"id", "url", "title", "body", "published_at", "source"}`` per line on stdin and
writes ``{"id", "cluster_id", "canonical"}`` per input line, in input order: copies of one
story share a ``cluster_id`` and exactly one of them is ``canonical``. Lines that are not JSON
objects are reported on stderr and written as their own cluster, so output lines still match
input lines.
"""

from __future__ import annotations

import argparse
import sys
from typing import IO, Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "dedupe",
        help="group article JSON lines (stdin) into stories: {id, cluster_id, canonical} per line",
    )
    p.add_argument("--input", default="-", help="JSON lines file (default: stdin)")
    p.add_argument("--output", default="-", help="where to write (default: stdout)")
    p.add_argument("--stats", action="store_true", help="print counts to stderr")
    p.set_defaults(func=run)


BATCH = 256  # bodies fingerprinted together (numpy works on the whole batch)


def dedupe_lines(lines: IO[bytes], out: IO[bytes], stats: Any = None) -> int:
    """Dedupe JSON lines from ``lines`` into ``out``; returns the number of bad lines.

    Bodies are fingerprinted in batches as lines arrive and then dropped: only fingerprints
    and a few fields per article stay in memory.
    """
    import orjson

    from newsflow.dedupe import Entry, dedupe
    from newsflow.dedupe.signature import fingerprints
    from schemas.records import utc

    entries: list[Entry] = []
    ids: list[Any] = []
    pending: list[tuple[str, str, str, Any, bool, str]] = []
    bad = 0

    def flush() -> None:
        prints = fingerprints([p[5] for p in pending])
        for (key, url, source, published, truncated, _), fp in zip(pending, prints, strict=True):
            entries.append(Entry(key, url, source, published, fp, truncated))
        pending.clear()

    for n, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            doc: dict[str, Any] = orjson.loads(raw)
            if not isinstance(doc, dict):
                raise ValueError("not a JSON object")
            published = utc(doc.get("published_at"))
        except ValueError as exc:
            bad += 1
            print(f"line {n}: skipped: {exc}", file=sys.stderr)
            doc, published = {"id": f"line-{n}"}, None
        ids.append(doc.get("id", n))
        pending.append(
            (
                str(len(ids) - 1),
                str(doc.get("url") or ""),
                str(doc.get("source") or ""),
                published,
                bool(doc.get("truncated", False)),
                str(doc.get("body") or ""),
            )
        )
        if len(pending) >= BATCH:
            flush()
    flush()
    for item, assignment in zip(ids, dedupe(entries, stats=stats), strict=True):
        out.write(
            orjson.dumps(
                {"id": item, "cluster_id": assignment.cluster_id, "canonical": assignment.canonical}
            )
            + b"\n"
        )
    return bad


def run(args: argparse.Namespace) -> int:
    from newsflow.dedupe import Stats

    stats = Stats()
    src = sys.stdin.buffer if args.input == "-" else open(args.input, "rb")  # noqa: SIM115
    dst = sys.stdout.buffer if args.output == "-" else open(args.output, "wb")  # noqa: SIM115
    try:
        bad = dedupe_lines(src, dst, stats)
    finally:
        if src is not sys.stdin.buffer:
            src.close()
        if dst is not sys.stdout.buffer:
            dst.close()
    if args.stats:
        print(
            f"articles {stats.articles} stories {stats.stories} candidate_pairs "
            f"{stats.candidate_pairs} verified_pairs {stats.verified_pairs} "
            f"buckets_skipped {stats.buckets_skipped} bad_lines {bad}",
            file=sys.stderr,
        )
    return 1 if bad else 0
