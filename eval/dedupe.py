"""``make eval``: dedupe quality on labelled sets, with the scorer's own figures.

Runs the ``newsflow dedupe`` logic and ``score_dedupe.py`` (pair precision, recall and F1,
B-cubed F1, canonical = original) on:

- ``$NEWSFLOW_EVAL_DATA/dedupe`` (default ``../shared/data``), whole, and split in two halves
  by a hash of each gold cluster's id: rules are chosen looking at the *dev* half's errors only,
  and the *confirm* half says whether they hold on stories not looked at;
- sets built like it from other articles (``eval/variants.py``: other outlets, years and
  languages, copies made the ways ``dedupe/`` shows them): seed 21 beside the dev half, seed 22
  beside the confirm half.

Prints; asserts nothing.

usage: python eval/dedupe.py [--data DIR] [--scorer PATH] [--keep OUTPUT.jsonl]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eval import variants  # noqa: E402
from eval.report import invocation, table, write_section  # noqa: E402
from newsflow.commands.dedupe import dedupe_lines  # noqa: E402
from newsflow.dedupe import Stats  # noqa: E402


def half(cluster: str) -> str:
    """``dev`` or ``confirm``: which half of a labelled set a gold cluster belongs to."""
    return ("dev", "confirm")[int(hashlib.sha1(cluster.encode()).hexdigest(), 16) % 2]


def score(scorer: Path, articles: list[dict[str, Any]], gold: list[dict[str, Any]],
          work: Path, keep: Path | None = None) -> tuple[dict[str, str], Stats, str]:
    """Dedupe ``articles``, score against ``gold``: the scorer's figures, the run's counts and
    what the scorer printed."""
    work.mkdir(parents=True, exist_ok=True)
    articles_path, gold_path = work / "articles.jsonl", work / "gold.jsonl"
    articles_path.write_text("".join(json.dumps(a) + "\n" for a in articles))
    gold_path.write_text("".join(json.dumps(g) + "\n" for g in gold))
    out_path = keep or work / "output.jsonl"
    stats = Stats()
    with articles_path.open("rb") as src, out_path.open("wb") as dst:
        dedupe_lines(src, dst, stats)
    done = subprocess.run([sys.executable, str(scorer), str(gold_path), str(out_path)],
                          capture_output=True, text=True, check=True)
    figures = dict(line.split(None, 1) for line in done.stdout.splitlines()
                   if len(line.split()) == 2)
    return figures, stats, done.stdout


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> int:
    default_data = Path(os.environ.get("NEWSFLOW_EVAL_DATA", ROOT.parent / "shared" / "data"))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=default_data, help="eval data directory")
    parser.add_argument("--scorer", type=Path, default=None, help="score_dedupe.py to use")
    parser.add_argument("--keep", type=Path, default=None,
                        help="also write the output on the whole labelled set here")
    args = parser.parse_args(argv)
    folder = args.data / "dedupe"
    scorer = args.scorer or args.data.parent / "tools" / "score_dedupe.py"
    if not (folder / "articles.jsonl").exists() or not scorer.exists():
        print(f"dedupe eval: no {folder / 'articles.jsonl'} or {scorer}", file=sys.stderr)
        return 2
    articles, gold = load(folder / "articles.jsonl"), load(folder / "gold.jsonl")
    side = {g["id"]: half(g["cluster"]) for g in gold}
    sets: list[tuple[str, list[dict[str, Any]], list[dict[str, Any]]]] = [
        ("`dedupe/`", articles, gold),
        *((f"`dedupe/`, {name} half", [a for a in articles if side[a["id"]] == name],
           [g for g in gold if side[g["id"]] == name]) for name in ("dev", "confirm")),
    ]
    if (args.data / "extraction-wceb" / "ground-truth.json").exists():
        for seed, name in ((21, "dev"), (22, "confirm")):
            sets.append((f"variants, seed {seed} ({name})", *variants.build(args.data, seed=seed)))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, (label, items, labels) in enumerate(sets):
            started = time.perf_counter()
            figures, stats, printed = score(scorer, items, labels, Path(tmp) / str(n),
                                            args.keep if n == 0 else None)
            elapsed = time.perf_counter() - started
            print(f"dedupe eval on {label}: stories {stats.stories} candidate_pairs "
                  f"{stats.candidate_pairs} verified_pairs {stats.verified_pairs} "
                  f"seconds {elapsed:.2f}")
            sys.stdout.write(printed)
            rows.append((label, figures["pair_precision"], figures["pair_recall"],
                         figures["pair_f1"], figures["bcubed_f1"],
                         figures["canonical_is_original"], f"{stats.stories} / {stats.articles}"))
    write_section(doc="quality", title="Dedupe", command=invocation(), markdown=(
        "Labelled sets against their gold clusters, scored by `score_dedupe.py`. Rules are "
        "chosen on the errors of the dev half of `dedupe/` (clusters split by a hash of their "
        "id) and of variants seed 21 (`eval/variants.py`: other articles, copied the ways "
        "`dedupe/` shows); the confirm half, seed 22 and the end-to-end checks on the site "
        "say whether they hold. Targets: pair precision ≥ 0.995, pair F1 ≥ 0.99, canonical = "
        "original ≥ 0.97.\n\n"
        + table(["set", "pair precision", "pair recall", "pair F1", "B-cubed F1",
                 "canonical = original", "stories / articles"], rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
