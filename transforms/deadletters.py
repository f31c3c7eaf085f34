"""WriteDeadLetters: every failed record as a JSON line, where a user can read it.

The one place dead letters leave a job, through Beam's file IO, so any filesystem Beam writes
works (a local path, ``gs://...`` on Dataflow). A batch job writes one file at its end
(``WriteToText``, one shard). A streaming job never ends: it writes a file per window of
failures into the folder ``path`` (``fileio.WriteToFiles``), each file complete when its window
closes. ``newsflow deadletters`` reads either.
"""

from __future__ import annotations

from typing import Any

import apache_beam as beam
import orjson
from apache_beam.io import fileio

from schemas.records import Failure

__all__ = ["WriteDeadLetters"]


class WriteDeadLetters(beam.PTransform):
    """Write ``Failure`` records to ``path`` as JSON lines (``Failure.to_dict()``).

    Input: ``PCollection[Failure]``: batch in any windowing; streaming in windows that close
    (the job's arrival windows). Output: none (``PDone``-like). No counters: the files are the
    record. Batch: ``path`` is a file. Streaming: ``path`` is a folder of
    ``deadletters-<window>-<pane>-<shard>.jsonl`` files.
    """

    def __init__(self, path: str, *, streaming: bool) -> None:
        super().__init__()
        if not path:
            raise ValueError("WriteDeadLetters needs a path")
        self._path = path
        self._streaming = streaming

    def expand(self, failures: beam.PCollection[Failure]) -> Any:
        lines = failures | "To JSON" >> beam.Map(lambda f: orjson.dumps(f.to_dict()).decode())
        if self._streaming:
            return lines | "Write a file per window" >> fileio.WriteToFiles(
                path=self._path, shards=1,
                file_naming=fileio.default_file_naming("deadletters", ".jsonl"))
        return lines | "Write" >> beam.io.WriteToText(
            self._path, shard_name_template="", num_shards=1)
