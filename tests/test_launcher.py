"""The launcher's front door: flags listed, unknown ones refused before any work, one core for
batch and streaming, and flags a mode cannot honour refused."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.pipeline import AppliedPTransform, PipelineVisitor

from pipelines import launcher, pipeline
from pipelines.options import OPTION_CLASSES, unknown_flags, validate_all
from tests.loopback import LoopbackServer
from transforms.ingest import IngestFeeds

ROOT = Path(__file__).resolve().parents[1]
NEWSFLOW = str(Path(sys.executable).with_name("newsflow"))


def our_flags() -> list[argparse.Action]:
    parser = argparse.ArgumentParser()
    for cls in OPTION_CLASSES:
        cls._add_argparse_args(parser)  # type: ignore[arg-type]
    return [a for a in parser._actions if a.option_strings and a.dest != "help"]


def shell(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.mark.parametrize("command", [[NEWSFLOW, "ingest"],
                                     [sys.executable, "-m", "pipelines.ingest"]])
def test_help_lists_every_job_flag_grouped_by_concern_with_its_default(
    command: list[str],
) -> None:
    done = shell(*command, "--help")
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())  # unwrapped
    for title in ("feeds:", "articles:", "http:", "dedupe:", "elasticsearch:", "dead letters:",
                  "streaming (with --streaming):", "runner:"):
        assert title in text
    for action in our_flags():
        flag = action.option_strings[0]
        assert flag in text
        if action.default not in (None, False, []):
            entry = text[text.index(flag):]
            following = re.search(r" --[a-z]", entry[len(flag):])
            entry = entry[: following.start() + len(flag)] if following else entry
            assert "default" in entry and str(action.default).split(".")[0] in entry, entry
    assert "--per_host_delay SECONDS least seconds between two requests to one host " \
           "(default: 0.25)" in text


def test_a_misspelt_flag_is_refused_by_name_before_anything_is_contacted(
    loopback: LoopbackServer,
) -> None:
    flags = ["--feed_url", loopback.url("/feed.xml"), "--es_url", loopback.base_url,
             "--fetch_articles", "false"]
    refused = shell(NEWSFLOW, "ingest", "--per_host_dealy", "1", *flags)
    assert refused.returncode != 0
    assert "unknown flag --per_host_dealy (did you mean --per_host_delay?)" in refused.stderr
    assert loopback.requests == []
    # The same command spelt right does reach out (here to a server that is no Elasticsearch).
    tried = shell(NEWSFLOW, "ingest", "--per_host_delay", "1", *flags)
    assert tried.returncode != 0
    assert loopback.requests != []


def test_beams_own_flags_pass_and_dead_flags_are_gone() -> None:
    assert unknown_flags([
        "--runner", "flink", "--flink_master=jm:8081", "--parallelism", "2", "--streaming",
        "--project", "p", "--region", "europe-west1", "--job_endpoint=jobserver:8099",
        "--environment_type=EXTERNAL", "--temp_location=gs://b", "--feeds", "f.txt",
        "--dedupe_horizon_hours", "48",
    ]) == []
    assert unknown_flags(["--dead_letter_index", "dead", "stray"]) == [
        "unknown flag --dead_letter_index (did you mean --dead_letters?)",
        "unexpected argument 'stray'"]


def test_a_job_services_own_flags_pass_on_its_runner_only() -> None:
    # deploy/flink passes --checkpointing_interval, which Flink's job server knows, not Python.
    flink = ["--runner=PortableRunner", "--job_endpoint=jobserver:8099"]
    assert unknown_flags([*flink, "--checkpointing_interval=60000"]) == []
    assert unknown_flags(["--runner", "flink", "--checkpointing_interval", "60000"]) == []
    assert unknown_flags(["--checkpointing_interval=60000"]) == [
        "unknown flag --checkpointing_interval (did you mean --poll_interval?)"]
    # A misspelt flag is refused on any runner.
    assert unknown_flags([*flink, "--per_host_dealy", "1"]) == [
        "unknown flag --per_host_dealy (did you mean --per_host_delay?)"]


@pytest.mark.parametrize(("argv", "message", "honoured"), [
    (["--poll_interval", "5", "--duration=60"],
     ["--duration applies to the streaming job only (add --streaming)",
      "--poll_interval applies to the streaming job only (add --streaming)"],
     ["--poll_interval", "5", "--duration=60", "--streaming"]),
    (["--dedupe_window", "30"],
     ["--dedupe_window applies to the streaming job only (add --streaming)"],
     ["--dedupe_window", "30", "--streaming", "--feed_state", "false"]),
])
def test_flags_a_mode_cannot_honour_are_refused(
    argv: list[str], message: list[str], honoured: list[str]
) -> None:
    with pytest.raises(ValueError) as raised:
        validate_all(PipelineOptions(["--feed_url", "http://x.test/f", *argv]))
    assert str(raised.value).splitlines()[1:] == [f"  {line}" for line in message]
    validate_all(PipelineOptions(["--feed_url", "http://x.test/f", *honoured]))


class _Cores(PipelineVisitor):  # type: ignore[misc]
    def __init__(self) -> None:
        self.found: list[tuple[str, IngestFeeds]] = []

    def enter_composite_transform(self, node: AppliedPTransform) -> None:
        if isinstance(node.transform, IngestFeeds):
            self.found.append((node.full_label, node.transform))


def core_of(argv: list[str]) -> dict[str, Any]:
    options = PipelineOptions(["--feed_url", "http://x.test/f", "--es_url", "http://es.test:9200",
                               "--dead_letters", "/tmp/never-written.jsonl", *argv])
    p = beam.Pipeline(options=options)
    pipeline.build(p, options)
    visitor = _Cores()
    p.visit(visitor)
    ((label, core),) = visitor.found
    dedupe = core._dedupe
    return {"label": label, "horizon": dedupe._rules.horizon.total_seconds() / 3600,
            "state": core._state is not None, "seen_in_run": core._parse._seen_in_run,
            "in_memory": dedupe._in_memory,
            "fetch_pages": core._normalise._fn._fetch_pages,
            "timeout": core._fetch._config.read_timeout}


def test_batch_and_streaming_apply_one_core_and_every_flag_reaches_it() -> None:
    flags = ["--dedupe_horizon_hours", "5", "--fetch_articles", "false", "--http_timeout", "3",
             "--dedupe_in_memory", "true", "--runner", "DirectRunner"]
    batch = core_of([*flags, "--feed_state", "false"])
    streaming = core_of([*flags, "--streaming"])
    assert batch == {"label": "Ingest feeds", "horizon": 5.0, "state": False,
                     "seen_in_run": False, "in_memory": True, "fetch_pages": False,
                     "timeout": 3.0}
    assert streaming == {**batch, "state": True}
    # Without feed state a streaming job still skips what it emitted earlier in the run.
    assert core_of([*flags, "--streaming", "--feed_state", "false"]) == {
        **batch, "seen_in_run": True}


def test_a_template_launch_reaches_no_cluster(loopback: LoopbackServer, tmp_path: Path) -> None:
    feeds = tmp_path / "feeds.txt"
    feeds.write_text(loopback.url("/feed.xml") + "\n")
    job = launcher.prepare(["--feeds", str(feeds), "--es_url", loopback.base_url,
                            "--runner", "DirectRunner"], check_cluster=False)
    assert job.urls == [loopback.url("/feed.xml")]
    assert loopback.requests == []
