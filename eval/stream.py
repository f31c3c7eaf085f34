"""Streaming check on a live news web (`make eval`): its stories beside the batch job's, and how
fresh they are.

Serves ``$NEWSFLOW_EVAL_DATA/site`` live with ``../shared/tools/serve_live.py`` (``HOSTS=1``: each
outlet on a loopback host of its own; every feed starts with its oldest item and shows one more
every ``--step`` seconds), runs the streaming job on it for ``--duration`` seconds (then it
drains), and watches the index meanwhile. Reports, against ``expected.json`` restricted to the
items the server revealed while the job polled:

- items found: every revealed article must appear in its story's ``copies``;
- story pair precision / recall / F1 of the final index;
- freshness: from the moment an item first appeared in its feed (the server's ``reveal`` log
  line) to the moment a search finds it (p50, p95, max; the watcher searches every
  ``WATCH_EVERY`` seconds, which bounds its error);
- the batch job's figures on the same site (``eval/site.py``'s ``evaluate``), scored on the
  same items, for comparison.

Also printed: the stories the index split or joined, and the sink's counters of stories merged
after their write (windows that raced). Prints one line per figure and a JSON line; asserts
nothing. About four minutes.

usage: python eval/stream.py [--step 20] [--duration 150] [--poll_interval 2]
       [--min_poll_interval 5] [--lead SECONDS] [--site DIR] [--no_batch]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from eval import site as site_eval  # noqa: E402
from eval.report import invocation, table, write_section  # noqa: E402
from local import esnode  # noqa: E402
from newsflow import es  # noqa: E402
from pipelines import launcher, runners  # noqa: E402
from transforms.freshness import percentile  # noqa: E402

WATCH_EVERY = 0.25  # seconds between the watcher's searches


def serve_live(
    site: Path, workdir: Path, step: float
) -> tuple[subprocess.Popen[bytes], Path, Path]:
    """Start ``serve_live.py`` (``HOSTS=1``); the process, its feed list and its log."""
    log = workdir / "live.log"
    proc, feeds = site_eval.serve_many_hosts("serve_live.py", [str(site), str(log), str(step)],
                                             workdir)
    return proc, feeds, log


def reveals(log: Path) -> dict[str, float]:
    """Page stem (``a00189``) → the time its item first appeared in a feed."""
    out: dict[str, float] = {}
    for line in log.read_text().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] == "reveal":
            out.setdefault(parts[2], float(parts[0]))
    return out


class Watcher(threading.Thread):
    """Searches the index every ``WATCH_EVERY`` s and notes when each expected article is
    first found in a story."""

    def __init__(self, config: es.EsConfig, expected: dict[str, dict[str, Any]]) -> None:
        super().__init__(name="eval-watcher", daemon=True)
        self.config = config
        self.expected = expected
        self.found_at: dict[str, float] = {}
        self.stopping = threading.Event()

    def run(self) -> None:
        client = self.config.client()
        try:
            while not self.stopping.wait(WATCH_EVERY):
                self.look(client)
        finally:
            client.close()

    def look(self, client: Any) -> None:
        try:
            resp = client.search(index=self.config.index, size=10000,
                                 query={"match_all": {}},
                                 source_includes=["story_id", "copies.url", "copies.fetched_url"])
        except Exception:  # noqa: BLE001 - the index may not exist yet
            return
        now = time.time()
        stories = [h["_source"] for h in resp["hits"]["hits"]]
        for aid in site_eval.story_of_article(stories, self.expected):
            self.found_at.setdefault(aid, now)


def run_stream(site: Path, es_url: str, args: argparse.Namespace) -> dict[str, Any]:
    expected = json.loads((site / "expected.json").read_text())["articles"]
    alias = f"eval-stream-{uuid.uuid4().hex[:8]}"
    config = es.EsConfig(url=es_url, index=alias)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        proc, feeds, log = serve_live(site, workdir, args.step)
        time.sleep(args.lead)
        watcher = Watcher(config, expected)
        watcher.start()
        load_before = os.getloadavg()[0]
        try:
            summary = launcher.run([
                "--streaming", "--feeds", str(feeds),
                "--es_url", es_url, "--es_index", alias,
                "--poll_interval", str(args.poll_interval),
                "--min_poll_interval", str(args.min_poll_interval),
                "--duration", str(args.duration),
                "--http_timeout", "5", "--http_retries", "1",
                "--http_allow_hosts", "127.0.0.0/8",  # each outlet on its own 127.0.1.N
                "--dead_letters", str(workdir / "dead.jsonl"),
            ], quiet=True)
            es.refresh(config)
            watcher.look(config.client())
        finally:
            watcher.stopping.set()
            watcher.join()
            proc.terminate()
            proc.wait()
        load_after = os.getloadavg()[0]
        shown = reveals(log)
        stories = site_eval.all_stories(config)
    es.delete_index(config)
    revealed = {aid: art for aid, art in expected.items() if Path(art["path"]).stem in shown}
    found = site_eval.story_of_article(stories, revealed)
    gold = {aid: art["story"] for aid, art in revealed.items()}
    predicted = {aid: found.get(aid, f"missing:{aid}") for aid in gold}
    precision, recall, f1 = site_eval.pair_scores(gold, predicted)
    delays = [watcher.found_at[aid] - shown[Path(art["path"]).stem]
              for aid, art in revealed.items() if aid in watcher.found_at]
    counters = summary.counters if summary else {}
    return {
        "articles_revealed": len(revealed),
        "articles_found": round(len(found) / len(revealed), 4) if revealed else None,
        "stories_indexed": len(stories),
        "story_pair_precision": round(precision, 4),
        "story_pair_recall": round(recall, 4),
        "story_pair_f1": round(f1, 4),
        "freshness_p50_s": round(percentile(delays, 0.5), 2),
        "freshness_p95_s": round(percentile(delays, 0.95), 2),
        "freshness_max_s": round(max(delays), 2) if delays else None,
        "dead_letters": summary.dead_letters if summary else None,
        **{name: counters.get(name, 0) for name in COUNTERS},
        "load_1min": f"{load_before:.1f} → {load_after:.1f}",
        "split_pairs": _split_pairs(gold, predicted),
        "revealed_ids": sorted(revealed),
    }


def _split_pairs(gold: dict[str, str], predicted: dict[str, str]) -> list[str]:
    """Gold stories the index split or joined, as ``story: [article/story id ...]``."""
    out = []
    by_gold: dict[str, list[str]] = {}
    for aid, story in gold.items():
        by_gold.setdefault(story, []).append(aid)
    for story, members in sorted(by_gold.items()):
        ids = {predicted[a] for a in members}
        if len(ids) > 1:
            out.append(f"{story}: " + " ".join(f"{a}/{predicted[a][:6]}" for a in sorted(members)))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--step", type=float, default=20.0, help="seconds between reveals")
    parser.add_argument("--duration", type=float, default=150.0, help="seconds of polling")
    parser.add_argument("--poll_interval", type=float, default=2.0)
    parser.add_argument("--min_poll_interval", type=float, default=5.0)
    parser.add_argument("--lead", type=float, default=0.0,
                        help="seconds the web is live before the job starts")
    parser.add_argument("--no_batch", action="store_true", help="skip the batch job")
    parser.add_argument("--site", type=Path, default=None,
                        help="a site built by build_site.py (default: the evaluation data's)")
    args = parser.parse_args(argv)
    runners.quiet_runner_logs()
    site = args.site or site_eval.data_dir() / "site"
    if not (site / "expected.json").exists():
        print(f"no site at {site}: set NEWSFLOW_EVAL_DATA", file=sys.stderr)
        return 1
    es_url = os.environ.get("ES_URL") or esnode.start().url
    stream = run_stream(site, es_url, args)
    for line in stream.pop("split_pairs"):
        print(f"stream split {line}")
    revealed = set(stream.pop("revealed_ids"))
    batch = {} if args.no_batch else site_eval.evaluate(site, es_url, only=revealed)
    for key, value in stream.items():
        print(f"stream {key} {value}")
    for key, value in batch.items():
        print(f"batch {key} {value}")
    print(json.dumps({"eval": "stream", "stream": stream, "batch": batch}))
    rows = [(label, stream.get(key, ""), batch.get(key, ""), target)
            for key, label, target in FIGURES]
    write_section(doc="quality", title="Streaming", command=invocation(), markdown=(
        f"The streaming job on the evaluation data's news web (`site/`) served live, each "
        f"outlet on a loopback host of its own, each feed showing one more item every "
        f"{args.step:g} s; the job polls (`--poll_interval {args.poll_interval:g} "
        f"--min_poll_interval {args.min_poll_interval:g}`) for {args.duration:g} s and drains. "
        f"Both scored on the {stream['articles_revealed']} items revealed meanwhile (the batch "
        "job ingests the whole site). Freshness: from an item's first appearance in its feed "
        f"to searchable (load average {stream['load_1min']} over the run, on 2 shared cores)."
        "\n\n" + table(["what", "streaming", "batch", "target (streaming)"], rows)))
    return 0


# The sink's counters of stories merged after their write (windows that raced), and of
# version conflicts met on the way.
COUNTERS = ("stories_reconciled", "docs_deleted", "stories_unreconciled", "docs_conflicts")

FIGURES = (  # (figure, label, target)
    ("articles_found", "share of articles found in their story", "1.0"),
    ("story_pair_precision", "story pair precision", ""),
    ("story_pair_recall", "story pair recall", ""),
    ("story_pair_f1", "story pair F1", "≥ 0.975"),
    ("freshness_p50_s", "freshness p50 (s)", ""),
    ("freshness_p95_s", "freshness p95 (s)", "≤ 8"),
    ("freshness_max_s", "freshness max (s)", ""),
    ("dead_letters", "dead letters", ""),
    ("stories_reconciled", "stories merged once written (windows that raced)", ""),
    ("docs_deleted", "stories absorbed into another, deleted", ""),
    ("stories_unreconciled", "stories left overlapping another", "0"),
)


if __name__ == "__main__":
    sys.exit(main())
