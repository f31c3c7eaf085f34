"""``make bench``: how fast the whole ingest job is, and how close it gets to its slowest stage.

The issue's targets on a 2-core machine are >= 100 articles/s from start to searchable with
extraction on, and the pipeline at >= 70 % of its slowest stage's standalone rate. This script
measures both, in one run, on a synthetic news web:

1. ``local.demosite.build_synthetic_web`` writes ``--feeds`` feeds of about
   ``--articles-per-feed`` articles (``--copy-rate`` of them copies) into a temporary folder,
   and ``python -m local.siteserver`` serves it on loopback from a separate process (so the
   server does not compete with the measured code for this process's GIL).
2. **End to end**: ``pipelines.launcher.run`` runs the whole batch job into a fresh
   index alias (``bench-<random>``) of the local node (or ``$ES_URL``), then the index is
   refreshed and its documents counted: articles/s from start to searchable.
3. **Each stage alone**, in plain Python without Beam, on the same inputs, one after the
   other in this one process: ``feeds`` (fetch and parse every feed), ``fetch`` (every article
   page, ``Fetcher.fetch_many``), ``extract`` (``extract_article`` on every page, as
   ``NormaliseArticles`` calls it; after ``warm_up``, timed apart, so that its rate is the
   steady one; twice, first and last of the stages, and the mean of both), ``dedupe``
   (fingerprints, clustering and story building, as ``newsflow dedupe`` does), ``index``
   (``helpers.bulk`` of the final story documents into another fresh alias, then a refresh).
4. **The Elasticsearch bulk ceiling**: ``helpers.parallel_bulk`` of the same documents; then
   **end to end again**, into another fresh alias. The pipeline's rate is the mean of its two
   runs, which sit on either side of the stages: a shared machine's speed drifts by a quarter
   within a minute, and this way the drift tilts neither side of the pipeline/stage ratio.
   Before it, **extraction on all cores at once** (``ExtractionPool``, one process per core):
   not a stage, but what the cores give together against one core alone, the ceiling of the
   ratio when extraction is the slowest stage.
5. **Peak RSS** of this process and of the largest other process of its tree.

Every rate is in articles per second (a stage that handles stories counts the articles they
hold), so rates compare across stages; the standalone dedupe skips the lookups of stored
stories in Elasticsearch that the pipeline's dedupe makes (the index is fresh, they find
nothing). CPU seconds come with every wall time because a shared machine makes wall time
noisy; ``--beam-args`` passes runner flags to the end-to-end run (e.g. ``"--runner=FnApiRunner
--direct_running_mode=multi_processing --direct_num_workers=2"``). Prints human-readable lines
on stderr, then ONE JSON line on stdout; asserts nothing. Every index it made is deleted.

    python bench/pipeline.py [--feeds 40] [--articles-per-feed 50] [--copy-rate 0.3] [--seed 1]
                             [--beam-args "--runner=FnApiRunner --direct_running_mode=..."]
                             [--no-stages]
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import resource
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newsflow import es  # noqa: E402
from newsflow.http import FetchConfig, Fetcher, FetchError, FetchResult  # noqa: E402
from pipelines.runners import quiet_runner_logs  # noqa: E402
from schemas.records import Article, FeedEntry, Story  # noqa: E402

# What `make run` passes for its own loopback site: no need to be gentle with our own server.
LOOPBACK_FLAGS = ["--per_host_concurrency", "16", "--per_host_delay", "0"]
LOOPBACK_FETCH = FetchConfig(per_host_concurrency=16, per_host_min_delay=0)
ES_BATCH = 500  # documents per bulk request, as --es_batch_size defaults
TARGET_RATE = 100.0  # articles/s end to end
TARGET_RATIO = 0.70  # pipeline rate / slowest stage rate


@dataclass
class Timed:
    """Wall and CPU seconds of a ``with timed()`` block (CPU: this process, all threads)."""

    seconds: float = 0.0
    cpu_seconds: float = 0.0

    def figures(self, articles: int) -> dict[str, float]:
        return {"seconds": round(self.seconds, 2), "cpu_seconds": round(self.cpu_seconds, 2),
                "articles_per_s": rate(articles, self.seconds)}


@contextmanager
def timed() -> Iterator[Timed]:
    out = Timed()
    wall, cpu = time.perf_counter(), time.process_time()
    yield out
    out.seconds = time.perf_counter() - wall
    out.cpu_seconds = time.process_time() - cpu


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def peak_rss_mb() -> dict[str, float]:
    """Peak resident set size so far: this process, and the largest other process of its tree
    (a child that has ended, or one that ``ProcessTree`` saw: the site server, the extraction
    workers and their fork server)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"self": round(own, 1), "largest_child": round(max(children, TREE.peak_kb / 1024), 1)}


class ProcessTree:
    """This process's live descendants, read from ``/proc`` (Linux; elsewhere it sees none).

    Extraction workers are children of a fork server, not of this process, so
    ``RUSAGE_CHILDREN`` misses their CPU and memory: :meth:`cpu_seconds` counts each live
    descendant's CPU and that of the children it has reaped, and :meth:`sample_forever` (in a
    thread) keeps the largest peak RSS (``VmHWM``) it has seen.
    """

    def __init__(self) -> None:
        self.peak_kb = 0
        self._tick = 1 / os.sysconf("SC_CLK_TCK")

    def descendants(self) -> dict[int, list[str]]:
        """pid -> the fields of /proc/pid/stat after the command name (field 3 onwards)."""
        table: dict[int, list[str]] = {}
        for entry in Path("/proc").glob("[0-9]*/stat"):
            try:
                table[int(entry.parent.name)] = entry.read_text().rpartition(")")[2].split()
            except OSError:
                continue  # ended meanwhile
        out: dict[int, list[str]] = {}
        parents = {os.getpid()}
        while found := {pid: f for pid, f in table.items()
                        if int(f[1]) in parents and pid not in out}:
            out |= found
            parents |= set(found)
        return out

    def cpu_seconds(self, only: set[int] | None = None, exclude: set[int] | None = None
                    ) -> float:
        """CPU of the live descendants (``only`` these pids, or all but ``exclude``)."""
        ticks = sum(sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
                    for pid, fields in self.descendants().items()
                    if (only is None or pid in only) and pid not in (exclude or set()))
        return ticks * self._tick

    def sample_forever(self, every: float = 0.25) -> None:
        while True:
            for pid in self.descendants():
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                for line in status.splitlines():
                    if line.startswith("VmHWM:"):
                        self.peak_kb = max(self.peak_kb, int(line.split()[1]))
            time.sleep(every)


TREE = ProcessTree()
SITE_SERVERS: set[int] = set()  # pids of serve()'s servers: their CPU is reported apart


def _stop_fork_server() -> None:
    """Stop the extraction workers' fork server (it outlives a job: a second job in the same
    process would start warm, which no `newsflow ingest` run does). A private API: a bench may."""
    from multiprocessing import forkserver

    stop = getattr(getattr(forkserver, "_forkserver", None), "_stop", None)
    if stop is not None:
        stop()


@contextmanager
def serve(root: Path) -> Iterator[str]:
    """Serve ``root`` with ``python -m local.siteserver`` in a child process; yield its URL.

    ``--warm``: the server reads and gzips every file before it prints its URL, as a web with
    precompressed files would have them: no measured run pays for it (else the first would).
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", "local.siteserver", "--warm", str(root)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    SITE_SERVERS.add(proc.pid)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http://"):
            raise RuntimeError(f"the site server did not start (exit {proc.poll()})")
        yield url
    finally:
        proc.send_signal(signal.SIGINT)  # serve() returns 0 on Ctrl-C
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def es_url() -> str:
    if url := os.environ.get("ES_URL"):
        return url
    from local import esnode

    return esnode.start().url


def count_docs(config: es.EsConfig) -> int:
    client = config.client()
    try:
        client.indices.refresh(index=config.index)
        return int(client.count(index=config.index)["count"])
    finally:
        client.close()


def rate(articles: int, seconds: float) -> float:
    return round(articles / seconds, 1) if seconds > 0 else 0.0


# --------------------------------------------------------------------------------------------
# End to end
# --------------------------------------------------------------------------------------------


def end_to_end(feeds_file: Path, config: es.EsConfig, dead_letters: Path,
               beam_args: list[str]) -> dict[str, Any]:
    """Run the batch job, refresh, count: from the call to searchable documents.

    CPU seconds: this process's (``cpu_seconds``); its other processes' (``children_cpu_seconds``:
    the extraction workers and their fork server, or the SDK workers of
    ``--direct_running_mode=multi_processing``); the site server's, apart.
    """
    from pipelines.launcher import run as ingest

    argv = ["--feeds", str(feeds_file), "--es_url", config.url, "--es_index", config.index,
            *LOOPBACK_FLAGS, "--feed_state", "false", "--dead_letters", str(dead_letters),
            *beam_args]
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    tree_before = TREE.cpu_seconds(exclude=SITE_SERVERS)
    server_before = TREE.cpu_seconds(only=SITE_SERVERS)
    with timed() as clock:
        summary = ingest(argv, quiet=True)
        if summary is None:
            raise RuntimeError("ingest could not start (see the message above)")
        docs = count_docs(config)
    for worker in multiprocessing.active_children():  # extraction workers exit on their own:
        worker.join(30)  # wait (untimed) so that their CPU is counted
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    child_cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    child_cpu += TREE.cpu_seconds(exclude=SITE_SERVERS) - tree_before
    server_cpu = TREE.cpu_seconds(only=SITE_SERVERS) - server_before
    _stop_fork_server()  # the next run starts cold, as every `newsflow ingest` does
    c = summary.counters
    return {
        "argv_extra": beam_args,
        **clock.figures(summary.articles),
        "children_cpu_seconds": round(child_cpu, 2),
        "site_server_cpu_seconds": round(server_cpu, 2),
        "pipeline_seconds": round(summary.elapsed, 2),
        "pipeline_articles_per_s": rate(summary.articles, summary.elapsed),
        "articles": summary.articles,
        "docs_searchable": docs,
        "docs_indexed": c.get("docs_indexed", 0),
        "feeds_fetched": c.get("feeds_fetched", 0),
        "feeds_failed": c.get("feeds_failed", 0),
        "entries": c.get("entries_parsed", 0),
        "articles_from_page": c.get("articles_from_page", 0),
        "articles_from_feed": c.get("articles_from_feed", 0),
        "stories": c.get("stories_new", 0),
        "copies_merged": c.get("copies_merged", 0),
        "dead_letters": summary.dead_letters,
    }


# --------------------------------------------------------------------------------------------
# Stages alone, plain Python
# --------------------------------------------------------------------------------------------


def fetch_and_parse_feeds(fetcher: Fetcher, urls: list[str]) -> list[FeedEntry]:
    """Every entry of every feed (FetchFeeds + ParseFeeds)."""
    from newsflow.feeds import FeedParseError, parse_feed

    entries: list[FeedEntry] = []
    for request, outcome in fetcher.fetch_many(urls):
        if not isinstance(outcome, FetchResult):
            continue
        try:
            feed = parse_feed(outcome.body, outcome.headers, str(request), outcome.final_url,
                              fetched_at=outcome.fetched_at)
        except FeedParseError:
            continue
        entries.extend(feed.entries)
    return entries


def fetch_pages(fetcher: Fetcher, entries: list[FeedEntry]) -> dict[str, FetchResult | FetchError]:
    """Every article page by URL (the network half of NormaliseArticles)."""
    urls = list(dict.fromkeys(entry.url for entry in entries))
    return {str(request): outcome for request, outcome in fetcher.fetch_many(urls)}


def extract(entries: list[FeedEntry], pages: dict[str, FetchResult | FetchError],
            ) -> list[Article]:
    """Every page's article, else the feed's text (the CPU half of NormaliseArticles)."""
    from newsflow.extract import article_from_feed, extract_article

    articles: list[Article] = []
    for entry in entries:
        page = pages.get(entry.url)
        article: Article | None = None
        if isinstance(page, FetchResult):
            article = extract_article(page.body, page.final_url, fetched_at=page.fetched_at,
                                      headers=page.headers, entry=entry, fetched_url=entry.url)
        if article is None or not article.body:
            article = article_from_feed(entry)
        if article.body:
            articles.append(article)
    return articles


def extract_on_all_cores(entries: list[FeedEntry], pages: dict[str, FetchResult | FetchError],
                         ) -> dict[str, Any]:
    """Extraction of the same pages in one process per core at once (``ExtractionPool``, as
    the pipeline runs it: ``EXTRACT_CHUNK`` pages to a task; timed once its workers are up):
    what this machine's cores give together, against one core alone. Not a stage of the ratio;
    it shows the ratio's ceiling."""
    from newsflow.extract import extract_article_or_error
    from newsflow.extract.pool import ExtractionPool
    from transforms.normalise import EXTRACT_CHUNK

    workers = os.cpu_count() or 1
    pool = ExtractionPool(workers)
    calls = [((page.body, page.final_url), {"fetched_at": page.fetched_at,
                                             "headers": page.headers, "entry": entry,
                                             "fetched_url": entry.url})
             for entry in entries if isinstance(page := pages.get(entry.url), FetchResult)]
    try:
        pool.wait_started()
        before = TREE.cpu_seconds(exclude=SITE_SERVERS)
        with timed() as clock:
            futures = [future for start in range(0, len(calls), EXTRACT_CHUNK)
                       for future in pool.submit_each(extract_article_or_error,
                                                      calls[start : start + EXTRACT_CHUNK])]
            done = sum(1 for f in futures if isinstance(f.result(), Article))
        cpu = TREE.cpu_seconds(exclude=SITE_SERVERS) - before
    finally:
        pool.shutdown()
        for worker in multiprocessing.active_children():
            worker.join(30)
        _stop_fork_server()  # else the next end-to-end run would find it warm
    return {"workers": workers, "pages": len(futures), "articles": done,
            "seconds": round(clock.seconds, 2), "workers_cpu_seconds": round(cpu, 2),
            "articles_per_s": rate(len(futures), clock.seconds)}


def dedupe(articles: list[Article], batch: int = 256) -> list[Story]:
    """Fingerprint in batches, cluster, one story per cluster (as ``newsflow dedupe`` does)."""
    from newsflow.dedupe import dedupe as assign
    from newsflow.dedupe.signature import fingerprints
    from newsflow.dedupe.story import Member, build_story, member_of

    members: list[Member] = []
    for i in range(0, len(articles), batch):
        chunk = articles[i : i + batch]
        prints = fingerprints([a.body for a in chunk])
        members += [member_of(a, fp) for a, fp in zip(chunk, prints, strict=True)]
    clusters: dict[str, list[Member]] = defaultdict(list)
    for member, assignment in zip(members, assign(m.entry for m in members), strict=True):
        clusters[assignment.cluster_id].append(member)
    return [build_story(sorted(group, key=lambda m: m.entry.key))[0]
            for group in clusters.values()]


def bulk_index(config: es.EsConfig, docs: list[tuple[str, bytes]], parallel: bool,
               ) -> tuple[int, Timed]:
    """Bulk the documents into a fresh alias, then refresh; (documents indexed, time taken).

    ``parallel``: ``helpers.parallel_bulk`` (the ceiling), else ``helpers.bulk`` in requests of
    ``ES_BATCH`` documents (what IndexArticles sends). The alias is deleted afterwards.
    """
    from elasticsearch import helpers

    actions = ({"_op_type": "index", "_index": config.index, "_id": doc_id, "_source": source}
               for doc_id, source in docs)
    es.ensure_index(config)
    client = config.client()
    try:
        with timed() as clock:
            if parallel:
                results = helpers.parallel_bulk(client, actions, chunk_size=ES_BATCH,
                                                raise_on_error=False)
                indexed = sum(1 for ok, _ in results if ok)
            else:
                indexed, _ = helpers.bulk(client, actions, chunk_size=ES_BATCH,
                                          raise_on_error=False, stats_only=True)
            client.indices.refresh(index=config.index)
        return indexed, clock
    finally:
        client.close()
        es.delete_index(config)


def stages(feed_urls: list[str], config: es.EsConfig
           ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every stage alone on the same web, one after the other; articles/s of each. Then
    extraction on every core at once (``extract_on_all_cores``)."""
    out: dict[str, Any] = {}
    with Fetcher(LOOPBACK_FETCH) as fetcher:
        with timed() as clock:
            entries = fetch_and_parse_feeds(fetcher, feed_urls)
        out["feeds"] = {"entries": len(entries), **clock.figures(len(entries))}
        with timed() as clock:
            pages = fetch_pages(fetcher, entries)
    ok = sum(1 for p in pages.values() if isinstance(p, FetchResult))
    out["fetch"] = {"pages": ok, "failed": len(pages) - ok, **clock.figures(len(pages))}
    from newsflow.extract import warm_up

    with timed() as clock:  # once per process (the pipeline's workers do it while feeds load)
        warm_up()
    warm = clock.seconds
    with timed() as clock:
        articles = extract(entries, pages)
    from_page = sum(1 for a in articles if a.body_source == "page")
    out["extract"] = {"articles": len(articles), "from_page": from_page,
                      "warm_up_seconds": round(warm, 2), **clock.figures(len(entries))}
    with timed() as clock:
        stories = dedupe(articles)
    out["dedupe"] = {"stories": len(stories), **clock.figures(len(articles))}
    docs = [(story.story_id, story.to_json()) for story in stories]
    held = sum(story.copy_count for story in stories)  # the articles the documents stand for
    for name, parallel in (("index", False), ("bulk_ceiling", True)):
        target = es.EsConfig(url=config.url, index=f"{config.index}-{name.replace('_', '')}")
        indexed, clock = bulk_index(target, docs, parallel)
        out[name] = {"docs": indexed, "docs_per_s": rate(indexed, clock.seconds),
                     **clock.figures(held)}
    # Extraction, the slowest stage, once more at the end: its rate is the mean of both passes,
    # as the pipeline's is of its two runs (a shared machine's speed drifts within a minute).
    with timed() as clock:
        extract(entries, pages)
    first, again = out["extract"], clock.figures(len(entries))
    first["runs_articles_per_s"] = [first["articles_per_s"], again["articles_per_s"]]
    first["articles_per_s"] = round(sum(first["runs_articles_per_s"]) / 2, 1)
    first["seconds"] = round((first["seconds"] + again["seconds"]) / 2, 2)
    first["cpu_seconds"] = round((first["cpu_seconds"] + again["cpu_seconds"]) / 2, 2)
    return out, extract_on_all_cores(entries, pages)


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def compare(report: dict[str, Any]) -> None:
    """Add the slowest stage and the pipeline's share of it to ``report``; print the verdict."""
    e2e = report["end_to_end"]
    runs = [e2e["articles_per_s"]] + ([report["end_to_end_again"]["articles_per_s"]]
                                      if "end_to_end_again" in report else [])
    e2e_rate = round(sum(runs) / len(runs), 1)
    report["end_to_end_articles_per_s"] = e2e_rate
    if "stages" in report:
        for name, figures in report["stages"].items():
            warm = (f"; mean of {figures['runs_articles_per_s']}, warm-up "
                    f"{figures['warm_up_seconds']:.2f}s before, not counted"
                    if "warm_up_seconds" in figures else "")
            say(f"  {name:<13}{figures['articles_per_s']:>9.1f} articles/s  "
                f"({figures['seconds']:.2f}s, CPU {figures['cpu_seconds']:.2f}s{warm})")
        standalone = {k: v for k, v in report["stages"].items() if k != "bulk_ceiling"}
        slowest = min(standalone, key=lambda k: standalone[k]["articles_per_s"])
        slowest_rate = standalone[slowest]["articles_per_s"]
        ratio = e2e_rate / slowest_rate if slowest_rate else 0.0
        report["slowest_stage"] = slowest
        report["pipeline_to_slowest_ratio"] = round(ratio, 3)
        say(f"slowest stage alone: {slowest} at {slowest_rate:.1f} articles/s; pipeline / "
            f"slowest = {ratio:.2f} (target >= {TARGET_RATIO:.2f})")
        every = report["extract_on_all_cores"]
        if every["articles_per_s"] and slowest == "extract":
            report["all_cores_speedup"] = round(every["articles_per_s"] / slowest_rate, 2)
            say(f"extraction alone on all {every['workers']} cores at once: "
                f"{every['articles_per_s']:.1f} articles/s, {report['all_cores_speedup']:.2f}x "
                f"one core (workers' CPU {every['workers_cpu_seconds']:.2f}s)")
    say(f"end to end {e2e_rate:.1f} articles/s (mean of {len(runs)} run(s): "
        f"{', '.join(f'{r:.1f}' for r in runs)}; target >= {TARGET_RATE:.0f}); "
        f"peak RSS {report['peak_rss_mb']['self']:.0f} MB here, "
        f"{report['peak_rss_mb']['largest_child']:.0f} MB largest child (site server or SDK "
        f"worker); load {report['load_1m']:.1f} -> {report['load_1m_end']:.1f} on "
        f"{report['cpus']} CPUs")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=40)
    parser.add_argument("--articles-per-feed", type=int, default=50)
    parser.add_argument("--copy-rate", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--beam-args", default="",
                        help="extra ingest flags, e.g. a --runner and its options (quoted)")
    parser.add_argument("--no-stages", action="store_true",
                        help="end to end only (no standalone stages, no bulk ceiling)")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    quiet_runner_logs()  # as the newsflow command does
    logging.getLogger("elastic_transport").setLevel(logging.CRITICAL)
    logging.getLogger("newsflow.feeds").setLevel(logging.ERROR)  # one feed is malformed on purpose
    import apache_beam  # noqa: F401  - imported before the clock, as a CLI start pays it once

    threading.Thread(target=TREE.sample_forever, daemon=True).start()

    from local.demosite import build_synthetic_web

    report: dict[str, Any] = {"bench": "pipeline", "feeds": args.feeds,
                              "articles_per_feed": args.articles_per_feed,
                              "copy_rate": args.copy_rate, "seed": args.seed,
                              "cpus": os.cpu_count(), "load_1m": round(os.getloadavg()[0], 2)}
    config = es.EsConfig(url=es_url(), index=f"bench-{uuid.uuid4().hex[:10]}")
    with tempfile.TemporaryDirectory(prefix="newsflow-bench-") as tmp:
        started = time.perf_counter()
        site = build_synthetic_web(Path(tmp) / "site", feeds=args.feeds,
                                   articles_per_feed=args.articles_per_feed,
                                   copy_rate=args.copy_rate, seed=args.seed)
        say(f"synthetic web: {len(site.feeds)} feeds, {len(site.articles)} articles "
            f"({site.copy_count} copies, {len(site.stories)} stories) "
            f"in {time.perf_counter() - started:.1f}s")
        report |= {"site_articles": len(site.articles), "site_stories": len(site.stories)}
        with serve(site.root) as base:
            urls = site.feed_urls(base)
            feeds_file = Path(tmp) / "feeds.txt"
            feeds_file.write_text("\n".join(urls) + "\n")
            def run_end_to_end(config: es.EsConfig) -> dict[str, Any]:
                try:
                    e2e = end_to_end(feeds_file, config, Path(tmp) / "dead.jsonl",
                                     shlex.split(args.beam_args))
                finally:
                    es.delete_index(config)
                say(f"end to end: {e2e['articles']} articles, {e2e['docs_searchable']} "
                    f"documents searchable in {e2e['seconds']:.1f}s = "
                    f"{e2e['articles_per_s']:.1f} articles/s (pipeline alone "
                    f"{e2e['pipeline_articles_per_s']:.1f}/s; CPU {e2e['cpu_seconds']:.1f}s "
                    f"here + {e2e['children_cpu_seconds']:.1f}s workers + "
                    f"{e2e['site_server_cpu_seconds']:.1f}s site server)")
                return e2e

            report["end_to_end"] = run_end_to_end(config)
            report["peak_rss_mb_after_end_to_end"] = peak_rss_mb()
            if not args.no_stages:
                report["stages"], report["extract_on_all_cores"] = stages(urls, config)
                # Again after the stages: a machine that speeds up or slows down during the
                # bench then tilts neither side of the ratio (compare() uses the mean).
                again = es.EsConfig(url=config.url, index=f"bench-{uuid.uuid4().hex[:10]}")
                report["end_to_end_again"] = run_end_to_end(again)
    report["peak_rss_mb"] = peak_rss_mb()  # the site server has ended: it counts now
    report["load_1m_end"] = round(os.getloadavg()[0], 2)
    compare(report)
    print(orjson.dumps(report).decode(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
