"""The runners newsflow relies on really work here: Prism streams, Flink agrees with local.

These tests set their runners up themselves (the first run builds Prism with Go and fetches the
Flink job server with Maven, a few minutes; both are cached), hence the long timeouts. Once cached,
each test takes seconds (Prism) to about twenty seconds (Flink).
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms import window
from apache_beam.transforms.periodicsequence import PeriodicImpulse

import local.prism
from pipelines import runners

SETUP_TIMEOUT = 900  # seconds: a cold Go build of Prism takes ~4 minutes on 2 cores


@pytest.fixture(scope="session")
def prism() -> Path:
    return local.prism.ensure_prism()


@pytest.fixture(scope="session")
def flink_args() -> list[str]:
    return runners.flink_runner_args()


@pytest.mark.timeout(SETUP_TIMEOUT)
def test_ensure_prism_returns_an_executable_built_from_the_matching_beam_module(
    prism: Path,
) -> None:
    assert prism.is_file()
    assert os.access(prism, os.X_OK)
    build_info = subprocess.run(
        ["go", "version", "-m", str(prism)], capture_output=True, text=True, check=True
    ).stdout
    assert f"github.com/apache/beam/sdks/v2\tv{local.prism.beam_version()}" in build_info
    assert local.prism.ensure_prism() == prism  # cached: the same path, no rebuild


def test_go_module_version_maps_beam_releases_and_refuses_dev_builds() -> None:
    assert local.prism._go_module_version("2.77.0") == "v2.77.0"
    assert local.prism._go_module_version("2.77.0rc2") == "v2.77.0-RC2"
    with pytest.raises(ValueError, match="2.78.0.dev0"):
        local.prism._go_module_version("2.78.0.dev0")


def test_ensure_prism_without_go_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSFLOW_CACHE", str(tmp_path))
    monkeypatch.setattr(local.prism.shutil, "which", lambda name: None)
    with pytest.raises(local.prism.RunnerSetupError, match="install Go"):
        local.prism.ensure_prism("2.77.0")


def test_flink_against_a_running_job_server_fetches_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSFLOW_CACHE", str(tmp_path))
    args = runners.flink_runner_args(job_endpoint="jobserver:8099")
    assert args == [
        "--runner=PortableRunner",
        "--job_endpoint=jobserver:8099",
        "--environment_type=EXTERNAL",
        "--environment_config=127.0.0.1:50000",
    ]
    assert list(tmp_path.iterdir()) == []


def test_local_batch_runs_on_the_fnapi_runner_without_prism() -> None:
    args = runners.local_runner_args(streaming=False)
    assert "--runner=FnApiRunner" in args
    assert not any(arg.startswith("--prism") for arg in args)
    assert "--streaming" not in args


# Shared by the pipeline below and this test: Prism's LOOPBACK workers run in this process.
_FIRST_WINDOW_OUT = threading.Event()
_LAST_WINDOW_TICKED = threading.Event()


class _HoldLastWindow(beam.DoFn):
    """Holds each tick of the last window until the first window's count has come out of the
    GroupByKey (60 s at most), then notes that a tick of the last window went by."""

    def __init__(self, last_window_opens: int) -> None:
        self._opens = last_window_opens

    def process(self, tick: Any, timestamp: Any = beam.DoFn.TimestampParam) -> Any:
        if timestamp >= self._opens:
            _FIRST_WINDOW_OUT.wait(60)
            _LAST_WINDOW_TICKED.set()
        yield "tick", 1


@pytest.mark.slow
@pytest.mark.timeout(SETUP_TIMEOUT)
def test_prism_emits_each_window_before_the_source_ends(prism: Path) -> None:
    """Fixed 2 s windows over a 10 s PeriodicImpulse: five windows of four ticks each.

    The ticks of the last window are held until the first window's count comes out, and that
    count is stamped with whether a tick of the last window had gone by. A runner that is batch
    underneath (the FnApiRunner, even with --streaming) groups only once the source has ended,
    so the hold runs out and the stamp says False; a streaming runner emits the first window
    while the source still waits for its later ticks, however slowly the machine runs. The
    impulse starts 10 s ahead, so the job is up before its first tick (a source that starts
    late replays its past ticks at once, in one bundle with the held ones).
    """
    window_size, interval, ticks_per_window, windows = 2, 0.5, 4, 5
    start = (int(time.time()) // window_size + 5) * window_size  # aligned, so counts are exact
    stop = start + windows * window_size
    _FIRST_WINDOW_OUT.clear()
    _LAST_WINDOW_TICKED.clear()

    def stamp(element: tuple[str, int], win: Any = beam.DoFn.WindowParam) -> tuple:
        offset = int(win.start) - start
        early = None
        if offset == 0:
            early = not _LAST_WINDOW_TICKED.is_set()
            _FIRST_WINDOW_OUT.set()
        return offset, element[1], early

    options = PipelineOptions(runners.local_runner_args(streaming=True))
    with test_pipeline.TestPipeline(options=options) as p:
        per_window = (
            p
            | PeriodicImpulse(start_timestamp=start, stop_timestamp=stop, fire_interval=interval)
            | beam.ParDo(_HoldLastWindow(stop - window_size))
            | beam.WindowInto(window.FixedWindows(window_size))
            | beam.GroupByKey()
            | beam.MapTuple(lambda key, ones: (key, sum(ones)))
            | beam.Map(stamp)
        )
        assert_that(
            per_window,
            equal_to(
                [(0, ticks_per_window, True)]
                + [(w * window_size, ticks_per_window, None) for w in range(1, windows)]
            ),
            label="per-window counts",
        )


class _Classify(beam.DoFn):
    """Sends multiples of seven to ``dead_letter``, keys the rest by their remainder mod 3."""

    def process(self, number: int, excluded: list[int]):
        if number % 7 == 0:
            yield beam.pvalue.TaggedOutput("dead_letter", number)
        elif number not in excluded:
            yield f"k{number % 3}", number


def _expected(numbers: range, excluded: list[int]) -> tuple[list, list, list]:
    kept = [n for n in numbers if n % 7 and n not in excluded]
    sums = [(f"k{r}", sum(n for n in kept if n % 3 == r)) for r in range(3)]
    groups = [(f"k{r}", sorted(n for n in kept if n % 3 == r)) for r in range(3)]
    return sums, groups, [n for n in numbers if n % 7 == 0]


@pytest.mark.slow
@pytest.mark.timeout(SETUP_TIMEOUT)
@pytest.mark.parametrize("runner", ["local", "flink"])
def test_batch_pipeline_gives_the_same_output_locally_and_on_embedded_flink(
    runner: str, request: pytest.FixtureRequest
) -> None:
    """Reshuffle, a side input, tagged outputs, CombinePerKey and GroupByKey on both runners."""
    if runner == "flink":
        args = request.getfixturevalue("flink_args")
    else:
        args = runners.local_runner_args(streaming=False)
    numbers, excluded = range(100), [1, 2]
    sums, groups, dead = _expected(numbers, excluded)
    with test_pipeline.TestPipeline(options=PipelineOptions(args)) as p:
        stop = p | "Excluded" >> beam.Create(excluded)
        classified = (
            p
            | "Numbers" >> beam.Create(list(numbers))
            | beam.Reshuffle()
            | beam.ParDo(_Classify(), excluded=beam.pvalue.AsList(stop)).with_outputs(
                "dead_letter", main="main"
            )
        )
        kept = classified.main
        assert_that(kept | beam.CombinePerKey(sum), equal_to(sums), label="sums")
        assert_that(
            kept | beam.GroupByKey() | beam.MapTuple(lambda k, v: (k, sorted(v))),
            equal_to(groups),
            label="groups",
        )
        assert_that(classified.dead_letter, equal_to(dead), label="dead letters")


def test_runner_flags_as_newsflow_ingest_understands_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runners, "flink_runner_args", lambda master=None: [f"FLINK:{master}"])
    local = runners.resolve_runner_args(["--feeds", "f.txt"], streaming=False)
    # A streaming job's client waits for the job as long as it runs, not Beam's default 300 s;
    # a user's own timeout is kept.
    [timeout] = [a for a in runners.resolve_runner_args([], streaming=True)
                 if a.startswith("--job_server_timeout=")]
    assert runners.resolve_runner_args(["--job_server_timeout=60"], streaming=True).count(
        "--job_server_timeout=60") == 1
    assert not any("job_server_timeout" in a for a in local)
    assert local == ["--feeds", "f.txt", *runners.local_runner_args(streaming=False)]
    assert runners.resolve_runner_args(["--runner", "flink"], streaming=False) == ["FLINK:None"]
    assert runners.resolve_runner_args(
        ["--runner=Flink", "--flink_master", "jm:8081", "-x"], streaming=True
    ) == ["-x", timeout, "FLINK:jm:8081", "--streaming"]
    assert runners.resolve_runner_args(
        ["--runner=DataflowRunner", "--project=p"], streaming=False
    ) == ["--project=p", "--runner=DataflowRunner"]


@pytest.mark.parametrize(("flag", "runner", "expected"), [
    ("auto", "FnApiRunner", True),
    ("auto", None, True),
    ("auto", "DataflowRunner", False),
    ("auto", "PortableRunner", False),
    ("true", "DataflowRunner", True),
    ("false", "FnApiRunner", False),
])
def test_batch_dedupe_runs_in_one_worker_on_this_machine_only(
    flag: str, runner: str | None, expected: bool
) -> None:
    from pipelines.options import DedupeOptions

    output = PipelineOptions(["--dedupe_in_memory", flag]).view_as(DedupeOptions)
    assert output.dedupe_in_one_worker(runner) is expected
