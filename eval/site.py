"""End-to-end check on a loopback news web with known answers (`make eval`).

Serves ``$NEWSFLOW_EVAL_DATA/site`` with ``../shared/tools/serve_site.py`` (or the site server
of this project when that tool is absent), ingests its ``feeds.txt`` into a fresh index alias,
then reads the index back and reports, against ``expected.json``:

- articles found: every article must appear in its story's ``copies`` (by its canonical URL or
  the URL it was fetched from);
- story pair precision / recall / F1 over the stories the index holds;
- search: a phrase from each story's title, alone and within a one-day date range around its
  publication, finds the story in the top three.

Prints one line per figure and a JSON line; asserts nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from itertools import combinations
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from eval.report import invocation, table, write_section  # noqa: E402
from local import esnode  # noqa: E402
from newsflow import es  # noqa: E402
from pipelines import launcher, runners  # noqa: E402


def data_dir() -> Path:
    return Path(os.environ.get("NEWSFLOW_EVAL_DATA", REPO.parent / "shared" / "data"))


def serve(site: Path, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start the site server in its own process; return it and its base URL."""
    tool = data_dir().parent / "tools" / "serve_site.py"
    portfile = workdir / "port"
    if tool.exists():
        cmd = [sys.executable, str(tool), str(site), str(portfile), str(workdir / "requests.log")]
    else:
        cmd = [sys.executable, "-m", "local.siteserver", str(site), "--port_file", str(portfile)]
    proc = subprocess.Popen(cmd)
    for _ in range(100):
        if portfile.exists() and portfile.read_text().strip():
            return proc, f"http://127.0.0.1:{portfile.read_text().strip()}"
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the site server did not start")


def serve_many_hosts(tool: str, args: list[str], workdir: Path,
                     env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], Path]:
    """Start a shared tool (``serve_site.py``, ``serve_live.py``) with ``HOSTS=1``, each outlet
    on its own 127.0.1.N; the process and the feed list it writes to ``PORTFILE.feeds``.
    ``args`` come before the port file (the site), and its log goes after it."""
    path = data_dir().parent / "tools" / tool
    if not path.exists():
        raise RuntimeError(f"no {path}: this check needs the shared {tool}")
    portfile = workdir / "port"
    proc = subprocess.Popen(
        [sys.executable, str(path), *args[:1], str(portfile), *args[1:]],
        env={**os.environ, "HOSTS": "1", **(env or {})},
    )
    feeds = Path(f"{portfile}.feeds")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if portfile.exists() and portfile.read_text().strip() and feeds.exists():
            return proc, feeds
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{tool} did not start")


def all_stories(config: es.EsConfig) -> list[dict[str, Any]]:
    client = config.client()
    client.indices.refresh(index=config.index)
    resp = client.search(
        index=config.index,
        size=10000,
        query={"match_all": {}},
        source_excludes=["body", "band_keys", "copies.body"],
    )
    client.close()
    return [h["_source"] for h in resp["hits"]["hits"]]


def story_of_article(
    stories: list[dict[str, Any]], expected: dict[str, dict[str, Any]]
) -> dict[str, str]:
    """The story id each expected article landed in (articles not found are left out): by its
    canonical URL, or by the page path it was fetched from."""
    by_url: dict[str, str] = {}
    by_path: dict[str, str] = {}
    for story in stories:
        for copy in story.get("copies") or []:
            by_url[copy["url"]] = story["story_id"]
            for u in (copy.get("fetched_url"), copy["url"]):
                if u:
                    by_path[urlsplit(u).path] = story["story_id"]
    found: dict[str, str] = {}
    for aid, art in expected.items():
        sid = by_url.get(art["url"]) or by_path.get(art["path"])
        if sid:
            found[aid] = sid
    return found


def pair_scores(gold: dict[str, str], predicted: dict[str, str]) -> tuple[float, float, float]:
    def pairs(assign: dict[str, str]) -> set[tuple[str, str]]:
        groups: dict[str, list[str]] = {}
        for item, cluster in assign.items():
            groups.setdefault(cluster, []).append(item)
        return {tuple(sorted(p)) for g in groups.values() for p in combinations(g, 2)}  # type: ignore[misc]

    g, p = pairs(gold), pairs(predicted)
    tp = len(g & p)
    precision = tp / len(p) if p else 1.0
    recall = tp / len(g) if g else 1.0
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    return precision, recall, f1


def evaluate(site: Path, es_url: str, only: set[str] | None = None) -> dict[str, Any]:
    """The batch job's figures on ``site``; with ``only``, the story pairs are scored on those
    articles alone (the whole site is ingested all the same)."""
    expected = json.loads((site / "expected.json").read_text())["articles"]
    alias = f"eval-site-{uuid.uuid4().hex[:8]}"
    config = es.EsConfig(url=es_url, index=alias)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        proc, base = serve(site, workdir)
        try:
            feeds = workdir / "feeds.txt"
            feeds.write_text((site / "feeds.txt").read_text().replace("{BASE}", base))
            started = time.monotonic()
            summary = launcher.run(
                [
                    "--feeds",
                    str(feeds),
                    "--es_url",
                    es_url,
                    "--es_index",
                    alias,
                    "--per_host_concurrency",
                    "16",
                    "--per_host_delay",
                    "0",
                    "--http_timeout",
                    "5",
                    "--http_retries",
                    "1",
                    "--http_allow_hosts",
                    "127.0.0.1/32",
                    "--dead_letters",
                    str(workdir / "dead.jsonl"),
                ],
                quiet=True,
            )
            elapsed = time.monotonic() - started
        finally:
            proc.terminate()
            proc.wait()
        stories = all_stories(config)
    found = story_of_article(stories, expected)
    gold = {aid: art["story"] for aid, art in expected.items() if only is None or aid in only}
    predicted = {aid: found.get(aid, f"missing:{aid}") for aid in gold}
    precision, recall, f1 = pair_scores(gold, predicted)
    # Search: each gold story's original title, as a phrase, then within its publication day.
    phrase_hits = day_hits = total = 0
    originals = [a for a in expected.values() if a["original"]]
    for art in originals:
        sid = found.get(next(k for k, v in expected.items() if v is art))
        if not sid:
            total += 1
            continue
        words = " ".join(art["title"].split()[:6])
        total += 1
        hits = es.search(config, f'"{words}"', size=3)["hits"]
        phrase_hits += any(h["story_id"] == sid for h in hits)
        day = art["published_at"][:10]
        hits = es.search(config, words, date_from=day, date_to=day, size=3)["hits"]
        day_hits += any(h["story_id"] == sid for h in hits)
    es.delete_index(config)
    return {
        "articles": len(gold),
        "articles_found": round(sum(1 for aid in gold if aid in found) / len(gold), 4),
        "stories_indexed": len(stories),
        "story_pair_precision": round(precision, 4),
        "story_pair_recall": round(recall, 4),
        "story_pair_f1": round(f1, 4),
        "phrase_search_found": round(phrase_hits / total, 4) if total else None,
        "day_search_found": round(day_hits / total, 4) if total else None,
        "dead_letters": summary.dead_letters if summary else None,
        "ingest_seconds": round(elapsed, 1),
    }


def main() -> int:
    runners.quiet_runner_logs()
    site = data_dir() / "site"
    if not (site / "expected.json").exists():
        print(f"no site at {site}: set NEWSFLOW_EVAL_DATA", file=sys.stderr)
        return 1
    es_url = os.environ.get("ES_URL") or esnode.start().url
    figures = evaluate(site, es_url)
    for key, value in figures.items():
        print(f"site {key} {value}")
    print(json.dumps({"eval": "site", **figures}))
    rows = [(label, figures[key], target) for key, label, target in FIGURES]
    write_section(doc="quality", title="End to end", command=invocation(), markdown=(
        f"The batch job on the evaluation data's news web (`site/`, {figures['articles']} "
        "articles) served on loopback, read back from the index.\n\n"
        + table(["what", "figure", "target"], rows)))
    return 0


FIGURES = (  # (figure, label, target)
    ("articles_found", "share of articles found in their story", "≥ 0.99"),
    ("story_pair_precision", "story pair precision", ""),
    ("story_pair_recall", "story pair recall", ""),
    ("story_pair_f1", "story pair F1", "≥ 0.985"),
    ("phrase_search_found", "a title phrase finds its story (top 3)", ""),
    ("day_search_found", "... within its publication day", ""),
    ("dead_letters", "dead letters", ""),
)


if __name__ == "__main__":
    sys.exit(main())
