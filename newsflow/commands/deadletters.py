"""`newsflow deadletters`: read what a run could not process, and retry what may work now.

Dead letters are JSON lines of ``Failure`` records (``schemas/records.py``) in the file an
ingest run names in its summary. ``list`` groups them by step and error; ``retry`` re-runs
the ingest job for the feeds behind the transient ones (timeouts, 5xx, connection errors,
Elasticsearch refusals). Re-running is safe: story ids are deterministic, so nothing is
indexed twice.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import Any

DEFAULT_DIR = "deadletters"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("deadletters", help="list dead letters; retry the transient ones")
    p.add_argument("action", choices=("list", "retry"), nargs="?", default="list")
    p.add_argument("--path", help=f"dead-letter file (default: the newest in {DEFAULT_DIR}/)")
    p.add_argument("--all", action="store_true", help="list: every record, not just the counts")
    p.set_defaults(func=run, pass_through=True)


def load(path: Path) -> list[dict[str, Any]]:
    """The records of a dead-letter file; a line that is not JSON is reported, not fatal."""
    import orjson

    records = []
    for number, line in enumerate(path.read_bytes().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            print(f"{path}:{number}: not a JSON record, skipped", file=sys.stderr)
    return records


def retry_feeds(records: list[dict[str, Any]]) -> list[str]:
    """Feed URLs whose transient failures are worth another run, in first-seen order."""
    feeds: dict[str, None] = {}
    for record in records:
        if not record.get("transient"):
            continue
        context = record.get("context") or {}
        feed = context.get("feed_url") or (
            record["input"] if "feed" in record.get("step", "") else None
        )
        if feed:
            feeds[feed] = None
    return list(feeds)


def run(args: argparse.Namespace) -> int:
    runs = sorted(Path(DEFAULT_DIR).glob("run-*.jsonl"))
    path = Path(args.path) if args.path else (runs[-1] if runs else Path(DEFAULT_DIR, "none"))
    if not path.exists():
        print(f"no dead letters at {path}", file=sys.stderr)
        return 0
    records = load(path)
    if args.action == "list":
        counts = Counter(
            (r.get("step"), r.get("error_type"), bool(r.get("transient"))) for r in records
        )
        print(f"{len(records)} dead letters in {path}")
        for (step, error, transient), n in counts.most_common():
            print(f"{n:>6}  {step:<16} {error:<28} {'transient' if transient else 'permanent'}")
        if args.all:
            for r in records:
                print(
                    f"{r.get('step')}\t{r.get('error_type')}\t{r.get('input')}\t{r.get('message')}"
                )
        return 0
    feeds = retry_feeds(records)
    if not feeds:
        print("nothing transient to retry")
        return 0
    from pipelines import launcher

    retry_path = path.with_name(path.stem + ".retry.jsonl")
    argv = [a for f in feeds for a in ("--feed_url", f)]
    argv += ["--feed_state", "false", "--dead_letters", str(retry_path), *args.rest]
    print(f"retrying {len(feeds)} feeds; new dead letters go to {retry_path}", file=sys.stderr)
    return launcher.main(argv)
