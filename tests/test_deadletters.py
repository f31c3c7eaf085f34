"""Dead letters leave a job through Beam's file IO: one file in batch, a file per window in
streaming (for real on Prism), and `newsflow deadletters` reads either."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.transforms.periodicsequence import PeriodicImpulse
from apache_beam.transforms.window import FixedWindows

from newsflow import es
from newsflow.cli import main
from newsflow.commands.deadletters import load
from pipelines import launcher, runners
from schemas.records import Failure
from transforms.deadletters import WriteDeadLetters


def _failure(n: int) -> Failure:
    return Failure(step="fetch", input=f"http://feeds.example/{n}", error_type="timeout",
                   message="read timed out", transient=True, at=datetime(2024, 3, 5, tzinfo=UTC),
                   context={"feed_url": f"http://feeds.example/{n}"})


def test_a_batch_job_writes_one_file(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    with TestPipeline() as p:
        _ = p | beam.Create([_failure(n) for n in range(3)]) | WriteDeadLetters(
            str(path), streaming=False)
    assert sorted(r["input"] for r in load(path)) == [f"http://feeds.example/{n}"
                                                      for n in range(3)]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_streaming_job_writes_a_file_per_window_that_list_reads(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "stream"
    options = PipelineOptions(runners.local_runner_args(streaming=True))
    start = datetime.now(UTC).timestamp()
    with TestPipeline(options=options) as p:
        _ = (p
             | PeriodicImpulse(start_timestamp=start, stop_timestamp=start + 6,
                               fire_interval=1)
             | beam.WindowInto(FixedWindows(2))
             | beam.Map(lambda t: _failure(int(t)))
             | WriteDeadLetters(str(folder), streaming=True))
    files = sorted(folder.glob("*.jsonl"))
    assert len(files) >= 2  # several windows, a file each
    records = load(folder)
    assert len(records) == 6 and {r["step"] for r in records} == {"fetch"}
    assert main(["deadletters", "list", "--path", str(folder)]) == 0
    assert "6 dead letters" in capsys.readouterr().out


def test_a_job_whose_workers_are_elsewhere_needs_a_dead_letter_path(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds.txt"
    feeds.write_text("http://feeds.example/rss\n")
    with pytest.raises(launcher.LaunchError, match="--dead_letters"):
        launcher.prepare(["--feeds", str(feeds), "--runner", "DataflowRunner", "--project", "p",
                          "--region", "r", "--temp_location", "gs://b/t"], check_cluster=False)
    job = launcher.prepare(["--feeds", str(feeds), "--runner", "DataflowRunner", "--project",
                            "p", "--region", "r", "--temp_location", "gs://b/t",
                            "--dead_letters", "gs://b/dead/run.jsonl"], check_cluster=False)
    assert job.dead_letters == "gs://b/dead/run.jsonl"


def test_retry_writes_again_the_stories_that_could_not_be_indexed(
        es_config: es.EsConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import orjson

    from schemas.records import Copy, Story

    story = Story(story_id="story-1", url="https://news.example/a", title="Tram line opens",
                  body="The tram line opened on Saturday.", source="news.example",
                  copies=[Copy(url="https://news.example/a", source="news.example")],
                  copy_count=1)
    refused = Failure(step="index", input=story.story_id, error_type="no_response",
                      message="connection refused", transient=True,
                      at=datetime(2024, 3, 5, tzinfo=UTC),
                      context={"url": story.url, "document": orjson.loads(story.to_json())})
    dead = tmp_path / "run.jsonl"
    dead.write_bytes(orjson.dumps(refused.to_dict()) + b"\n")
    monkeypatch.chdir(tmp_path)
    assert main(["deadletters", "retry", "--path", str(dead), "--es_url", es_config.url,
                 "--es_index", es_config.index]) == 0
    es.refresh(es_config)
    [hit] = es.search(es_config, "tram")["hits"]
    assert hit["story_id"] == "story-1" and hit["copy_count"] == 1
