"""`newsflow deadletters`: read what a run could not process, and retry what may work now.

Dead letters are JSON lines of ``Failure`` records (``schemas/records.py``) in the file (batch)
or folder of files (streaming) an ingest run names in its summary, on any filesystem Beam reads
(``gs://...`` included). ``list`` groups them by step and error. ``retry`` runs one batch job
over the transient ones: the feeds that failed are fetched again, entries whose page failed are
fetched and extracted again from the entry their dead letter holds, and stories that could not
be indexed are written again from the document theirs holds. Re-running is safe: story ids are
deterministic, and a page read now replaces the feed's text that stood in for it.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_DIR = "deadletters"
FEED_STEPS = ("fetch", "parse", "feed_state")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("deadletters", help="list dead letters; retry the transient ones")
    p.add_argument("action", choices=("list", "retry"), nargs="?", default="list")
    p.add_argument("--path", help=f"dead-letter file or folder, local or gs://... (default: the "
                   f"newest in {DEFAULT_DIR}/)")
    p.add_argument("--all", action="store_true", help="list: every record, not just the counts")
    p.add_argument("--feeds", metavar="FILE",
                   help="retry: the run's feed list, for the credentials of feed URLs that the "
                   "dead letters show redacted (***@)")
    p.set_defaults(func=run, pass_through=True)


def load(path: Path | str) -> list[dict[str, Any]]:
    """The records of a dead-letter file, or of every ``*.jsonl`` file in a folder; a line that
    is not JSON is reported, not fatal."""
    import orjson
    from apache_beam.io.filesystems import FileSystems

    where = str(path)
    pattern = where.rstrip("/") + "/*.jsonl" if _is_folder(where) else where
    records = []
    for match in FileSystems.match([pattern])[0].metadata_list:
        with FileSystems.open(match.path) as handle:
            for number, line in enumerate(handle.read().splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    records.append(orjson.loads(line))
                except orjson.JSONDecodeError:
                    print(f"{match.path}:{number}: not a JSON record, skipped", file=sys.stderr)
    return records


def _is_folder(where: str) -> bool:
    if "://" not in where:
        return Path(where).is_dir()
    return where.endswith("/")


def retry_feeds(records: list[dict[str, Any]]) -> list[str]:
    """Feed URLs whose own transient failures are worth another run, in first-seen order."""
    feeds: dict[str, None] = {}
    for record in records:
        if not record.get("transient") or record.get("step") not in FEED_STEPS:
            continue
        context = record.get("context") or {}
        feed = context.get("feed_url") or record.get("input")
        if feed and "://" in feed:
            feeds[feed] = None
    return list(feeds)


@dataclass
class RetryPlan:
    """What ``retry`` runs: feeds, entries and stories (as dicts), and what it cannot retry."""

    feeds: list[str] = field(default_factory=list)
    entries: list[dict[str, Any]] = field(default_factory=list)
    stories: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def retry_plan(records: list[dict[str, Any]], feed_list: list[str] | None = None) -> RetryPlan:
    """The transient failures of ``records`` as a retry: feeds (with their credentials from
    ``feed_list`` where the dead letters show them redacted), entries whose page failed for now,
    stories that could not be indexed (each once, the latest version)."""
    from newsflow.http import redact_url

    plan = RetryPlan()
    known = {redact_url(url): url for url in feed_list or []}
    for feed in retry_feeds(records):
        if "***@" in feed and feed not in known:
            plan.skipped.append(f"{feed}: its credentials are not in dead letters; give the "
                                "run's feed list with --feeds")
        else:
            plan.feeds.append(known.get(feed, feed))
    entries: dict[str, dict[str, Any]] = {}
    stories: dict[str, dict[str, Any]] = {}
    for record in records:
        context = record.get("context") or {}
        if record.get("step") == "normalise" and record.get("transient") and context.get("entry"):
            entries[context["entry"]["url"]] = context["entry"]
        elif record.get("step") == "index" and record.get("transient") and context.get(
                "document"):
            stories[record["input"]] = context["document"]
    plan.entries, plan.stories = list(entries.values()), list(stories.values())
    return plan


def run(args: argparse.Namespace) -> int:
    runs = sorted(Path(DEFAULT_DIR).glob("run-*.jsonl"))
    where = args.path or str(runs[-1] if runs else Path(DEFAULT_DIR, "none"))
    records = load(where)
    if not records and "://" not in where and not Path(where).exists():
        print(f"no dead letters at {where}", file=sys.stderr)
        return 0
    if args.action == "list":
        counts = Counter(
            (r.get("step"), r.get("error_type"), bool(r.get("transient"))) for r in records
        )
        print(f"{len(records)} dead letters in {where}")
        for (step, error, transient), n in counts.most_common():
            print(f"{n:>6}  {step:<16} {error:<28} {'transient' if transient else 'permanent'}")
        if args.all:
            for r in records:
                print(
                    f"{r.get('step')}\t{r.get('error_type')}\t{r.get('input')}\t{r.get('message')}"
                )
        return 0
    return _retry(args, where, records)


def _retry(args: argparse.Namespace, where: str, records: list[dict[str, Any]]) -> int:
    from newsflow.feedlist import FeedListError, load_feed_list
    from pipelines import launcher
    from pipelines.pipeline import Replay
    from schemas.records import FeedEntry, Story

    try:
        feed_list = [s.url for s in load_feed_list([], [args.feeds])] if args.feeds else None
    except (FeedListError, OSError) as exc:
        print(f"newsflow deadletters retry: {exc}", file=sys.stderr)
        return 2
    plan = retry_plan(records, feed_list)
    for line in plan.skipped:
        print(f"not retried: {line}", file=sys.stderr)
    if not (plan.feeds or plan.entries or plan.stories):
        print("nothing transient to retry")
        return 0
    retry_path = where.rstrip("/").removesuffix(".jsonl") + ".retry.jsonl"
    argv = [a for f in plan.feeds for a in ("--feed_url", f)]
    # Without feed state: a feed in its failure back-off is fetched now, unconditionally.
    argv += ["--feed_state", "false", "--dead_letters", retry_path, *args.rest]
    print(f"retrying {len(plan.feeds)} feeds, {len(plan.entries)} pages and "
          f"{len(plan.stories)} stories; new dead letters go to {retry_path}", file=sys.stderr)
    replay = Replay(entries=[FeedEntry.from_dict(e) for e in plan.entries],
                    stories=[Story.from_dict(s) for s in plan.stories])
    summary = launcher.run(argv, prog="newsflow deadletters retry", replay=replay)
    if summary is None:
        return 1
    print("\n".join(summary.lines()))
    return 0 if summary.ok() else 1
