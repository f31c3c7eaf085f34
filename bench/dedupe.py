"""``make bench``: how fast dedupe is, on synthetic 1,000-word articles; prints JSON.

Two measurements:

* ``signatures``: fingerprints (tokens, shingles, MinHash, band keys) and candidate pairs on
  one core, in articles per second of CPU time;
* ``end_to_end``: ``newsflow dedupe`` run as a subprocess on synthetic JSON-lines files of
  10,000 and 100,000 articles (sizes configurable), wall and CPU time and peak RSS of that
  process (CPU time is the steadier figure on a shared machine),
  plus pair precision/recall against the generator's own gold clusters.

Synthetic stories: random words (50,000-word vocabulary, Zipf frequencies) in 12 paragraphs;
a fifth of the articles are copies of a recent story (wire copy with dateline, a paragraph cut
and a few words changed; aggregator re-post with page furniture, truncated; excerpt with "Read
more at"; correction). Prints; asserts nothing.

usage: python bench/dedupe.py [--sizes 10000,100000] [--signature_docs 3000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newsflow.dedupe import Entry  # noqa: E402
from newsflow.dedupe.cluster import candidate_pairs  # noqa: E402
from newsflow.dedupe.signature import fingerprints  # noqa: E402

WORDS_PER_ARTICLE = 1000
PARAGRAPHS = 12
COPY_SHARE = 0.2
VOCABULARY = 50_000
START = datetime(2024, 3, 1, tzinfo=UTC)


class Generator:
    """Deterministic synthetic articles and copies, with the gold story of each."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = np.random.default_rng(seed)
        letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
        lengths = self.rng.integers(2, 11, size=VOCABULARY)
        self.vocab = ["".join(self.rng.choice(letters, size=n)) for n in lengths]
        # Zipf's law with exponent 1, as in English text ("the" is about 7% of words).
        weights = 1.0 / np.arange(1, VOCABULARY + 1)
        self.cumulative = np.cumsum(weights / weights.sum())
        self.recent: list[dict[str, Any]] = []

    def original(self, i: int) -> dict[str, Any]:
        idx = np.searchsorted(self.cumulative, self.rng.random(WORDS_PER_ARTICLE))
        idx = np.minimum(idx, VOCABULARY - 1)
        words = [self.vocab[k] for k in idx.tolist()]
        step = WORDS_PER_ARTICLE // PARAGRAPHS
        paragraphs = [
            " ".join(words[p : p + step]).capitalize() + "." for p in range(0, len(words), step)
        ]
        when = START + timedelta(seconds=30 * i)
        return {
            "id": f"a{i}",
            "url": f"https://site{i % 97}.test/news/{i}",
            "title": " ".join(words[:8]),
            "body": "\n\n".join(paragraphs),
            "published_at": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "source": f"site{i % 97}.test",
            "_story": f"s{i}",
        }

    def copy(self, i: int, of: dict[str, Any]) -> dict[str, Any]:
        paragraphs = of["body"].split("\n\n")
        kind = int(self.rng.integers(0, 4))
        if kind == 0:  # wire copy: dateline, a paragraph cut, a few words changed
            cut_at = int(self.rng.integers(1, len(paragraphs)))
            kept = [p for j, p in enumerate(paragraphs) if j != cut_at]
            kept[0] = "SPRINGFIELD (Wire) — " + kept[0]
            kept = [p.replace(" the ", " this ", 1) for p in kept]
            body = "\n\n".join(kept)
        elif kind == 1:  # aggregator: furniture, truncated mid-word
            text = "\n\n".join(paragraphs)
            cut = int(len(text) * float(self.rng.uniform(0.3, 0.9)))
            furniture = "Share this\n\nPosted 2 hours ago"
            body = f"{paragraphs[0][:60]}\n\n{furniture}\n\n{text[:cut]}\n\nViews 120"
        elif kind == 2:  # excerpt
            body = "\n\n".join(paragraphs[:2]) + f"\n\nRead more at {of['source']}"
        else:  # correction
            body = of["body"] + "\n\nCorrection: an earlier version of this story misstated a date."
        delay = timedelta(minutes=int(self.rng.integers(5, 24 * 60)))
        when = datetime.fromisoformat(of["published_at"].replace("Z", "+00:00")) + delay
        return {
            "id": f"a{i}",
            "url": f"https://copies{i % 31}.test/item/{i}",
            "title": of["title"],
            "body": body,
            "published_at": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "source": f"copies{i % 31}.test",
            "_story": of["_story"],
        }

    def articles(self, n: int) -> Iterator[dict[str, Any]]:
        for i in range(n):
            if self.recent and self.rng.random() < COPY_SHARE:
                yield self.copy(i, self.recent[int(self.rng.integers(0, len(self.recent)))])
                continue
            article = self.original(i)
            self.recent.append(article)
            if len(self.recent) > 500:
                self.recent.pop(0)
            yield article


def bench_signatures(n: int) -> dict[str, Any]:
    docs = [a for a in Generator(seed=1).articles(n)]
    bodies = [d["body"] for d in docs]
    started = time.process_time()
    prints = []
    for i in range(0, len(bodies), 256):
        prints += fingerprints(bodies[i : i + 256])
    sig_cpu = time.process_time() - started
    entries = [
        Entry(str(k), d["url"], d["source"], None, fp)
        for k, (d, fp) in enumerate(zip(docs, prints, strict=True))
    ]
    started = time.process_time()
    pairs = sum(1 for _ in candidate_pairs(entries))
    cand_cpu = time.process_time() - started
    words = sum(len(b.split()) for b in bodies) / len(bodies)
    return {
        "articles": n,
        "mean_words": round(words),
        "signatures_per_s": round(n / sig_cpu),
        "candidates_per_s": round(n / cand_cpu),
        "signatures_and_candidates_per_s": round(n / (sig_cpu + cand_cpu)),
        "candidate_pairs": pairs,
    }


def write_corpus(path: Path, n: int) -> dict[str, str]:
    gold: dict[str, str] = {}
    with path.open("wb") as out:
        for article in Generator(seed=n).articles(n):
            row = {k: v for k, v in article.items() if k != "_story"}
            gold[article["id"]] = article["_story"]
            out.write(orjson.dumps(row) + b"\n")
    return gold


def pair_scores(gold: dict[str, str], predicted: dict[str, str]) -> dict[str, float]:
    def pairs(assign: dict[str, str]) -> set[tuple[str, str]]:
        groups: dict[str, list[str]] = defaultdict(list)
        for key, cluster in assign.items():
            groups[cluster].append(key)
        return {tuple(sorted(p)) for g in groups.values() for p in combinations(g, 2)}  # type: ignore[misc]

    g, p = pairs(gold), pairs(predicted)
    tp = len(g & p)
    precision = tp / len(p) if p else 1.0
    recall = tp / len(g) if g else 1.0
    return {"pair_precision": round(precision, 4), "pair_recall": round(recall, 4)}


def bench_end_to_end(n: int, folder: Path) -> dict[str, Any]:
    corpus, output = folder / f"articles-{n}.jsonl", folder / f"dedupe-{n}.jsonl"
    gold = write_corpus(corpus, n)
    command = [sys.executable, "-m", "newsflow.cli", "dedupe", "--input", str(corpus),
               "--output", str(output)]
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    predicted = {}
    for line in output.read_bytes().splitlines():
        row = orjson.loads(line)
        predicted[row["id"]] = row["cluster_id"]
    return {
        "articles": n,
        "exit_status": proc.returncode,
        "seconds": round(elapsed, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "articles_per_s": round(n / elapsed),
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
        "stories": len(set(predicted.values())),
        "gold_stories": len(set(gold.values())),
        **pair_scores(gold, predicted),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="end-to-end corpus sizes")
    parser.add_argument("--signature_docs", type=int, default=3000)
    parser.add_argument("--keep", type=Path, default=None, help="keep corpora in this folder")
    args = parser.parse_args(argv)
    report: dict[str, Any] = {"signatures": bench_signatures(args.signature_docs)}
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        runs = [bench_end_to_end(int(n), folder) for n in args.sizes.split(",") if n]
    report["end_to_end"] = runs
    if len(runs) >= 2:
        small, large = runs[0], runs[-1]
        report["growth"] = {
            "articles_ratio": round(large["articles"] / small["articles"], 1),
            "time_ratio": round(large["seconds"] / max(small["seconds"], 1e-9), 1),
            "cpu_time_ratio": round(large["cpu_seconds"] / max(small["cpu_seconds"], 1e-9), 1),
        }
    print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
    from eval.report import invocation, table, write_section

    sig = report["signatures"]
    rows = [(f"{r['articles']:,} articles", f"{r['seconds']} s", f"{r['cpu_seconds']} s",
             f"{r['peak_rss_mb']} MB", f"{r['pair_precision']} / {r['pair_recall']}")
            for r in runs]
    write_section(doc="performance", title="Dedupe", command=invocation(), markdown=(
        "`newsflow dedupe` on synthetic 1,000-word articles (a fifth of them copies) in one "
        "process. Fingerprints and candidate pairs alone: "
        f"{sig['signatures_and_candidates_per_s']} articles per CPU second.\n\n"
        + table(["corpus", "wall", "CPU", "peak RSS", "pair precision / recall"], rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
