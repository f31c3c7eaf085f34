"""``make bench``: the batch job on the web users have, against the script they would write.

The web: ``build_bigsite.py`` from the shared tools (2,000 stories, 30 % republished copies,
60 KB pages of real sentences and heavy page chrome, 40 outlets), served by the shared
``serve_site.py`` with ``HOSTS=1``: each outlet on its own loopback address 127.0.1.N, so the
job's politeness applies per outlet as it would on the real web. Measured in one run:

1. **naive**: ``naive_ingest.py``, what a user would write (feedparser, urllib, trafilatura and
   a bulk request, one page at a time, not polite, no dedupe); its own timer.
2. **newsflow, default flags** (2 requests in flight and 0.25 s apart per host, robots.txt),
   a fresh alias; allowed to fetch from loopback (``--http_allow_hosts``) and nothing else.
3. **newsflow, politeness off** (``--per_host_delay 0 --per_host_concurrency 16``).

newsflow's time is the job's own (from building the pipeline to its end, the summary's
``elapsed``), as the naive script's is its own (after its imports). For each run: articles,
seconds, articles/s, the ratio to the naive script, the CPU of its whole process tree (the
extraction workers are the fork server's children, which ``RUSAGE_CHILDREN`` misses) and that
CPU over wall time and cores, and the tree's peak RSS (the sum over its processes, sampled).
The floor that politeness sets on this web is printed too: the busiest host's requests times the
delay. Prints a table, writes the "Batch end to end" section of ``docs/performance.md``, asserts
nothing, deletes the indices it made.

    python bench/pipeline.py [--stories 2000] [--copy-rate 0.3] [--skip-naive] [--skip-off]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eval.report import table, write_section  # noqa: E402

DATA = Path(os.environ.get("NEWSFLOW_EVAL_DATA", ROOT.parent / "shared" / "data"))
TOOLS = Path(os.environ.get("NEWSFLOW_SHARED_TOOLS", DATA.parent / "tools"))
CACHE = ROOT / "var" / "bench"
LOOPBACK = "127.0.0.0/8"
NEWSFLOW = [sys.executable, "-m", "newsflow.cli", "ingest"]
POLITENESS_OFF = ["--per_host_delay", "0", "--per_host_concurrency", "16"]
TARGET_RATE, TARGET_RATIO, TARGET_OFF_RATIO, TARGET_RSS_MB = 100.0, 1.2, 2.0, 1536


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def build_web(stories: int, copy_rate: float) -> Path:
    """The shared big web, built once into var/bench (the build is deterministic)."""
    web = CACHE / f"bigsite-{stories}-{copy_rate}"
    if not (web / "feeds.txt").is_file():
        say(f"building the web ({stories} stories) into {web} ...")
        subprocess.run([sys.executable, str(TOOLS / "build_bigsite.py"), str(DATA), str(web),
                        str(stories), str(copy_rate)], check=True, stdout=subprocess.DEVNULL)
    return web


class Server:
    """``HOSTS=1 serve_site.py``: each outlet on 127.0.1.N; ``feeds`` is the usable list."""

    def __init__(self, web: Path, work: Path) -> None:
        self.web = web
        portfile = work / "port"
        self.log = work / "serve.log"
        self.proc = subprocess.Popen(
            [sys.executable, str(TOOLS / "serve_site.py"), str(web), str(portfile),
             str(self.log)], env={**os.environ, "HOSTS": "1"}, stdout=subprocess.DEVNULL)
        listed = Path(str(portfile) + ".feeds")
        deadline = time.monotonic() + 60
        while not (portfile.exists() and listed.exists()):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("the site server did not start")
            time.sleep(0.1)
        # The broken, malformed and never-answering feeds stay out: they measure nothing here.
        urls = [u for u in listed.read_text().split()
                if not re.search(r"/error/|/slow/|malformed", u)]
        self.feeds = work / "feeds.txt"
        self.feeds.write_text("\n".join(urls) + "\n")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)

    def busiest_host(self) -> tuple[str, int]:
        """The host a job must ask most, and how often: its robots.txt, its feeds and the page
        of each of their items."""
        per_host: Counter[str] = Counter()
        for url in self.feeds.read_text().split():
            host = url.split("/")[2]
            path = Path(url.split(host, 1)[1].lstrip("/"))
            body = (self.web / path).read_text(encoding="utf-8", errors="replace")
            per_host[host] += 1 + len(re.findall(r"<item>|<entry>", body))
        host, n = per_host.most_common(1)[0]
        return host, n + 1  # and its robots.txt


class Tree:
    """CPU seconds and summed RSS of a process and all its descendants, sampled from /proc."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.cpu: dict[int, float] = {}  # last seen CPU of each process of the tree
        self.peak_rss_kb = 0
        self._tick = 1 / os.sysconf("SC_CLK_TCK")
        self._page_kb = os.sysconf("SC_PAGE_SIZE") // 1024
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _members(self) -> dict[int, list[str]]:
        table: dict[int, list[str]] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                table[int(stat.parent.name)] = stat.read_text().rpartition(")")[2].split()
            except OSError:
                continue
        out = {self.pid: table[self.pid]} if self.pid in table else {}
        while found := {p: f for p, f in table.items() if int(f[1]) in out and p not in out}:
            out |= found
        return out

    def _sample(self) -> None:
        while not self._done.is_set():
            rss = 0
            for pid, fields in self._members().items():
                # utime and stime: its own CPU. Not cutime/cstime: a child it reaps (the fork
                # server's workers at the end) is in the tree already and would count twice.
                self.cpu[pid] = (int(fields[11]) + int(fields[12])) * self._tick
                rss += int(fields[21]) * self._page_kb
            self.peak_rss_kb = max(self.peak_rss_kb, rss)
            self._done.wait(0.2)

    def stop(self) -> None:
        self._done.set()
        self._thread.join()

    @property
    def cpu_seconds(self) -> float:
        return sum(self.cpu.values())


def run_measured(argv: list[str], label: str) -> tuple[str, float, Tree]:
    """Run a command, sampling its process tree; its output, wall seconds and tree."""
    say(f"{label} ...")
    started = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=ROOT)
    tree = Tree(proc.pid)
    out, _ = proc.communicate()
    wall = time.monotonic() - started
    tree.stop()
    if proc.returncode != 0:
        say(out[-3000:])
        raise RuntimeError(f"{label} failed (exit {proc.returncode})")
    return out, wall, tree


def figure(label: str, articles: int, seconds: float, wall: float, tree: Tree,
           naive_seconds: float | None) -> dict[str, Any]:
    cores = os.cpu_count() or 1
    return {
        "run": label, "articles": articles, "seconds": round(seconds, 1),
        "articles_per_s": round(articles / seconds, 1) if seconds else 0.0,
        "vs_naive": round(naive_seconds / seconds, 2) if naive_seconds and seconds else None,
        "wall_s": round(wall, 1), "cpu_s": round(tree.cpu_seconds, 1),
        "cpu_use": round(tree.cpu_seconds / wall / cores, 2) if wall else 0.0,
        "peak_rss_mb": round(tree.peak_rss_kb / 1024),
    }


def newsflow_run(feeds: Path, label: str, extra: list[str], naive: float | None,
                 es_url: str, work: Path) -> dict[str, Any]:
    alias = f"bench-{uuid.uuid4().hex[:8]}"
    argv = [*NEWSFLOW, "--feeds", str(feeds), "--es_url", es_url, "--es_index", alias,
            "--http_allow_hosts", LOOPBACK, "--dead_letters", str(work / f"{alias}.jsonl"),
            *extra]
    try:
        out, wall, tree = run_measured(argv, label)
    finally:
        _delete(es_url, alias)
    counters = dict(re.findall(r"^(\w[\w ]*?)\s{2,}(\d+)", out, flags=re.MULTILINE))
    elapsed = float(re.search(r"^elapsed\s+([\d.]+)s", out, flags=re.MULTILINE)[1])  # type: ignore[index]
    articles = int(counters.get("articles from pages", 0)) + int(
        counters.get("articles from feed text", 0))
    row = figure(label, articles, elapsed, wall, tree, naive)
    row["stories"] = int(counters.get("documents indexed", 0))
    return row


def _delete(es_url: str, alias: str) -> None:
    """The indices a run made: a newsflow alias's, its feed state, or the naive script's."""
    import urllib.request

    for index in (f"{alias}-0*", f"{alias}_feeds", alias):
        request = urllib.request.Request(f"{es_url}/{index}?ignore_unavailable=true",
                                         method="DELETE")
        try:
            urllib.request.urlopen(request, timeout=30).close()
        except OSError:
            pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stories", type=int, default=2000)
    parser.add_argument("--copy-rate", type=float, default=0.3)
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--skip-off", action="store_true", help="no politeness-off run")
    args = parser.parse_args()
    es_url = os.environ.get("ES_URL") or _local_node()
    web = build_web(args.stories, args.copy_rate)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="newsflow-bench-") as tmp:
        work = Path(tmp)
        server = Server(web, work)
        try:
            host, requests = server.busiest_host()
            floor = (requests - 1) * 0.25
            naive = None
            if not args.skip_naive:
                alias = f"bench-naive-{uuid.uuid4().hex[:8]}"
                try:
                    out, wall, tree = run_measured(
                        [sys.executable, str(TOOLS / "naive_ingest.py"), str(server.feeds),
                         es_url, alias], "naive script")
                finally:
                    _delete(es_url, alias)
                found = re.search(r"articles (\d+) seconds ([\d.]+)", out)
                assert found is not None, out
                naive = float(found[2])
                rows.append(figure("naive script (not polite, no dedupe)", int(found[1]), naive,
                                   wall, tree, naive))
            rows.append(newsflow_run(server.feeds, "newsflow, default flags", [], naive,
                                     es_url, work))
            if not args.skip_off:
                rows.append(newsflow_run(server.feeds, "newsflow, politeness off",
                                         POLITENESS_OFF, naive, es_url, work))
        finally:
            server.stop()
    report(rows, args, host, requests, floor)
    return 0


def _local_node() -> str:
    from local import esnode

    return esnode.start().url


def report(rows: list[dict[str, Any]], args: argparse.Namespace, host: str, requests: int,
           floor: float) -> None:
    headers = ["run", "articles", "seconds", "articles/s", "× naive", "CPU s (tree)",
               "CPU use", "peak RSS (tree)"]
    body = [[r["run"], r["articles"], r["seconds"], r["articles_per_s"],
             r["vs_naive"] if r["vs_naive"] is not None else "", r["cpu_s"],
             f"{r['cpu_use']:.0%}", f"{r['peak_rss_mb']} MB"] for r in rows]
    text = table(headers, body)
    notes = (
        f"\nThe web: `build_bigsite.py` {args.stories} stories, copy rate {args.copy_rate}, "
        f"40 outlets each on its own loopback address (`HOSTS=1 serve_site.py`). Politeness "
        f"at the defaults sets a floor: the busiest host ({host}) takes {requests} requests "
        f"(robots.txt, its feeds, its pages), 0.25 s apart: {floor:.1f} s. Targets: default "
        f"flags ≥ {TARGET_RATE:.0f} articles/s and ≥ {TARGET_RATIO} × the naive script; "
        f"politeness off ≥ {TARGET_OFF_RATIO} ×; peak RSS of the tree ≤ {TARGET_RSS_MB} MB. "
        "CPU use is the tree's CPU over wall time and cores.\n")
    print(text + "\n" + notes)
    write_section(doc="performance", title="Batch end to end", markdown=text + "\n" + notes,
                  command="make bench")


if __name__ == "__main__":
    sys.exit(main())
