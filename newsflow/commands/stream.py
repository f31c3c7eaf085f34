"""`newsflow ingest --streaming`: run the streaming job until stopped or for ``--duration``.

``run_streaming(argv)`` takes the same flags as ``newsflow ingest`` plus ``StreamOptions``
(``--poll_interval``, ``--min_poll_interval``, ``--max_poll_interval``, ``--duration``,
``--dedupe_window``). Without ``--runner`` the job runs on Prism (``runners.local_runner_args``),
which really streams. SIGINT or SIGTERM drains it: a stop file is created, the polling source
sees it at its next tick and finishes, the watermark reaches the end of time, every open window
fires and is indexed, and the job ends on its own (a second signal cancels at once). Progress and
freshness lines go to standard error while it runs; a summary ends it.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

__all__ = ["run_streaming", "stream"]


def _distribution(result: Any, name: str) -> tuple[int, float, int, int]:
    """(count, mean, min, max) of a Distribution summed over steps; zeros when absent."""
    count = total = 0
    low, high = 0, 0
    try:
        found = result.metrics().query()["distributions"]
    except Exception:  # noqa: BLE001 - a runner without metrics: report none
        return 0, 0.0, 0, 0
    for dist in found:
        if dist.key.metric.name != name:
            continue
        data = dist.committed if dist.committed is not None else dist.attempted
        if data is None or not data.count:
            continue
        low = data.min if not count else min(low, data.min)
        high = max(high, data.max)
        count += data.count
        total += data.sum
    return count, (total / count if count else 0.0), low, high


def run_streaming(argv: list[str], *, quiet: bool = False) -> int:
    """Parse ``argv``, run the streaming job until drained; return the exit status."""
    outcome = stream(argv, quiet=quiet)
    if outcome is None:
        return 1
    summary, freshness = outcome
    if not quiet:
        lines = summary.lines()
        count, mean, low, high = freshness
        lines.append(f"{'freshness (ms)':<28}{mean:>8.0f}  mean of {count}, min {low}, max {high}")
        print("\n".join(lines))
    state = summary.counters.get("_state", 0)
    return 0 if state == 0 and summary.counters.get("docs_failed", 0) == 0 else 1


def stream(
    argv: list[str],
    *,
    quiet: bool = False,
    stop_file: str | None = None,
) -> tuple[Any, tuple[int, float, int, int]] | None:
    """Run the streaming job; (Summary, freshness (count, mean, min, max)) once it has ended,
    None (after one message) when it could not start. ``stop_file``: drain when it appears
    (default: a private temporary path that SIGINT/SIGTERM create)."""
    import apache_beam as beam
    from apache_beam.runners.runner import PipelineState

    from newsflow.commands.ingest import Summary, counters_of, prepare
    from pipelines import runners
    from pipelines.stream import StreamOptions, build_streaming

    runners.quiet_runner_logs()
    run = prepare(argv, streaming=True,
                  extra_errors=lambda options: options.view_as(StreamOptions).validate())
    if run is None:
        return None
    options, config, dead_path = run.options, run.config, run.dead_path

    own_stop = stop_file is None
    if stop_file is None:
        stop_file = os.path.join(tempfile.mkdtemp(prefix="newsflow-stream-"), "stop")
    Path(stop_file).unlink(missing_ok=True)
    stream_options = options.view_as(StreamOptions)
    if not quiet:
        until = f"for {stream_options.duration:.0f} s" if stream_options.duration else \
            "until stopped (Ctrl-C drains)"
        print(f"streaming into {config.url} (alias {config.index}), polling every "
              f"{stream_options.poll_interval:g} s, {until}", file=sys.stderr)

    p = beam.Pipeline(options=options)
    build_streaming(p, options, stop_file=stop_file, progress=not quiet)
    started = time.monotonic()
    result = p.run()

    signals = {"count": 0}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        signals["count"] += 1
        if signals["count"] == 1:
            Path(stop_file).touch()
            if not quiet:
                print("draining: polling stops at the next tick, open windows flush "
                      "(signal again to cancel)", file=sys.stderr)
        else:
            try:
                result.cancel()
            except Exception:  # noqa: BLE001 - already ending
                pass

    previous: dict[signal.Signals, Any] = {}
    in_main = threading.current_thread() is threading.main_thread()
    if in_main:
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, on_signal)
    waiter = threading.Thread(target=result.wait_until_finish, name="stream-wait", daemon=True)
    waiter.start()
    try:
        while waiter.is_alive():
            waiter.join(0.5)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if own_stop:
            Path(stop_file).unlink(missing_ok=True)
            Path(stop_file).parent.rmdir()
    elapsed = time.monotonic() - started
    counters = counters_of(result)
    counters["_state"] = 0 if result.state == PipelineState.DONE else 1
    dead = run.count_dead_letters()
    summary = Summary(counters, dead, str(dead_path), elapsed, run.runner)
    return summary, _distribution(result, "freshness_ms")
