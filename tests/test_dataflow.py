"""The Dataflow flex template's options are valid and the ingest pipeline translates for Dataflow.

``deploy/dataflow/`` is not run here (it needs a Google Cloud project), so these tests do what
the template launcher does short of submitting: turn the launch into ``main.py``'s argv, parse
and validate it (Beam's Dataflow checks and ours), build the ingest pipeline with those options
and translate it the way ``DataflowRunner.run_pipeline`` does before it calls the Dataflow API.

apache-beam[gcp] is not installed (the image installs it, the project does not need it), so the
runner's own submission path, which imports ``apache_beam.runners.dataflow.internal.apiclient``
even for ``--dry_run``, cannot run: the translation steps before it are called one by one instead.
No network is used: Elasticsearch and the feeds are never contacted while building.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import (
    PipelineOptions,
    StandardOptions,
    WorkerOptions,
)
from apache_beam.options.pipeline_options_validator import PipelineOptionsValidator
from apache_beam.portability import common_urns
from apache_beam.portability.api import beam_runner_api_pb2
from apache_beam.runners.dataflow.dataflow_runner import DataflowRunner
from apache_beam.runners.portability.fn_api_runner import translations
from apache_beam.transforms import environments

from pipelines import pipeline
from pipelines.options import validate_all

DEPLOY = Path(__file__).resolve().parents[1] / "deploy" / "dataflow"
IMAGE = "europe-west1-docker.pkg.dev/my-project/newsflow/newsflow-dataflow:0.1.0"
BUCKET = "gs://my-bucket"

# What `gcloud dataflow flex-template run` (deploy/dataflow/launch.sh run) gives the launcher:
# Dataflow's own options, which the launcher passes to main.py before the template parameters.
DATAFLOW_ARGS = {
    "runner": "DataflowRunner",
    "project": "my-project",
    "region": "europe-west1",
    "staging_location": f"{BUCKET}/staging",
    "temp_location": f"{BUCKET}/temp",
    "job_name": "newsflow-20250101-000000",
}

# One valid value for every parameter of metadata.json, and what it parses to. A parameter added
# to metadata.json needs a line here, so this test keeps the template and the options in step.
# The secret files are local paths: they are read by the launcher with the local filesystem.
SAMPLES: dict[str, tuple[str, Any]] = {
    "feeds": ("{feeds}", "{feeds}"),
    "es_url": ("https://es.example:443", "https://es.example:443"),
    "es_index": ("news-eu", "news-eu"),
    "es_api_key_file": ("{secret}", "{secret}"),
    "es_username": ("newsflow", "newsflow"),
    "es_password_file": ("{secret}", "{secret}"),
    "streaming": ("true", True),
    "fetch_articles": ("false", "false"),
    "dedupe_horizon_hours": ("48.5", 48.5),
    "dead_letters": (f"{BUCKET}/newsflow/dead.jsonl", f"{BUCKET}/newsflow/dead.jsonl"),
    "per_host_concurrency": ("4", 4),
}


def template_main() -> ModuleType:
    """deploy/dataflow/main.py, the file the launcher runs, imported without running it."""
    spec = importlib.util.spec_from_file_location("newsflow_dataflow_main", DEPLOY / "main.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fill(value: Any, **paths: Path) -> Any:
    return value.format(**paths) if isinstance(value, str) else value


def metadata() -> dict[str, Any]:
    return json.loads((DEPLOY / "metadata.json").read_text())


@pytest.fixture
def feeds(tmp_path: Path) -> Path:
    path = tmp_path / "feeds.txt"  # the image's /template/feeds.txt
    path.write_text("https://news.example/feed.xml\nhttps://other.example/rss\n")
    return path


def launch_argv(feeds: Path, /, drop: str | None = None, **parameters: str) -> list[str]:
    """main.py's argv for ``launch.sh run`` with ``parameters``, without Dataflow's ``drop``."""
    params = {
        "feeds": str(feeds),
        "es_url": "https://es.example:443",
        "es_index": "news",
        "streaming": "false",
        "sdk_container_image": IMAGE,
        **parameters,
    }
    argv = [f"--{name}={value}" for name, value in DATAFLOW_ARGS.items() if name != drop]
    argv += [f"--{name}={value}" for name, value in params.items()]
    result: list[str] = template_main().template_argv(argv)
    return result


def test_template_options_pass_beams_dataflow_checks_and_ours(feeds: Path) -> None:
    options = PipelineOptions(launch_argv(feeds))
    validate_all(options)  # raises naming every bad value
    assert PipelineOptionsValidator(options, DataflowRunner()).validate() == []
    assert options.view_as(StandardOptions).runner == "DataflowRunner"
    assert options.view_as(StandardOptions).streaming is False  # streaming=false: no bare flag
    assert options.view_as(WorkerOptions).sdk_container_image == IMAGE
    assert pipeline.feed_urls(options) == [
        "https://news.example/feed.xml",
        "https://other.example/rss",
    ]


def test_ingest_pipeline_translates_for_dataflow_without_submitting(feeds: Path) -> None:
    """The steps of ``DataflowRunner.run_pipeline`` before its first Dataflow API call."""
    options = PipelineOptions(launch_argv(feeds, dead_letters=f"{BUCKET}/newsflow/dead.jsonl"))
    p = beam.Pipeline(options=options)  # validates the options for the runner it names
    runner = p.runner
    assert isinstance(runner, DataflowRunner)
    pipeline.build(p, options)

    # What the runner does to the graph: side inputs, combiners, its overrides, KV inputs to
    # every GroupByKey with deterministic key coders (a pickled key would fail here).
    p.visit(runner.combinefn_visitor())
    p.visit(runner.side_input_visitor(deterministic_key_coders=True))
    p.replace_all(DataflowRunner._PTRANSFORM_OVERRIDES)
    runner._adjust_pipeline_for_dataflow_v2(p)
    # The workers' environment: our image (apiclient.get_container_image_from_options returns
    # --sdk_container_image when it is set) with the submission environment's package list.
    environment = environments.DockerEnvironment.from_container_image(
        IMAGE, artifacts=environments.python_sdk_dependencies(options)
    )
    proto = p.to_runner_api(default_environment=environment)  # pickles every DoFn

    docker = common_urns.environments.DOCKER.urn
    images = set()
    for env in proto.components.environments.values():
        assert env.urn == docker
        images.add(beam_runner_api_pb2.DockerPayload.FromString(env.payload).container_image)
    assert images == {IMAGE}
    # The stable step labels a Dataflow UI shows.
    steps = {
        "Feed list",
        "Ingest feeds/Fetch feeds",
        "Ingest feeds/Parse feeds",
        "Ingest feeds/Normalise articles",
        "Ingest feeds/Dedupe articles",
        "Ingest feeds/Index stories",
        "Write dead letters",
    }
    assert steps <= {t.unique_name for t in proto.components.transforms.values()}
    # The graph is bounded, so the runner keeps batch mode (it infers streaming from unbounded).
    assert all(
        pc.is_bounded == beam_runner_api_pb2.IsBounded.BOUNDED
        for pc in proto.components.pcollections.values()
    )
    # The batch pre-optimisation the runner applies, and a round trip: every pickled DoFn
    # unpickles, as it must on a worker.
    translations.optimize_pipeline(
        proto,
        phases=[translations.pack_combiners, translations.sort_stages],
        known_runner_urns=frozenset(),
        partial=True,
    )
    restored = beam.Pipeline.from_runner_api(proto, runner, options).to_runner_api()
    assert steps <= {t.unique_name for t in restored.components.transforms.values()}


def test_every_template_parameter_is_a_pipeline_option(feeds: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cr3t\n")
    known = PipelineOptions([]).get_all_options(drop_default=False)
    parameters = metadata()["parameters"]
    names = [param["name"] for param in parameters]
    assert len(names) == len(set(names))
    assert set(names) <= set(known), "metadata.json parameters that no option reads"
    assert set(names) == set(SAMPLES)

    values = {}
    for param in parameters:
        name = param["name"]
        raw, parsed = (fill(s, feeds=feeds, secret=secret) for s in SAMPLES[name])
        for regex in param.get("regexes", []):
            assert re.fullmatch(regex, raw), f"{name}={raw} does not match {regex}"
        values[name] = (raw, parsed)

    # All of them at once, as the launcher passes them: every value parses to its option's type,
    # and our validation accepts them.
    options = PipelineOptions(launch_argv(feeds, **{n: raw for n, (raw, _) in values.items()}))
    got = options.get_all_options()
    for name, (_, parsed) in values.items():
        assert got[name] == parsed, name
    validate_all(options)
    assert PipelineOptionsValidator(options, DataflowRunner()).validate() == []


def test_template_streaming_parameter_becomes_beams_bare_flag() -> None:
    main = template_main()
    assert main.template_argv(["--streaming=true", "--es_index=x"]) == [
        "--streaming",
        "--es_index=x",
    ]
    assert main.template_argv(["--streaming=false"]) == []
    with pytest.raises(SystemExit, match="streaming must be true or false"):
        main.template_argv(["--streaming=maybe"])


@pytest.mark.parametrize("missing", ["project", "region"])
def test_a_missing_dataflow_option_is_named_before_anything_is_built(
    feeds: Path, missing: str
) -> None:
    options = PipelineOptions(launch_argv(feeds, drop=missing))
    errors = PipelineOptionsValidator(options, DataflowRunner()).validate()
    assert errors == [f"Missing required option: {missing}."]
    with pytest.raises(ValueError, match=f"Missing required option: {missing}"):
        beam.Pipeline(options=options)


def test_a_bad_template_parameter_is_named_by_our_validation(tmp_path: Path) -> None:
    # dedupe_horizon_hours=0 passes metadata.json's pattern; validate_all names it at launch.
    options = PipelineOptions(
        launch_argv(tmp_path / "missing.txt", dedupe_horizon_hours="0", es_batch_size="0")
    )
    with pytest.raises(ValueError) as raised:
        validate_all(options)
    message = str(raised.value)
    assert "missing.txt: no such file" in message
    assert "--dedupe_horizon_hours must be positive" in message
    assert "--es_batch_size must be at least 1" in message
