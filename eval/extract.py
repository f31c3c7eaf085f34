"""Extraction quality and speed on the shared evaluation sets (prints figures, asserts nothing).

For each set under ``$NEWSFLOW_EVAL_DATA`` (default ``../shared/data`` next to the repository)
that has ``pages.jsonl`` and ``ground-truth.json`` (``extraction``, ``aggregator-pages``), runs
:func:`newsflow.extract.extract_article` on every page and prints bag-of-tokens precision,
recall and F1 averaged over pages (as the ScrapingHub benchmark and
``../shared/tools/score_extract.py`` do), and pages per CPU-second (one core).

Speed on a shared machine drifts by a quarter from one minute to the next, so it is measured
as the best of three passes, alternating with the reference: trafilatura alone in fast mode on
the same pages (what the issue's "trafilatura alone" figure is). The ratio of the two is the
stable figure; ``ours = ratio x reference``.

    python eval/extract.py [--sets extraction aggregator-pages] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import trafilatura  # noqa: E402

from newsflow.extract import extract_article  # noqa: E402


def _tokens(text: str) -> Counter[str]:
    return Counter(re.findall(r"\w+", (text or "").lower()))


def prf(pred: str, gold: str) -> tuple[float, float, float]:
    p, g = _tokens(pred), _tokens(gold)
    overlap = sum((p & g).values())
    precision = overlap / sum(p.values()) if p else 0.0
    recall = overlap / sum(g.values()) if g else 0.0
    f1 = 2 * precision * recall / (precision + recall) if overlap else 0.0
    return precision, recall, f1


def run_set(directory: Path, out: Path | None) -> None:
    pages = [json.loads(line) for line in open(directory / "pages.jsonl", encoding="utf-8")]
    gold = json.load(open(directory / "ground-truth.json", encoding="utf-8"))
    fetched_at = datetime.now(UTC)
    bodies: dict[str, str] = {}

    def ours() -> None:
        for page in pages:
            article = extract_article(page["html"], page["url"], fetched_at=fetched_at)
            bodies[str(page["id"])] = article.body

    def reference() -> None:
        for page in pages:
            trafilatura.extract(page["html"], url=page["url"], fast=True, include_comments=False)

    extract_article(pages[0]["html"], pages[0]["url"], fetched_at=fetched_at)  # warm up models
    trafilatura.extract(pages[0]["html"], url=pages[0]["url"], fast=True)
    cpu = ref_cpu = float("inf")
    for _ in range(3):
        start = time.process_time()
        ours()
        cpu = min(cpu, time.process_time() - start)
        start = time.process_time()
        reference()
        ref_cpu = min(ref_cpu, time.process_time() - start)
    rate, reference_rate = len(pages) / cpu, len(pages) / ref_cpu
    rows = [prf(bodies.get(k, ""), v["articleBody"]) for k, v in gold.items()]
    n = len(rows)
    print(f"{directory.name}: pages {n}  precision {sum(r[0] for r in rows) / n:.4f}  "
          f"recall {sum(r[1] for r in rows) / n:.4f}  f1 {sum(r[2] for r in rows) / n:.4f}  "
          f"pages/s per core {rate:.1f} (trafilatura alone, fast mode, same run: "
          f"{reference_rate:.1f}; ratio {rate / reference_rate:.2f})")
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        with open(out / f"{directory.name}.jsonl", "w", encoding="utf-8") as fh:
            for key, body in bodies.items():
                fh.write(json.dumps({"id": key, "body": body}, ensure_ascii=False) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="*", default=["extraction", "aggregator-pages"])
    parser.add_argument("--out", type=Path, default=None, help="also write <set>.jsonl here")
    args = parser.parse_args()
    data = Path(os.environ.get("NEWSFLOW_EVAL_DATA", ROOT.parent / "shared" / "data"))
    for name in args.sets:
        directory = data / name
        if not (directory / "pages.jsonl").exists():
            print(f"{name}: no data at {directory}")
            continue
        run_set(directory, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
