"""``make eval``: dedupe quality on the labelled set, with the scorer's own figures.

Runs the ``newsflow dedupe`` logic on ``$NEWSFLOW_EVAL_DATA/dedupe/articles.jsonl`` (default
``../shared/data``) and prints what ``score_dedupe.py`` says against ``gold.jsonl``: pair
precision, recall and F1, B-cubed F1 and canonical = original. Prints; asserts nothing.

usage: python eval/dedupe.py [--data DIR] [--scorer PATH] [--keep OUTPUT.jsonl]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eval.report import invocation, table, write_section  # noqa: E402
from newsflow.commands.dedupe import dedupe_lines  # noqa: E402
from newsflow.dedupe import Stats  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    default_data = Path(os.environ.get("NEWSFLOW_EVAL_DATA", ROOT.parent / "shared" / "data"))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=default_data, help="eval data directory")
    parser.add_argument("--scorer", type=Path, default=None, help="score_dedupe.py to use")
    parser.add_argument("--keep", type=Path, default=None, help="also write the output here")
    args = parser.parse_args(argv)
    folder = args.data / "dedupe"
    articles, gold = folder / "articles.jsonl", folder / "gold.jsonl"
    scorer = args.scorer or args.data.parent / "tools" / "score_dedupe.py"
    if not articles.exists():
        print(f"dedupe eval: no {articles}", file=sys.stderr)
        return 2
    stats = Stats()
    with tempfile.TemporaryDirectory() as tmp:
        out_path = args.keep or Path(tmp) / "dedupe-output.jsonl"
        started = time.perf_counter()
        with articles.open("rb") as src, out_path.open("wb") as dst:
            dedupe_lines(src, dst, stats)
        elapsed = time.perf_counter() - started
        print(f"dedupe eval on {articles}")
        print(
            f"stories {stats.stories} candidate_pairs {stats.candidate_pairs} "
            f"verified_pairs {stats.verified_pairs} seconds {elapsed:.2f}"
        )
        if not scorer.exists() or not gold.exists():
            print(f"no scorer or gold ({scorer}, {gold}): output in {out_path}")
            return 0
        done = subprocess.run(
            [sys.executable, str(scorer), str(gold), str(out_path)],
            capture_output=True,
            text=True,
            check=False,
        )
        sys.stdout.write(done.stdout)
        sys.stderr.write(done.stderr)
        if done.returncode == 0:
            scores = dict(line.split(None, 1) for line in done.stdout.splitlines()
                          if len(line.split()) == 2)
            rows = [(label, scores[key], target) for key, label, target in SCORES
                    if key in scores]
            rows.append(("stories / articles", f"{stats.stories} / {stats.articles}", ""))
            write_section(doc="quality", title="Dedupe", command=invocation(), markdown=(
                f"The labelled set `{articles.relative_to(args.data)}` against its gold "
                "clusters, scored by `score_dedupe.py`.\n\n"
                + table(["what", "figure", "target"], rows)))
        return done.returncode


SCORES = (  # (scorer's name, label, target)
    ("pair_precision", "pair precision", "≥ 0.99"),
    ("pair_recall", "pair recall", ""),
    ("pair_f1", "pair F1", "≥ 0.98"),
    ("bcubed_f1", "B-cubed F1", ""),
    ("canonical_is_original", "canonical = original", "≥ 0.95"),
)


if __name__ == "__main__":
    sys.exit(main())
